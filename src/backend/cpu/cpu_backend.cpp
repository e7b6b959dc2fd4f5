#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/vec.h"
#include "backend/cpu/weight_tiles.h"
#include "quant/quant.h"

namespace laneway {

CpuBackend::CpuBackend(int n_threads, int64_t max_width, int64_t max_tokens, CpuIsa isa)
    : pool_(n_threads),
      max_width_(max_width),
      scratch_per_thread_(scratch_floats_per_thread(max_width)),
      kernels_(&cpu_kernels(isa)),
      max_tokens_(max_tokens) {
  scratch_.resize(scratch_per_thread_ * static_cast<size_t>(pool_.n_threads()));
  const auto values = static_cast<size_t>(max_tokens * ((max_width + kQ8Block - 1) / kQ8Block * kQ8Block));
  act_qs_.resize(values);
  act_qu_.resize(values);
  act_d_.resize(values / kQ8Block);
  act_s16_.resize(values / 16);
}

CpuBackend::~CpuBackend() = default;

bool CpuBackend::supports_weight_type(GgmlType type) const { return quant_can_dequantize(type); }

void CpuBackend::get_rows(const WeightMatrix& table, const int32_t* ids, int64_t n, float* out) {
  for (int64_t t = 0; t < n; ++t) {
    dequantize_row(table.type, table.row(ids[t]), out + t * table.n_cols, table.n_cols);
  }
}

void CpuBackend::matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y) {
  if (!cpu_fast_shape(w.type, w.n_cols)) {
    matmul_generic(w, x, n_tokens, y);
    return;
  }
  // Activation buffers hold max_tokens rows: longer batches go in pieces
  // (every token's result is the same either way).
  for (int64_t t = 0; t < n_tokens; t += max_tokens_) {
    const int64_t n = std::min(max_tokens_, n_tokens - t);
    matmul_fast(w, x + t * w.n_cols, n, y + t * w.n_rows);
  }
}

void CpuBackend::matmul_fast(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y) {
  const int64_t n_cols = w.n_cols;
  const int64_t n_rows = w.n_rows;
  if (cpu_uses_q8_activations(w.type)) {
    pool_.parallel_for(n_tokens, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; ++t) {
        kernels_->quantize_acts(x + t * n_cols, n_cols, act_qs_.data() + t * n_cols, act_qu_.data() + t * n_cols,
                                act_d_.data() + t * (n_cols / kQ8Block), act_s16_.data() + t * (n_cols / 16));
      }
    });
  }
  const QuantActs acts{n_cols, act_qs_.data(), act_qu_.data(), act_d_.data(), act_s16_.data()};
  // Tiles of 16 rows (the widest vector's lanes, and the tiled layout's
  // unit); each thread takes a contiguous run of tiles and every token.
  constexpr int64_t kRowsPerTile = kWeightTileRows;
  pool_.parallel_for((n_rows + kRowsPerTile - 1) / kRowsPerTile, [&](int64_t tile_begin, int64_t tile_end, int thread) {
    MatmulRange m;
    m.type = w.type;
    m.w = w.data;
    m.row_bytes = w.row_bytes;
    m.tiled = w.tiled;
    m.r0 = tile_begin * kRowsPerTile;
    m.r1 = std::min(n_rows, tile_end * kRowsPerTile);
    m.t0 = 0;
    m.t1 = n_tokens;
    m.y = y;
    m.y_stride = n_rows;
    if (cpu_uses_q8_activations(w.type)) {
      kernels_->quant_matmul(m, acts, reinterpret_cast<uint8_t*>(thread_scratch(thread)));
    } else {
      kernels_->float_matmul(m, x, n_cols);
    }
  });
}

void CpuBackend::matmul_generic(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y) {
  const int64_t n_cols = w.n_cols;
  const int64_t n_rows = w.n_rows;
  const int64_t n_tiles = (n_rows + kTileRows - 1) / kTileRows;
  pool_.parallel_for(n_tiles, [&](int64_t tile_begin, int64_t tile_end, int thread) {
    float* tile = thread_scratch(thread);
    for (int64_t tile_i = tile_begin; tile_i < tile_end; ++tile_i) {
      const int64_t r0 = tile_i * kTileRows;
      const int64_t nr = std::min(kTileRows, n_rows - r0);
      const float* rows[kTileRows];
      for (int64_t r = 0; r < nr; ++r) {
        if (w.type == GgmlType::f32) {
          rows[r] = reinterpret_cast<const float*>(w.row(r0 + r));
        } else {
          dequantize_row(w.type, w.row(r0 + r), tile + r * n_cols, n_cols);
          rows[r] = tile + r * n_cols;
        }
      }
      for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xt = x + t * n_cols;
        float* yt = y + t * n_rows;
        for (int64_t r = 0; r < nr; ++r) yt[r0 + r] = cpu::dot_f32(rows[r], xt, n_cols);
      }
    }
  });
}

// The element-wise ops below split tokens (or elements) across threads;
// each value's arithmetic is the same whichever thread computes it.

void CpuBackend::rms_norm(const float* x, const float* weight, int64_t n_tokens, int64_t n, float eps, float* y) {
  auto norm = [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      const float* xt = x + t * n;
      float* yt = y + t * n;
      double sum = 0.0;
      for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(xt[i]) * static_cast<double>(xt[i]);
      const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps);
      for (int64_t i = 0; i < n; ++i) yt[i] = xt[i] * scale * weight[i];
    }
  };
  if (n_tokens == 1) return norm(0, 1, 0);
  pool_.parallel_for(n_tokens, norm);
}

void CpuBackend::rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rope_dim, bool neox,
                      const float* cos_sin) {
  const int64_t half = rope_dim / 2;
  auto rotate = [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      const float* cs = cos_sin + t * half * 2;
      for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + (t * n_heads + h) * head_dim;
        for (int64_t i = 0; i < half; ++i) {
          const float c = cs[2 * i];
          const float s = cs[2 * i + 1];
          const int64_t a = neox ? i : 2 * i;
          const int64_t b = neox ? i + half : 2 * i + 1;
          const float x0 = v[a];
          const float x1 = v[b];
          v[a] = x0 * c - x1 * s;
          v[b] = x0 * s + x1 * c;
        }
      }
    }
  };
  if (n_tokens == 1) return rotate(0, 1, 0);
  pool_.parallel_for(n_tokens, rotate);
}

void CpuBackend::swiglu(const float* gate, const float* up, int64_t n, float* out) {
  auto apply = [&](int64_t begin, int64_t end, int) {
    kernels_->swiglu(gate + begin, up + begin, end - begin, out + begin);
  };
  if (n < kParallelElements) return apply(0, n, 0);
  pool_.parallel_for(n, apply);
}

void CpuBackend::add(float* x, const float* y, int64_t n) {
  auto apply = [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) x[i] += y[i];
  };
  if (n < 8 * kParallelElements) return apply(0, n, 0);
  pool_.parallel_for(n, apply);
}

}  // namespace laneway
