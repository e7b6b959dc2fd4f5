// CPU matmul kernels per weight type, ISA level and token count: one thread,
// a TinyLlama-sized projection (2048 x 2048, and 5632 x 2048 for the FFN
// down shape), through CpuBackend::matmul (activation quantization
// included; quantized weights tiled as the engine tiles them at load). Reports weight bytes read per second (GB/s: the decode
// roofline's numerator) and multiply-adds per second (items/s, as GMAC/s).
//   build/release/bench/backend_matmul_bench --benchmark_filter=Q4_0
//   LANEWAY_ISA has no effect here: each level is its own benchmark.
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/weight_tiles.h"
#include "quant/quant.h"

namespace laneway {
namespace {

std::vector<float> gaussian(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

// cold: the matrix is one of several copies filling 512 MiB, taken in turn,
// so weights come from DRAM as in a real model's decode.
void bm_matmul(benchmark::State& state, GgmlType type, CpuIsa isa, int64_t n_rows, int64_t n_cols, bool cold) {
  if (!cpu_supports(isa)) {
    state.SkipWithError("ISA not supported on this CPU");
    return;
  }
  const int64_t n_tokens = state.range(0);
  const uint64_t row_bytes = *ggml_row_bytes(type, n_cols);
  // Quantized types are tiled, as the engine does at load.
  const bool tiled = weight_tiles_supported(type, n_cols);
  const uint64_t matrix_bytes = tiled ? weight_tiles_bytes(n_rows, row_bytes) : row_bytes * static_cast<uint64_t>(n_rows);
  const uint64_t copies = cold ? std::max<uint64_t>(1, (512ull << 20) / matrix_bytes) : 1;
  std::vector<uint8_t> data(matrix_bytes * copies);
  const auto src = gaussian(n_cols, 1);
  std::vector<uint8_t> rows(row_bytes * static_cast<uint64_t>(n_rows));
  for (int64_t r = 0; r < n_rows; ++r) quantize_row(type, src.data(), rows.data() + r * row_bytes, n_cols);
  if (tiled) {
    tile_weight_rows(type, rows.data(), row_bytes, n_rows, 0, (n_rows + kWeightTileRows - 1) / kWeightTileRows,
                     data.data());
  } else {
    std::copy(rows.begin(), rows.end(), data.begin());
  }
  for (uint64_t c = 1; c < copies; ++c) std::copy_n(data.data(), matrix_bytes, data.data() + c * matrix_bytes);
  uint64_t next = 0;
  const auto x = gaussian(n_tokens * n_cols, 2);
  std::vector<float> y(static_cast<size_t>(n_tokens * n_rows));
  CpuBackend be(1, isa);
  be.reserve(n_cols, n_tokens);
  for (auto _ : state) {
    const WeightView w{type, data.data() + (next++ % copies) * matrix_bytes, n_cols, n_rows, row_bytes, tiled};
    be.matmul(w, x.data(), n_tokens, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(matrix_bytes));
  state.SetItemsProcessed(state.iterations() * n_rows * n_cols * n_tokens);
}

void register_all() {
  for (GgmlType type : {GgmlType::q4_0, GgmlType::q8_0, GgmlType::q4_k, GgmlType::q6_k, GgmlType::f16}) {
    for (CpuIsa isa : {CpuIsa::avx2, CpuIsa::avx512, CpuIsa::neon, CpuIsa::neon_dotprod}) {
      for (auto [rows, cols] : {std::pair<int64_t, int64_t>{2048, 2048}, {2048, 5632}}) {
        for (bool cold : {false, true}) {
          const std::string name = std::string(ggml_type_name(type)) + "/" + std::string(cpu_isa_name(isa)) + "/" +
                                   std::to_string(rows) + "x" + std::to_string(cols) + (cold ? "/dram" : "/cache");
          benchmark::RegisterBenchmark(name.c_str(), bm_matmul, type, isa, rows, cols, cold)
              ->Arg(1)
              ->Arg(4)
              ->Arg(8)
              ->Arg(128)
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
}

const bool registered = (register_all(), true);

}  // namespace
}  // namespace laneway
