// AArch64 AdvSIMD (NEON) kernels, compiled three times: kernels_neon.cpp
// (ARMv8-A, every aarch64 CPU), kernels_neon_dotprod.cpp (ARMv8.2-A + the
// dot-product instructions, SDOT) and kernels_neon_i8mm.cpp (that + the int8
// matrix multiply, SMMLA: the quantized matmul takes two tokens at a time).
// Include only from those files. Every kernel follows the arithmetic
// kernels.h and vec.h specify, so every level gives the scalar reference's
// bits (tests/unit/backend/cpu_kernels_test.cpp).
//
// F16 values are converted to f32 (FCVTL, exact) and multiplied in f32: the
// specification accumulates in f32, so native fp16 arithmetic (FEAT_FP16)
// would change the bits and is not used.
#pragma once

#include <arm_neon.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "backend/cpu/kernels.h"
#include "backend/cpu/vec.h"
#include "backend/cpu/weight_tiles.h"
#include "quant/blocks.h"
#include "quant/fp16.h"
#include "quant/quant.h"

#if defined(__ARM_FEATURE_DOTPROD)
#define LANEWAY_NEON_DOTPROD 1
#else
#define LANEWAY_NEON_DOTPROD 0
#endif
#if defined(__ARM_FEATURE_MATMUL_INT8)
#define LANEWAY_NEON_I8MM 1
#else
#define LANEWAY_NEON_I8MM 0
#endif

// Internal linkage: this header is compiled once per level, and the copies
// must never be merged by the linker.
namespace laneway::cpu_detail {
namespace {

inline float neon_load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

// Four f16 values at p, as f32 (exact for every value but signaling NaNs,
// which come out quieted).
inline float32x4_t neon_load4_f16(const uint8_t* p) {
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
}

// ---- Activations to Q8_0 planes (quant/quantize_legacy.cpp's Q8_0 arithmetic) ----

inline void neon_quantize_acts(const float* x, int64_t n, int8_t* qs, uint8_t* qu, float* d, int16_t* s16) {
  const float32x4_t fmax = vdupq_n_f32(std::numeric_limits<float>::max());
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const float* xb = x + b * kQ8Block;
    int8_t* qb = qs + b * kQ8Block;
    float32x4_t v[8];
    float32x4_t amax = vdupq_n_f32(0.0f);
    uint32x4_t finite = vdupq_n_u32(~0u);
    for (int k = 0; k < 8; ++k) {
      v[k] = vld1q_f32(xb + 4 * k);
      const float32x4_t a = vabsq_f32(v[k]);
      amax = vmaxq_f32(amax, a);
      finite = vandq_u32(finite, vcleq_f32(a, fmax));  // false for inf and NaN
    }
    if (vminvq_u32(finite) == 0) {  // the reference's NaN block, through the reference
      uint8_t block[34];
      quantize_row(GgmlType::q8_0, xb, block, kQ8Block);
      d[b] = neon_load_f16(block);
      std::memcpy(qb, block + 2, 32);
    } else {
      const float scale = vmaxvq_f32(amax) / 127.0f;
      const uint16_t stored = fp32_to_fp16(std::clamp(scale, -65504.0f, 65504.0f));
      d[b] = fp16_to_fp32(stored);
      const float inv = d[b] != 0.0f ? 1.0f / scale : 0.0f;
      const float32x4_t vinv = vdupq_n_f32(inv), lo = vdupq_n_f32(-127.0f), hi = vdupq_n_f32(127.0f);
      int16x8_t q16[4];
      for (int k = 0; k < 4; ++k) {
        int32x4_t q[2];
        for (int h = 0; h < 2; ++h) {
          // Clamp, then round to nearest, ties to even, as the reference does.
          const float32x4_t s = vminq_f32(vmaxq_f32(vmulq_f32(v[2 * k + h], vinv), lo), hi);
          q[h] = vcvtq_s32_f32(vrndnq_f32(s));
        }
        q16[k] = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
      }
      vst1q_s8(qb, vcombine_s8(vmovn_s16(q16[0]), vmovn_s16(q16[1])));
      vst1q_s8(qb + 16, vcombine_s8(vmovn_s16(q16[2]), vmovn_s16(q16[3])));
    }
    const int8x16_t lo16 = vld1q_s8(qb), hi16 = vld1q_s8(qb + 16);
    const uint8x16_t flip = vdupq_n_u8(0x80);
    vst1q_u8(qu + b * kQ8Block, veorq_u8(vreinterpretq_u8_s8(lo16), flip));
    vst1q_u8(qu + b * kQ8Block + 16, veorq_u8(vreinterpretq_u8_s8(hi16), flip));
    s16[2 * b] = vaddlvq_s8(lo16);
    s16[2 * b + 1] = vaddlvq_s8(hi16);
  }
}

// ---- Quantized matmul (specification in kernels.h) ----
//
// Rows go in vector lanes, four at a time: a block (32 columns) of four rows
// is transposed into 8 vectors, vector g holding columns 4g..4g+3 of each
// row in its 32-bit lane, so one activation dword against it adds a 4-term
// integer dot to each row's lane (SDOT by element on the dot-product level;
// widening multiplies and pairwise adds without it). The weights enter as
// signed integers with the type's offset already taken off (Q4_0: q - 8,
// Q6_K: q - 32), so every dot is the exact signed one of the specification.

inline constexpr int kLanes = 4;
inline constexpr int kTokenTile = 4;

// acc + per row lane r: the 4-term dot of w's dword r and a's dword L.
template <int L>
[[gnu::always_inline]] inline int32x4_t dot4_lane(int32x4_t acc, int8x16_t w, int8x16_t a) {
#if LANEWAY_NEON_DOTPROD
  return vdotq_laneq_s32(acc, w, a, L);
#else
  const int8x16_t ab = vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(a), L));
  const int16x8_t lo = vmull_s8(vget_low_s8(w), vget_low_s8(ab));  // rows 0, 1 (|product| <= 2^14)
  const int16x8_t hi = vmull_high_s8(w, ab);                       // rows 2, 3
  return vaddq_s32(acc, vpaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi)));
