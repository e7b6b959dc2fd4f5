// Scalar reference kernels: the arithmetic every SIMD kernel reproduces.
#include <cmath>
#include <cstring>

#include <vector>

#include "backend/cpu/kernels.h"
#include "backend/cpu/vec.h"
#include "backend/cpu/weight_tiles.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace laneway::cpu_detail {
namespace {

float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

void quantize_acts(const float* x, int64_t n, int8_t* qs, uint8_t* qu, float* d, int16_t* s16) {
  uint8_t block[34];
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    quantize_row(GgmlType::q8_0, x + b * kQ8Block, block, kQ8Block);
    d[b] = load_f16(block);
    for (int i = 0; i < 32; ++i) {
      qs[b * 32 + i] = static_cast<int8_t>(block[2 + i]);
      qu[b * 32 + i] = static_cast<uint8_t>(block[2 + i] ^ 0x80);
    }
    for (int h = 0; h < 2; ++h) {
      int s = 0;
      for (int i = 0; i < 16; ++i) s += qs[b * 32 + 16 * h + i];
      s16[2 * b + h] = static_cast<int16_t>(s);
    }
  }
}

// Q6_K group g (0..7, 32 values) of a block: the 6-bit value (0..63) of
// element l (0..31), and the int8 scale of its first or second half of 16.
uint8_t q6k_value(const uint8_t* block, int g, int l) {
  const int half = g / 4, quad = g % 4;
  const uint8_t* ql = block + 64 * half + ((quad & 1) ? 32 : 0);
  const uint8_t* qh = block + 128 + 32 * half;
  const uint8_t low = (quad >= 2) ? (ql[l] >> 4) : (ql[l] & 0x0F);
  return static_cast<uint8_t>(low | (((qh[l] >> (2 * quad)) & 3) << 4));
}
int8_t q6k_scale(const uint8_t* block, int g, int upper_half) {
  return static_cast<int8_t>(block[192 + 8 * (g / 4) + 2 * (g % 4) + upper_half]);
}

// One block's terms of the specification in kernels.h.
struct BlockTerms {
  int32_t idot = 0;
  float sw = 0;
  float mw = 0;  // Q4_K: dmin * m
};

BlockTerms block_terms(GgmlType type, const uint8_t* row, int64_t b, const int8_t* a) {
  BlockTerms t;
  switch (type) {
    case GgmlType::q8_0: {
      const uint8_t* blk = row + b * 34;
      t.sw = load_f16(blk);
      for (int i = 0; i < 32; ++i) t.idot += int32_t(int8_t(blk[2 + i])) * a[i];
      break;
    }
    case GgmlType::q4_0: {
      const uint8_t* blk = row + b * 18;
      t.sw = load_f16(blk);
      for (int i = 0; i < 16; ++i) {
        t.idot += (int32_t(blk[2 + i] & 0x0F) - 8) * a[i];
        t.idot += (int32_t(blk[2 + i] >> 4) - 8) * a[i + 16];
      }
      break;
    }
    case GgmlType::q4_k: {
      const uint8_t* blk = row + (b / 8) * 144;
      const int g = static_cast<int>(b % 8);
      const KScaleMin s = kscale6_q4(blk + 4, g);
      t.sw = load_f16(blk) * static_cast<float>(s.sc);
      t.mw = load_f16(blk + 2) * static_cast<float>(s.mn);
      const uint8_t* qs = blk + 16 + 32 * (g / 2);
      for (int i = 0; i < 32; ++i) t.idot += ((g % 2) ? (qs[i] >> 4) : (qs[i] & 0x0F)) * a[i];
      break;
    }
    default: {  // q6_k
      const uint8_t* blk = row + (b / 8) * 210;
      const int g = static_cast<int>(b % 8);
      t.sw = load_f16(blk + 208);
      for (int h = 0; h < 2; ++h) {
        int32_t s = 0;
        for (int l = 16 * h; l < 16 * h + 16; ++l) s += (int32_t(q6k_value(blk, g, l)) - 32) * a[l];
        t.idot += q6k_scale(blk, g, h) * s;
      }
      break;
    }
  }
  return t;
}

