// The per-type dispatch tables: built once (constant-initialized), looked up
// once per tensor by the engine.
#include <array>
#include <cassert>

#include "quant/quant.h"
#include "quant/quant_internal.h"

namespace laneway {
namespace {

using namespace quant_detail;

template <DequantizeRowFn kDequantize, int64_t kBlockSize, int64_t kBlockBytes>
float vec_dot_f32_of(const void* w, const float* x, int64_t n) {
  return vec_dot_f32_generic(kDequantize, kBlockSize, kBlockBytes, w, x, n);
}

// Block geometry is spelled out so the tables stay constant-initialized;
// blocks_test.cpp (QuantOps.TablesMatchTheTypeTable) checks it against
// ggml_type_traits.
template <DequantizeRowFn kDequantize, int64_t kBlockSize, int64_t kBlockBytes>
constexpr QuantOps make_ops(GgmlType type, QuantizeRowFn quantize, GgmlType dot_type, VecDotQFn dot_q) {
  return {type, kBlockSize, kBlockBytes, kDequantize, quantize, vec_dot_f32_of<kDequantize, kBlockSize, kBlockBytes>,
          dot_type, dot_q};
}

constexpr GgmlType kF32 = GgmlType::f32;

constexpr std::array kOps = {
    make_ops<dequantize_f32, 1, 4>(GgmlType::f32, quantize_f32, kF32, nullptr),
    make_ops<dequantize_f16, 1, 2>(GgmlType::f16, quantize_f16, kF32, nullptr),
    make_ops<dequantize_bf16, 1, 2>(GgmlType::bf16, quantize_bf16, kF32, nullptr),
    make_ops<dequantize_q4_0, 32, sizeof(BlockQ4_0)>(GgmlType::q4_0, quantize_q4_0, GgmlType::q8_0, vec_dot_q4_0_q8_0),
    make_ops<dequantize_q4_1, 32, sizeof(BlockQ4_1)>(GgmlType::q4_1, quantize_q4_1, GgmlType::q8_0, vec_dot_q4_1_q8_0),
    make_ops<dequantize_q5_0, 32, sizeof(BlockQ5_0)>(GgmlType::q5_0, quantize_q5_0, GgmlType::q8_0, vec_dot_q5_0_q8_0),
    make_ops<dequantize_q5_1, 32, sizeof(BlockQ5_1)>(GgmlType::q5_1, quantize_q5_1, GgmlType::q8_0, vec_dot_q5_1_q8_0),
    make_ops<dequantize_q8_0, 32, sizeof(BlockQ8_0)>(GgmlType::q8_0, quantize_q8_0, GgmlType::q8_0, vec_dot_q8_0_q8_0),
    make_ops<dequantize_q2_k, 256, sizeof(BlockQ2_K)>(GgmlType::q2_k, quantize_q2_k, GgmlType::q8_k, vec_dot_q2_k_q8_k),
    make_ops<dequantize_q3_k, 256, sizeof(BlockQ3_K)>(GgmlType::q3_k, quantize_q3_k, GgmlType::q8_k, vec_dot_q3_k_q8_k),
    make_ops<dequantize_q4_k, 256, sizeof(BlockQ4_K)>(GgmlType::q4_k, quantize_q4_k, GgmlType::q8_k, vec_dot_q4_k_q8_k),
    make_ops<dequantize_q5_k, 256, sizeof(BlockQ5_K)>(GgmlType::q5_k, quantize_q5_k, GgmlType::q8_k, vec_dot_q5_k_q8_k),
    make_ops<dequantize_q6_k, 256, sizeof(BlockQ6_K)>(GgmlType::q6_k, quantize_q6_k, GgmlType::q8_k, vec_dot_q6_k_q8_k),
    make_ops<dequantize_q8_k, 256, sizeof(BlockQ8_K)>(GgmlType::q8_k, quantize_q8_k, kF32, nullptr),
};

}  // namespace

const QuantOps* quant_ops_find(GgmlType type) {
  for (const QuantOps& ops : kOps) {
    if (ops.type == type) return &ops;
  }
  return nullptr;
}

const QuantOps& quant_ops(GgmlType type) {
  const QuantOps* ops = quant_ops_find(type);
  assert(ops != nullptr && "quant_ops: type not implemented (check quant_ops_find first)");
  return *ops;
}

bool quant_can_dequantize(GgmlType type) { return quant_ops_find(type) != nullptr; }
bool quant_can_quantize(GgmlType type) { return quant_ops_find(type) != nullptr; }

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
  quant_ops(type).dequantize_row(src, dst, n);
}

void quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
  quant_ops(type).quantize_row(src, dst, n);
}

}  // namespace laneway