#endif
}

// 4x4 transpose of 32-bit lanes: out[j] lane r = in[r] lane j.
inline void transpose4(const uint8x16_t* in, int8x16_t* out) {
  const int32x4_t r0 = vreinterpretq_s32_u8(in[0]), r1 = vreinterpretq_s32_u8(in[1]);
  const int32x4_t r2 = vreinterpretq_s32_u8(in[2]), r3 = vreinterpretq_s32_u8(in[3]);
  const int64x2_t t0 = vreinterpretq_s64_s32(vtrn1q_s32(r0, r1)), t1 = vreinterpretq_s64_s32(vtrn2q_s32(r0, r1));
  const int64x2_t t2 = vreinterpretq_s64_s32(vtrn1q_s32(r2, r3)), t3 = vreinterpretq_s64_s32(vtrn2q_s32(r2, r3));
  out[0] = vreinterpretq_s8_s64(vtrn1q_s64(t0, t2));
  out[1] = vreinterpretq_s8_s64(vtrn1q_s64(t1, t3));
  out[2] = vreinterpretq_s8_s64(vtrn2q_s64(t0, t2));
  out[3] = vreinterpretq_s8_s64(vtrn2q_s64(t1, t3));
}

// Where a group of four rows' bytes come from. Offsets are bytes within a
// row's chunk (a block, or a K-quant super-block; weight_tiles.h).
//  RowsSource: row-major rows (transposed on the fly).
//  TiledSource: four lanes of a 16-row tile (plain vector loads).
struct RowsSource {
  const uint8_t* const* rows;  // kLanes rows
  int64_t chunk = 0;
  void set_chunk(int64_t c, uint64_t chunk_bytes) {
    chunk = c * static_cast<int64_t>(chunk_bytes);
    for (int r = 0; r < kLanes; ++r) __builtin_prefetch(rows[r] + chunk + 512);
  }
  // Dwords j = 0..3 at off, lane r = row r.
  void dwords4(int64_t off, int8x16_t* out) const {
    uint8x16_t in[4];
    for (int r = 0; r < kLanes; ++r) in[r] = vld1q_u8(rows[r] + chunk + off);
    transpose4(in, out);
  }
  float32x4_t f16s(int64_t off) const {
    float v[kLanes];
    for (int r = 0; r < kLanes; ++r) v[r] = neon_load_f16(rows[r] + chunk + off);
    return vld1q_f32(v);
  }
  uint8_t byte(int64_t off, int r) const { return rows[r][chunk + off]; }
};

struct TiledSource {
  const uint8_t* tile;  // the tile of 16 rows
  int64_t lane0 = 0;    // the group's first row in the tile (0, 4, 8, 12)
  const uint8_t* base = nullptr;
  void set_chunk(int64_t c, uint64_t chunk_bytes) {
    base = tile + static_cast<uint64_t>(c) * kWeightTileRows * chunk_bytes;
    __builtin_prefetch(base + 2048);
  }
  void dwords4(int64_t off, int8x16_t* out) const {
    for (int j = 0; j < 4; ++j) out[j] = vld1q_s8(reinterpret_cast<const int8_t*>(base + 16 * (off + 4 * j) + 4 * lane0));
  }
  float32x4_t f16s(int64_t off) const { return neon_load4_f16(base + 16 * off + 2 * lane0); }
  uint8_t byte(int64_t off, int r) const { return base[16 * off + lane0 + r]; }
};

