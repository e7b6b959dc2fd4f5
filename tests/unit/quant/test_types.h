// Shared helpers for the quant unit tests.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gguf/types.h"
#include "quant/quant.h"

namespace laneway::test {

// Every type quantize_row/dequantize_row handle, weights and activations.
inline const std::vector<GgmlType>& quant_test_types() {
  static const std::vector<GgmlType> types = {
      GgmlType::f32,  GgmlType::f16,  GgmlType::bf16, GgmlType::q4_0, GgmlType::q4_1,
      GgmlType::q5_0, GgmlType::q5_1, GgmlType::q8_0, GgmlType::q2_k, GgmlType::q3_k,
      GgmlType::q4_k, GgmlType::q5_k, GgmlType::q6_k, GgmlType::q8_k};
  return types;
}

// The block formats among them (not the per-element float types).
inline std::vector<GgmlType> quant_block_types() {
  std::vector<GgmlType> out;
  for (GgmlType t : quant_test_types()) {
    if (ggml_type_traits(t).quantized) out.push_back(t);
  }
  return out;
}

// The types with an integer dot product on quantized activations.
inline std::vector<GgmlType> quant_vec_dot_q_types() {
  std::vector<GgmlType> out;
  for (GgmlType t : quant_test_types()) {
    if (quant_ops(t).vec_dot_q != nullptr) out.push_back(t);
  }
  return out;
}

inline std::string type_test_name(GgmlType t) { return std::string(ggml_type_name(t)); }

inline std::vector<float> gaussian(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

inline std::vector<uint8_t> quantized(GgmlType t, const std::vector<float>& x) {
  const QuantOps& ops = quant_ops(t);
  std::vector<uint8_t> q(static_cast<size_t>(static_cast<int64_t>(x.size()) / ops.block_size * ops.block_bytes));
  ops.quantize_row(x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}

inline std::vector<float> dequantized(GgmlType t, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  quant_ops(t).dequantize_row(q.data(), y.data(), n);
  return y;
}

}  // namespace laneway::test