void quant_matmul(const MatmulRange& m, const QuantActs& a, uint8_t* /*scratch*/) {
  const int64_t n_blocks = a.n / kQ8Block;
  std::vector<uint8_t> untiled(m.tiled ? m.row_bytes : 0);
  const uint64_t chunk_bytes = weight_tile_chunk_bytes(m.type);
  for (int64_t r = m.r0; r < m.r1; ++r) {
    const uint8_t* row = m.w + static_cast<uint64_t>(r) * m.row_bytes;
    if (m.tiled) {  // the row's file bytes, back from its tile
      const uint8_t* tile = m.w + static_cast<uint64_t>(r / kWeightTileRows) * kWeightTileRows * m.row_bytes;
      for (uint64_t c = 0; c < m.row_bytes / chunk_bytes; ++c) {
        untile_row_chunk(m.type, tile, static_cast<int>(r % kWeightTileRows), static_cast<int64_t>(c),
                         untiled.data() + c * chunk_bytes);
      }
      row = untiled.data();
    }
    for (int64_t t = m.t0; t < m.t1; ++t) {
      const int8_t* qs = a.qs + t * a.n;
      const float* da = a.d + t * n_blocks;
      const int16_t* s16 = a.s16 + t * (a.n / 16);
      float acc = 0.0f;
      for (int64_t b = 0; b < n_blocks; ++b) {
        const BlockTerms bt = block_terms(m.type, row, b, qs + b * kQ8Block);
        acc = std::fma(static_cast<float>(bt.idot), bt.sw * da[b], acc);
        if (m.type == GgmlType::q4_k) {
          acc = std::fma(static_cast<float>(s16[2 * b] + s16[2 * b + 1]), -(bt.mw * da[b]), acc);
        }
      }
      m.y[t * m.y_stride + r] = acc;
    }
  }
}

template <typename Load>
float dot_float(const uint8_t* row, const float* x, int64_t n, Load load) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += load(row, i + k) * x[i + k];
  for (int k = 0; i < n; ++i, ++k) acc[k] += load(row, i) * x[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

void float_matmul(const MatmulRange& m, const float* x, int64_t n) {
  if (m.tiled) {  // F16 tiles: one fused multiply-add per column, in order
    for (int64_t r = m.r0; r < m.r1; ++r) {
      const uint8_t* tile = m.w + static_cast<uint64_t>(r / kWeightTileRows) * kWeightTileRows * m.row_bytes;
      const uint8_t* w = tile + 2 * (r % kWeightTileRows);
      for (int64_t t = m.t0; t < m.t1; ++t) {
        const float* xt = x + t * n;
        float acc = 0.0f;
        for (int64_t k = 0; k < n; ++k) acc = std::fma(load_f16(w + 2 * kWeightTileRows * k), xt[k], acc);
        m.y[t * m.y_stride + r] = acc;
      }
    }
    return;
  }
  for (int64_t t = m.t0; t < m.t1; ++t) {
    for (int64_t r = m.r0; r < m.r1; ++r) {
      const uint8_t* row = m.w + static_cast<uint64_t>(r) * m.row_bytes;
      float& out = m.y[t * m.y_stride + r];
      if (m.type == GgmlType::f16) {
        out = dot_float(row, x + t * n, n, [](const uint8_t* w, int64_t i) { return load_f16(w + 2 * i); });
      } else {
        out = dot_float(row, x + t * n, n, [](const uint8_t* w, int64_t i) {
          float f;
          std::memcpy(&f, w + 4 * i, 4);
          return f;
        });
      }
    }
  }
}

void attn_scores(const float* q, int64_t n_q, const float* k, int64_t n_k, int64_t hd, float scale, float* s,
                 int64_t s_stride) {
  for (int64_t g = 0; g < n_q; ++g)
    for (int64_t c = 0; c < n_k; ++c) s[g * s_stride + c] = cpu::dot_f32(q + g * hd, k + c * hd, hd) * scale;
}

void attn_accumulate(const float* p, int64_t p_stride, int64_t n_q, const float* v, int64_t n_k, int64_t hd,
                     float* acc) {
  for (int64_t g = 0; g < n_q; ++g)
    for (int64_t c = 0; c < n_k; ++c) cpu::axpy_f32(p[g * p_stride + c], v + c * hd, acc + g * hd, hd);
}

void exp_shifted(float* s, int64_t n, float m) {
  for (int64_t j = 0; j < n; ++j) s[j] = cpu::exp_f32(s[j] - m);
}

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + cpu::exp_f32(-gate[i])) * up[i];
}

void f16_to_f32(const uint8_t* src, float* dst, int64_t n) { dequantize_row(GgmlType::f16, src, dst, n); }

}  // namespace

const CpuKernels& scalar_kernels() {
  static const CpuKernels k{CpuIsa::scalar, quantize_acts, quant_matmul, float_matmul, attn_scores, attn_accumulate,
                            exp_shifted, swiglu, f16_to_f32};
  return k;
}

}  // namespace laneway::cpu_detail