// Blocks of 32 columns a tile load covers at once (they share packed bytes).
template <GgmlType T>
inline constexpr int kBlocksPerLoad = T == GgmlType::q4_k ? 2 : T == GgmlType::q6_k ? 4 : 1;

// One block of four rows, transposed, with its per-row terms.
struct BlockTile {
  // w[g]: columns 4g..4g+3 of each row, signed, offset taken off. On the
  // i8mm level, SMMLA operands instead (to_mmla_layout).
  int8x16_t w[8];
  float32x4_t sw;           // weight scale per row
  float32x4_t mw;           // Q4_K: dmin * m per row
  int32x4_t sc_lo, sc_hi;   // Q6_K: the scales of the two halves of 16
};

#if LANEWAY_NEON_I8MM
// A block's rows as SMMLA operands (two rows of 8 columns each): w[2j] holds
// rows 0 and 1, w[2j + 1] rows 2 and 3, of columns 8j..8j+7 (groups 2j, 2j+1).
inline void to_mmla_layout(int8x16_t* w) {
  for (int j = 0; j < 4; ++j) {
    const int32x4_t g0 = vreinterpretq_s32_s8(w[2 * j]), g1 = vreinterpretq_s32_s8(w[2 * j + 1]);
    w[2 * j] = vreinterpretq_s8_s32(vzip1q_s32(g0, g1));
    w[2 * j + 1] = vreinterpretq_s8_s32(vzip2q_s32(g0, g1));
  }
}
#endif

template <GgmlType T, typename Source>
[[gnu::always_inline]] inline void load_block_tiles(Source& src, int64_t b, BlockTile* tiles) {
  const uint8x16_t low_mask = vdupq_n_u8(0x0F);
  if constexpr (T == GgmlType::q8_0) {
    src.set_chunk(b, 34);
    src.dwords4(2, tiles[0].w);
    src.dwords4(18, tiles[0].w + 4);
    tiles[0].sw = src.f16s(0);
  } else if constexpr (T == GgmlType::q4_0) {
    src.set_chunk(b, 18);
    int8x16_t packed[4];  // byte i: column i (low nibble) and column i + 16 (high)
    src.dwords4(2, packed);
    const int8x16_t eight = vdupq_n_s8(8);
    for (int j = 0; j < 4; ++j) {
      const uint8x16_t p = vreinterpretq_u8_s8(packed[j]);
      tiles[0].w[j] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(p, low_mask)), eight);
      tiles[0].w[j + 4] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(p, 4)), eight);
    }
    tiles[0].sw = src.f16s(0);
  } else if constexpr (T == GgmlType::q4_k) {
    src.set_chunk(b / 8, 144);
    const int g0 = static_cast<int>(b % 8);  // even: low nibbles are group g0, high g0 + 1
    int8x16_t packed[8];
    src.dwords4(16 + 32 * (g0 / 2), packed);
    src.dwords4(16 + 32 * (g0 / 2) + 16, packed + 4);
    for (int j = 0; j < 8; ++j) {
      const uint8x16_t p = vreinterpretq_u8_s8(packed[j]);
      tiles[0].w[j] = vreinterpretq_s8_u8(vandq_u8(p, low_mask));
      tiles[1].w[j] = vreinterpretq_s8_u8(vshrq_n_u8(p, 4));
    }
    float d[kLanes], dmin[kLanes];
    vst1q_f32(d, src.f16s(0));
    vst1q_f32(dmin, src.f16s(2));
    float sw[2][kLanes], mw[2][kLanes];
    for (int r = 0; r < kLanes; ++r) {
      uint8_t scales[12];
      for (int k = 0; k < 12; ++k) scales[k] = src.byte(4 + k, r);
      for (int h = 0; h < 2; ++h) {
        const KScaleMin s = kscale6_q4(scales, g0 + h);
        sw[h][r] = d[r] * static_cast<float>(s.sc);
        mw[h][r] = dmin[r] * static_cast<float>(s.mn);
      }
    }
    for (int h = 0; h < 2; ++h) {
      tiles[h].sw = vld1q_f32(sw[h]);
      tiles[h].mw = vld1q_f32(mw[h]);
    }
  } else {  // q6_k: the four groups of one half share ql (64 bytes) and qh (32)
    src.set_chunk(b / 8, 210);
    const int half = static_cast<int>(b % 8) / 4;
    int8x16_t ql[2][8], qh[8];
    src.dwords4(64 * half, ql[0]);
    src.dwords4(64 * half + 16, ql[0] + 4);
    src.dwords4(64 * half + 32, ql[1]);
    src.dwords4(64 * half + 48, ql[1] + 4);
    src.dwords4(128 + 32 * half, qh);
    src.dwords4(128 + 32 * half + 16, qh + 4);
    const uint8x16_t two_bits = vdupq_n_u8(3);
    const int8x16_t k32 = vdupq_n_s8(32);
    const float32x4_t d = src.f16s(208);
    for (int quad = 0; quad < 4; ++quad) {
      const int8x16_t down = vdupq_n_s8(static_cast<int8_t>(-2 * quad));  // a right shift by 2 * quad
      for (int j = 0; j < 8; ++j) {
        const uint8x16_t x = vreinterpretq_u8_s8(ql[quad & 1][j]);
        const uint8x16_t lo = quad >= 2 ? vshrq_n_u8(x, 4) : vandq_u8(x, low_mask);
        const uint8x16_t hi = vshlq_n_u8(vandq_u8(vshlq_u8(vreinterpretq_u8_s8(qh[j]), down), two_bits), 4);
        tiles[quad].w[j] = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, hi)), k32);
      }
      const int g = 4 * half + quad;
      int32_t sc[2][kLanes];
      for (int r = 0; r < kLanes; ++r) {
        sc[0][r] = static_cast<int8_t>(src.byte(192 + 8 * (g / 4) + 2 * (g % 4), r));
        sc[1][r] = static_cast<int8_t>(src.byte(192 + 8 * (g / 4) + 2 * (g % 4) + 1, r));
      }
      tiles[quad].sw = d;
      tiles[quad].sc_lo = vld1q_s32(sc[0]);
      tiles[quad].sc_hi = vld1q_s32(sc[1]);
    }
  }
