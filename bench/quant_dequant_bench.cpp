// Dequantization (and quantization) throughput of the scalar references,
// per type. Reports bytes/s of *encoded* input read (GB/s in the output)
// and items/s as elements decoded.
//   build/quant/bench/quant_dequant_bench --benchmark_min_time=0.2
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "quant/quant.h"

namespace laneway {
namespace {

// 1 MiB-ish of f32 output per call: one long row, like a tile of weights.
constexpr int64_t kElements = 256 * 1024;

std::vector<float> gaussian(int64_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

void bm_dequantize(benchmark::State& state, GgmlType type) {
  const QuantOps& ops = quant_ops(type);
  const auto x = gaussian(kElements);
  std::vector<uint8_t> q(static_cast<size_t>(kElements / ops.block_size * ops.block_bytes));
  ops.quantize_row(x.data(), q.data(), kElements);
  std::vector<float> y(static_cast<size_t>(kElements));
  for (auto _ : state) {
    ops.dequantize_row(q.data(), y.data(), kElements);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(q.size()));
  state.SetItemsProcessed(state.iterations() * kElements);
}

void bm_quantize(benchmark::State& state, GgmlType type) {
  const QuantOps& ops = quant_ops(type);
  const int64_t n = kElements / 16;  // the k-quant searches are slow; keep runs short
  const auto x = gaussian(n);
  std::vector<uint8_t> q(static_cast<size_t>(n / ops.block_size * ops.block_bytes));
  for (auto _ : state) {
    ops.quantize_row(x.data(), q.data(), n);
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * n * static_cast<int64_t>(sizeof(float)));
  state.SetItemsProcessed(state.iterations() * n);
}

void bm_vec_dot_f32(benchmark::State& state, GgmlType type) {
  const QuantOps& ops = quant_ops(type);
  const int64_t n = 4096;
  const auto w = gaussian(n), x = gaussian(n);
  std::vector<uint8_t> q(static_cast<size_t>(n / ops.block_size * ops.block_bytes));
  ops.quantize_row(w.data(), q.data(), n);
  for (auto _ : state) benchmark::DoNotOptimize(ops.vec_dot_f32(q.data(), x.data(), n));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(q.size()));
}

const GgmlType kTypes[] = {GgmlType::f32,  GgmlType::f16,  GgmlType::bf16, GgmlType::q4_0, GgmlType::q4_1,
                           GgmlType::q5_0, GgmlType::q5_1, GgmlType::q8_0, GgmlType::q2_k, GgmlType::q3_k,
                           GgmlType::q4_k, GgmlType::q5_k, GgmlType::q6_k, GgmlType::q8_k};

[[maybe_unused]] const bool kRegistered = [] {
  for (GgmlType t : kTypes) {
    const std::string name(ggml_type_name(t));
    benchmark::RegisterBenchmark(("dequantize/" + name).c_str(), bm_dequantize, t);
  }
  for (GgmlType t : kTypes) {
    const std::string name(ggml_type_name(t));
    benchmark::RegisterBenchmark(("quantize/" + name).c_str(), bm_quantize, t);
  }
  for (GgmlType t : kTypes) {
    const std::string name(ggml_type_name(t));
    benchmark::RegisterBenchmark(("vec_dot_f32/" + name).c_str(), bm_vec_dot_f32, t);
  }
  return true;
}();

}  // namespace
}  // namespace laneway