#if LANEWAY_NEON_I8MM
  for (int k = 0; k < kBlocksPerLoad<T>; ++k) to_mmla_layout(tiles[k].w);
#endif
}

// The exact integer dots of groups [0, 4) and [4, 8) of a block against one
// token's activations (a0: columns 0..15, a1: 16..31).
[[gnu::always_inline]] inline void block_dots(const BlockTile& tile, int8x16_t a0, int8x16_t a1, int32x4_t& lo,
                                              int32x4_t& hi) {
  int32x4_t e = vdupq_n_s32(0), o = vdupq_n_s32(0);
  e = dot4_lane<0>(e, tile.w[0], a0);
  o = dot4_lane<1>(o, tile.w[1], a0);
  e = dot4_lane<2>(e, tile.w[2], a0);
  o = dot4_lane<3>(o, tile.w[3], a0);
  lo = vaddq_s32(e, o);
  e = dot4_lane<0>(vdupq_n_s32(0), tile.w[4], a1);
  o = dot4_lane<1>(vdupq_n_s32(0), tile.w[5], a1);
  e = dot4_lane<2>(e, tile.w[6], a1);
  o = dot4_lane<3>(o, tile.w[7], a1);
  hi = vaddq_s32(e, o);
}

#if LANEWAY_NEON_I8MM
// The same dots for two tokens u and v at once (SMMLA: rows 0 and 1, or 2
// and 3, times the two tokens, 8 columns a step), per row lane: lo[0], hi[0]
// for u, lo[1], hi[1] for v. Integer sums, so exactly block_dots' values.
[[gnu::always_inline]] inline void block_dots2(const BlockTile& tile, const int8_t* qu, const int8_t* qv, int32x4_t* lo,
                                               int32x4_t* hi) {
  const int64x2_t u0 = vreinterpretq_s64_s8(vld1q_s8(qu)), u1 = vreinterpretq_s64_s8(vld1q_s8(qu + 16));
  const int64x2_t v0 = vreinterpretq_s64_s8(vld1q_s8(qv)), v1 = vreinterpretq_s64_s8(vld1q_s8(qv + 16));
  // Columns 8j..8j+7 of u, then of v.
  const int8x16_t c0 = vreinterpretq_s8_s64(vzip1q_s64(u0, v0)), c1 = vreinterpretq_s8_s64(vzip2q_s64(u0, v0));
  const int8x16_t c2 = vreinterpretq_s8_s64(vzip1q_s64(u1, v1)), c3 = vreinterpretq_s8_s64(vzip2q_s64(u1, v1));
  const int32x4_t zero = vdupq_n_s32(0);
  // [r0·u, r0·v, r1·u, r1·v] and the same for rows 2, 3; then per token.
  int32x4_t r01 = vmmlaq_s32(vmmlaq_s32(zero, tile.w[0], c0), tile.w[2], c1);
  int32x4_t r23 = vmmlaq_s32(vmmlaq_s32(zero, tile.w[1], c0), tile.w[3], c1);
  lo[0] = vuzp1q_s32(r01, r23);
  lo[1] = vuzp2q_s32(r01, r23);
  r01 = vmmlaq_s32(vmmlaq_s32(zero, tile.w[4], c2), tile.w[6], c3);
  r23 = vmmlaq_s32(vmmlaq_s32(zero, tile.w[5], c2), tile.w[7], c3);
  hi[0] = vuzp1q_s32(r01, r23);
  hi[1] = vuzp2q_s32(r01, r23);
}
#endif

// acc (per row lane) for one token and one block, per the specification,
// from the block's integer dots.
template <GgmlType T>
[[gnu::always_inline]] inline float32x4_t block_finish(const BlockTile& tile, const QuantActs& a, int64_t t, int64_t b,
                                                       int32x4_t lo, int32x4_t hi, float32x4_t acc) {
  const int32x4_t idot =
      T == GgmlType::q6_k ? vmlaq_s32(vmulq_s32(lo, tile.sc_lo), hi, tile.sc_hi) : vaddq_s32(lo, hi);
  const float da = a.d[t * (a.n / kQ8Block) + b];
  acc = vfmaq_f32(acc, vcvtq_f32_s32(idot), vmulq_n_f32(tile.sw, da));
  if constexpr (T == GgmlType::q4_k) {
    const int16_t* s16 = a.s16 + t * (a.n / 16) + 2 * b;
    acc = vfmaq_f32(acc, vdupq_n_f32(static_cast<float>(s16[0] + s16[1])), vnegq_f32(vmulq_n_f32(tile.mw, da)));
  }
  return acc;
}

#if !LANEWAY_NEON_I8MM
template <GgmlType T>
[[gnu::always_inline]] inline float32x4_t block_step(const BlockTile& tile, const QuantActs& a, int64_t t, int64_t b,
                                                     float32x4_t acc) {
  const int8_t* qs = a.qs + t * a.n + b * kQ8Block;
  int32x4_t lo, hi;
  block_dots(tile, vld1q_s8(qs), vld1q_s8(qs + 16), lo, hi);
  return block_finish<T>(tile, a, t, b, lo, hi, acc);
}
#else
// Tokens t and u (u may be t: one token, the other half wasted).
template <GgmlType T>
[[gnu::always_inline]] inline void block_step2(const BlockTile& tile, const QuantActs& a, int64_t t, int64_t u, int64_t b,
                                               float32x4_t& acc_t, float32x4_t* acc_u) {
  int32x4_t lo[2], hi[2];
  block_dots2(tile, a.qs + t * a.n + b * kQ8Block, a.qs + u * a.n + b * kQ8Block, lo, hi);
  acc_t = block_finish<T>(tile, a, t, b, lo[0], hi[0], acc_t);
  if (acc_u != nullptr) *acc_u = block_finish<T>(tile, a, u, b, lo[1], hi[1], *acc_u);
}
#endif

inline void store_rows(float* y, float32x4_t v, int n_rows) {
  if (n_rows == kLanes) {
    vst1q_f32(y, v);
    return;
  }
  float tmp[kLanes];
  vst1q_f32(tmp, v);
  std::memcpy(y, tmp, static_cast<size_t>(n_rows) * sizeof(float));
}

// Tokens [t0, t0 + C) against one group of rows; tiles come from get_tile(b).
template <GgmlType T, int C, typename GetTile>
inline void tile_tokens(const QuantActs& a, int64_t t0, int64_t n_blocks, GetTile get_tile, float* y,
                        int64_t y_stride, int n_rows) {
  float32x4_t acc[C];
  for (int c = 0; c < C; ++c) acc[c] = vdupq_n_f32(0.0f);
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockTile& tile = get_tile(b);
#if LANEWAY_NEON_I8MM
    for (int c = 0; c + 1 < C; c += 2) block_step2<T>(tile, a, t0 + c, t0 + c + 1, b, acc[c], &acc[c + 1]);
    if constexpr (C % 2 == 1) block_step2<T>(tile, a, t0 + C - 1, t0 + C - 1, b, acc[C - 1], nullptr);
#else
    for (int c = 0; c < C; ++c) acc[c] = block_step<T>(tile, a, t0 + c, b, acc[c]);
#endif
  }
  for (int c = 0; c < C; ++c) store_rows(y + (t0 + c) * y_stride, acc[c], n_rows);
}

template <GgmlType T, typename GetTile>
inline void tile_token_range(const QuantActs& a, int64_t t0, int64_t t1, int64_t n_blocks, GetTile get_tile, float* y,
                             int64_t y_stride, int n_rows) {
  int64_t t = t0;
  for (; t + kTokenTile <= t1; t += kTokenTile) tile_tokens<T, kTokenTile>(a, t, n_blocks, get_tile, y, y_stride, n_rows);
  switch (t1 - t) {
    case 1: tile_tokens<T, 1>(a, t, n_blocks, get_tile, y, y_stride, n_rows); break;
    case 2: tile_tokens<T, 2>(a, t, n_blocks, get_tile, y, y_stride, n_rows); break;
    case 3: tile_tokens<T, 3>(a, t, n_blocks, get_tile, y, y_stride, n_rows); break;
    default: break;
  }
}

// Rows [r, r + n_rows) (n_rows <= kLanes) from src, for every token.
template <GgmlType T, typename Source>
inline void rows_times_tokens(Source& src, const QuantActs& a, int64_t t0, int64_t t1, float* y, int64_t y_stride,
                              int n_rows, BlockTile* scratch_tiles) {
  constexpr int kLoad = kBlocksPerLoad<T>;
  const int64_t n_blocks = a.n / kQ8Block;
  // Few tokens: load each block's tile and use it at once. Many: load the
  // group's tiles once into scratch, then let every group of tokens pass.
  if (t1 - t0 <= kTokenTile) {
    BlockTile tile[kLoad];
    tile_token_range<T>(
        a, t0, t1, n_blocks,
        [&](int64_t b) -> const BlockTile& {
          if (b % kLoad == 0) load_block_tiles<T>(src, b, tile);
          return tile[b % kLoad];
        },
        y, y_stride, n_rows);
  } else {
    for (int64_t b = 0; b < n_blocks; b += kLoad) load_block_tiles<T>(src, b, scratch_tiles + b);
    tile_token_range<T>(
        a, t0, t1, n_blocks, [&](int64_t b) -> const BlockTile& { return scratch_tiles[b]; }, y, y_stride, n_rows);
  }
}

static_assert(sizeof(BlockTile) <= kQuantScratchPerBlock, "quant_matmul_scratch_bytes is too small for NEON tiles");

template <GgmlType T>
inline void neon_quant_matmul_t(const MatmulRange& m, const QuantActs& a, uint8_t* scratch) {
  auto* tiles = reinterpret_cast<BlockTile*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t{63});
  for (int64_t r = m.r0; r < m.r1; r += kLanes) {
    const int n_rows = static_cast<int>(std::min<int64_t>(kLanes, m.r1 - r));
    if (m.tiled) {  // rows past r1 in the last tile are its padding: computed, never stored
      TiledSource src{m.w + static_cast<uint64_t>(r / kWeightTileRows) * kWeightTileRows * m.row_bytes,
                      r % kWeightTileRows};
      rows_times_tokens<T>(src, a, m.t0, m.t1, m.y + r, m.y_stride, n_rows, tiles);
    } else {
      const uint8_t* rows[kLanes];
      for (int k = 0; k < kLanes; ++k) rows[k] = m.w + static_cast<uint64_t>(r + std::min(k, n_rows - 1)) * m.row_bytes;
      RowsSource src{rows};
      rows_times_tokens<T>(src, a, m.t0, m.t1, m.y + r, m.y_stride, n_rows, tiles);
    }
  }
}

inline void neon_quant_matmul(const MatmulRange& m, const QuantActs& a, uint8_t* scratch) {
  switch (m.type) {
    case GgmlType::q8_0: neon_quant_matmul_t<GgmlType::q8_0>(m, a, scratch); break;
    case GgmlType::q4_0: neon_quant_matmul_t<GgmlType::q4_0>(m, a, scratch); break;
    case GgmlType::q4_k: neon_quant_matmul_t<GgmlType::q4_k>(m, a, scratch); break;
    default: neon_quant_matmul_t<GgmlType::q6_k>(m, a, scratch); break;
  }
}

// ---- F16 / F32 weights times f32 activations ----

// vec.h's summation order: 8 partial sums (two vectors, lane j takes
// elements j, j + 8, ...), a product then a sum, never fused; the tail into
// lanes 0.. in order; then ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7)).
// Row-major F16/F32 rows (scalar dot_float) and attention scores (dot_f32)
// both follow it, so this level equals the scalar one there.
inline float neon_dot_f32(const float* a, const float* b, int64_t n) {
  float32x4_t lo = vdupq_n_f32(0.0f), hi = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    lo = vaddq_f32(lo, vmulq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
    hi = vaddq_f32(hi, vmulq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4)));
  }
  float s[8];
  vst1q_f32(s, lo);
  vst1q_f32(s + 4, hi);
  for (int j = 0; i < n; ++i, ++j) s[j] += a[i] * b[i];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

inline float neon_dot_f16(const uint8_t* w, const float* b, int64_t n) {
  float32x4_t lo = vdupq_n_f32(0.0f), hi = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(reinterpret_cast<const uint16_t*>(w + 2 * i)));
    lo = vaddq_f32(lo, vmulq_f32(vcvt_f32_f16(vget_low_f16(h)), vld1q_f32(b + i)));
    hi = vaddq_f32(hi, vmulq_f32(vcvt_high_f32_f16(h), vld1q_f32(b + i + 4)));
  }
  float s[8];
  vst1q_f32(s, lo);
  vst1q_f32(s + 4, hi);
  for (int j = 0; i < n; ++i, ++j) s[j] += neon_load_f16(w + 2 * i) * b[i];
  return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

// Tiled F16 (weight_tiles.h): for column k the tile's 16 rows sit at byte
// 32 k, four vectors of rows; token j's x[k] multiplies them with one fused
// multiply-add per (row, token) pair and column, in column order, as the
// scalar reference does. A call covers one tile x C tokens.
inline constexpr int kF16Tokens = 4;

template <int C>
inline void f16_tile(const uint8_t* w, const float* x, int64_t n, float* y, int64_t y_stride, int n_rows) {
  float32x4_t acc[4][C];
  for (auto& row : acc)
    for (auto& v : row) v = vdupq_n_f32(0.0f);
  for (int64_t k = 0; k < n; ++k) {
    const uint8_t* p = w + 32 * k;
    __builtin_prefetch(p + 1024);
    const float16x8_t h0 = vreinterpretq_f16_u16(vld1q_u16(reinterpret_cast<const uint16_t*>(p)));
    const float16x8_t h1 = vreinterpretq_f16_u16(vld1q_u16(reinterpret_cast<const uint16_t*>(p + 16)));
    const float32x4_t wv[4] = {vcvt_f32_f16(vget_low_f16(h0)), vcvt_high_f32_f16(h0), vcvt_f32_f16(vget_low_f16(h1)),
                               vcvt_high_f32_f16(h1)};
    for (int j = 0; j < C; ++j) {
      const float xk = x[j * n + k];
      for (int v = 0; v < 4; ++v) acc[v][j] = vfmaq_n_f32(acc[v][j], wv[v], xk);
    }
  }
  for (int j = 0; j < C; ++j) {
    for (int v = 0; v < 4; ++v) {
      const int rows = std::min(kLanes, n_rows - v * kLanes);
      if (rows > 0) store_rows(y + j * y_stride + v * kLanes, acc[v][j], rows);
    }
  }
}

inline void neon_f16_tiled_matmul(const MatmulRange& m, const float* x, int64_t n) {
  constexpr int64_t kTokenBlock = 8 * kF16Tokens;  // activations kept in cache while the tiles pass
  const uint64_t tile_bytes = kWeightTileRows * m.row_bytes;
  const int64_t tile0 = m.r0 / kWeightTileRows;
  const int64_t tile1 = (m.r1 + kWeightTileRows - 1) / kWeightTileRows;
  for (int64_t tb = m.t0; tb < m.t1; tb += kTokenBlock) {
    const int64_t te = std::min(m.t1, tb + kTokenBlock);
    for (int64_t ti = tile0; ti < tile1; ++ti) {
      const int n_rows = static_cast<int>(std::min<int64_t>(kWeightTileRows, m.r1 - ti * kWeightTileRows));
      const uint8_t* w = m.w + static_cast<uint64_t>(ti) * tile_bytes;
      for (int64_t t = tb; t < te; t += kF16Tokens) {
        float* y = m.y + t * m.y_stride + ti * kWeightTileRows;
        switch (std::min<int64_t>(kF16Tokens, te - t)) {
          case 1: f16_tile<1>(w, x + t * n, n, y, m.y_stride, n_rows); break;
          case 2: f16_tile<2>(w, x + t * n, n, y, m.y_stride, n_rows); break;
          case 3: f16_tile<3>(w, x + t * n, n, y, m.y_stride, n_rows); break;
          default: f16_tile<4>(w, x + t * n, n, y, m.y_stride, n_rows); break;
        }
      }
    }
  }
}

inline void neon_float_matmul(const MatmulRange& m, const float* x, int64_t n) {
  if (m.tiled) {
    neon_f16_tiled_matmul(m, x, n);
    return;
  }
  for (int64_t t = m.t0; t < m.t1; ++t) {
    for (int64_t r = m.r0; r < m.r1; ++r) {
      const uint8_t* row = m.w + static_cast<uint64_t>(r) * m.row_bytes;
      m.y[t * m.y_stride + r] = m.type == GgmlType::f16
                                    ? neon_dot_f16(row, x + t * n, n)
                                    : neon_dot_f32(reinterpret_cast<const float*>(row), x + t * n, n);
    }
  }
}

// ---- Attention and element-wise kernels (vec.h's arithmetic) ----

inline void neon_attn_scores(const float* q, int64_t n_q, const float* k, int64_t n_k, int64_t hd, float scale,
                             float* s, int64_t s_stride) {
  for (int64_t g = 0; g < n_q; ++g)
    for (int64_t c = 0; c < n_k; ++c) s[g * s_stride + c] = neon_dot_f32(q + g * hd, k + c * hd, hd) * scale;
}

// acc[g] += p[g][c] * v[c] for each cell c in order (axpy_f32, a product
// then a sum): 16 columns of one head stay in registers while the cells pass.
inline void neon_attn_accumulate(const float* p, int64_t p_stride, int64_t n_q, const float* v, int64_t n_k,
                                 int64_t hd, float* acc) {
  for (int64_t g = 0; g < n_q; ++g) {
    float* ag = acc + g * hd;
    const float* pg = p + g * p_stride;
    int64_t i = 0;
    for (; i + 16 <= hd; i += 16) {
      float32x4_t r[4];
      for (int j = 0; j < 4; ++j) r[j] = vld1q_f32(ag + i + 4 * j);
      for (int64_t c = 0; c < n_k; ++c) {
        const float32x4_t pc = vdupq_n_f32(pg[c]);
        for (int j = 0; j < 4; ++j) r[j] = vaddq_f32(r[j], vmulq_f32(pc, vld1q_f32(v + c * hd + i + 4 * j)));
      }
      for (int j = 0; j < 4; ++j) vst1q_f32(ag + i + 4 * j, r[j]);
    }
    for (; i + 4 <= hd; i += 4) {
      float32x4_t r = vld1q_f32(ag + i);
      for (int64_t c = 0; c < n_k; ++c) r = vaddq_f32(r, vmulq_f32(vdupq_n_f32(pg[c]), vld1q_f32(v + c * hd + i)));
      vst1q_f32(ag + i, r);
    }
    for (; i < hd; ++i) {
      for (int64_t c = 0; c < n_k; ++c) ag[i] += pg[c] * v[c * hd + i];
    }
  }
}

// vec.h's exp_f32, the same roundings in the same order, four lanes at a time.
inline float32x4_t neon_exp(float32x4_t x) {
  const float32x4_t round = vdupq_n_f32(cpu::kExpRound);
  const float32x4_t n = vsubq_f32(vaddq_f32(vmulq_f32(x, vdupq_n_f32(cpu::kExpLog2e)), round), round);
  float32x4_t r = vsubq_f32(x, vmulq_f32(n, vdupq_n_f32(cpu::kExpLn2Hi)));
  r = vsubq_f32(r, vmulq_f32(n, vdupq_n_f32(cpu::kExpLn2Lo)));
  float32x4_t p = vdupq_n_f32(cpu::kExpPoly[0]);
  for (int i = 1; i < 6; ++i) p = vaddq_f32(vmulq_f32(p, r), vdupq_n_f32(cpu::kExpPoly[i]));
  const float32x4_t y = vaddq_f32(vaddq_f32(vmulq_f32(p, vmulq_f32(r, r)), r), vdupq_n_f32(1.0f));
  // Lanes outside [kExpLo, kExpHi] computed garbage (the float-to-int
  // conversion saturates, so no trap): replace them.
  const uint32x4_t below = vcltq_f32(x, vdupq_n_f32(cpu::kExpLo));
  const float32x4_t nn = vbslq_f32(below, vdupq_n_f32(0.0f), n);
  const float32x4_t pow2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(nn), vdupq_n_s32(127)), 23));
  float32x4_t e = vmulq_f32(y, pow2);
  e = vbslq_f32(vcgtq_f32(x, vdupq_n_f32(cpu::kExpHi)), vdupq_n_f32(std::numeric_limits<float>::infinity()), e);
  e = vbslq_f32(below, vdupq_n_f32(0.0f), e);
  return vbslq_f32(vceqq_f32(x, x), e, x);  // NaN stays itself
}

inline void neon_exp_shifted(float* s, int64_t n, float m) {
  const float32x4_t vm = vdupq_n_f32(m);
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) vst1q_f32(s + j, neon_exp(vsubq_f32(vld1q_f32(s + j), vm)));
  for (; j < n; ++j) s[j] = cpu::exp_f32(s[j] - m);
}

inline void neon_swiglu(const float* gate, const float* up, int64_t n, float* out) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t g = vld1q_f32(gate + i);
    vst1q_f32(out + i, vmulq_f32(vdivq_f32(g, vaddq_f32(one, neon_exp(vnegq_f32(g)))), vld1q_f32(up + i)));
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + cpu::exp_f32(-gate[i])) * up[i];
}

inline void neon_f16_to_f32(const uint8_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(reinterpret_cast<const uint16_t*>(src + 2 * i)));
    vst1q_f32(dst + i, vcvt_f32_f16(vget_low_f16(h)));
    vst1q_f32(dst + i + 4, vcvt_high_f32_f16(h));
  }
  for (; i < n; ++i) dst[i] = neon_load_f16(src + 2 * i);
}

}  // namespace
}  // namespace laneway::cpu_detail
