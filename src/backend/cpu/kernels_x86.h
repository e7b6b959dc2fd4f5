// x86 SIMD kernels, compiled twice: kernels_avx2.cpp (-mavx2 -mfma -mf16c)
// and kernels_avx512.cpp (adds AVX-512 F/BW/VL/VNNI). Include only from
// those files, inside their own namespace. Attention and the element-wise
// kernels live in kernels_x86_attention.h on top of these helpers.
#pragma once

// GCC 12's AVX-512 intrinsic headers trip -Wmaybe-uninitialized on their
// own placeholder operands when inlined; nothing here is uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>

#include <cstdint>
#include <algorithm>
#include <climits>
#include <cstring>
#include <limits>

#include "backend/cpu/kernels.h"
#include "backend/cpu/weight_tiles.h"
#include "quant/blocks.h"
#include "quant/fp16.h"
#include "quant/quant.h"

#if defined(__AVX512F__) && defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define LANEWAY_X86_AVX512 1
#else
#define LANEWAY_X86_AVX512 0
#endif

// Internal linkage: this header is compiled once per ISA, and the copies
// must never be merged by the linker.
namespace laneway::cpu_detail {
namespace {

inline float x86_load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline float x86_hsum(__m256 v) {
  const __m128 lo = _mm256_castps256_ps128(v);
  const __m128 hi = _mm256_extractf128_ps(v, 1);
  __m128 s = _mm_add_ps(lo, hi);
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline void x86_quantize_acts(const float* x, int64_t n, int8_t* qs, uint8_t* qu, float* d, int16_t* s16) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 fmax = _mm256_set1_ps(std::numeric_limits<float>::max());
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const float* xb = x + b * kQ8Block;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    __m256 finite = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(xb + 8 * k);
      const __m256 a = _mm256_andnot_ps(sign_mask, v[k]);
      amax = _mm256_max_ps(amax, a);
      finite = _mm256_and_ps(finite, _mm256_cmp_ps(a, fmax, _CMP_LE_OQ));  // false for inf and NaN
    }
    __m256i p;
    if (_mm256_movemask_ps(finite) != 0xFF) {
      // The reference's NaN block, through the reference.
      uint8_t block[34];
      quantize_row(GgmlType::q8_0, xb, block, kQ8Block);
      uint16_t h;
      std::memcpy(&h, block, 2);
      d[b] = fp16_to_fp32(h);
      p = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
    } else {
      __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
      m = _mm_max_ps(m, _mm_movehl_ps(m, m));
      m = _mm_max_ss(m, _mm_movehdup_ps(m));
      const float scale = _mm_cvtss_f32(m) / 127.0f;
      // The f16 scale Q8_0 stores (clipped to the largest finite f16), and
      // 1/scale, or 0 when the stored scale is zero, as the reference does.
      d[b] = fp16_to_fp32(fp32_to_fp16(std::min(scale, 65504.0f)));
      const float inv = d[b] != 0.0f ? 1.0f / scale : 0.0f;
      const __m256 vinv = _mm256_set1_ps(inv), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
      __m256i q[4];
      for (int k = 0; k < 4; ++k) {
        // Clamp (a clipped scale leaves |x/d| above 127), then round to nearest, ties to even.
        const __m256 c = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v[k], vinv), lo), hi);
        q[k] = _mm256_cvtps_epi32(_mm256_round_ps(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
      }
      // Pack 32 int32 to 32 int8, then undo the lane interleave of the packs.
      const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
      const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
      p = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + b * kQ8Block), p);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qu + b * kQ8Block),
                        _mm256_xor_si256(p, _mm256_set1_epi8(static_cast<char>(0x80))));
    // Sums of each 16: widen to int16, add pairs, then fold.
    const __m256i w16 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), p), _mm256_set1_epi16(1));
    alignas(32) int32_t part[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(part), w16);
    s16[2 * b] = static_cast<int16_t>(part[0] + part[1] + part[2] + part[3]);
    s16[2 * b + 1] = static_cast<int16_t>(part[4] + part[5] + part[6] + part[7]);
  }
}

// ---- Quantized matmul (specification in kernels.h) ----
//
// Rows go in vector lanes: a tile of kLanes rows is transposed one block
// (32 columns) at a time into 8 vectors, vector g holding columns 4g..4g+3
// of every row, so one activation dword broadcast against it feeds a
// 4-term integer dot into each row's lane. Activations enter as unsigned
// bytes (value + 128); the tile carries -128 * (sum of its weights) per lane
// to start each dot from, which makes the dot exact and signed again.
// AVX2 has no 32-bit accumulating byte dot: pairs of products go through
// int16 (maddubs), which would saturate for Q8_0, so Q8_0 takes the sign
// trick there (|w| times a with w's sign) and needs no start value.

#if LANEWAY_X86_AVX512
using VecI = __m512i;
using VecF = __m512;
inline constexpr int kLanes = 16;
inline constexpr int kTokenTile = 8;
inline VecI vi_zero() { return _mm512_setzero_si512(); }
inline VecI vi_load(const void* p) { return _mm512_loadu_si512(p); }
inline VecI vi_bcast32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}
inline VecI vi_add(VecI a, VecI b) { return _mm512_add_epi32(a, b); }
inline VecI vi_sub(VecI a, VecI b) { return _mm512_sub_epi32(a, b); }
inline VecI vi_mullo(VecI a, VecI b) { return _mm512_mullo_epi32(a, b); }
inline VecI vi_set1_8(int8_t v) { return _mm512_set1_epi8(v); }
inline VecI vi_set1_32(int32_t v) { return _mm512_set1_epi32(v); }
inline VecI vi_and(VecI a, VecI b) { return _mm512_and_si512(a, b); }
inline VecI vi_or(VecI a, VecI b) { return _mm512_or_si512(a, b); }
inline VecI vi_srli16(VecI a, int n) { return _mm512_srli_epi16(a, static_cast<unsigned>(n)); }
inline VecI vi_slli16(VecI a, int n) { return _mm512_slli_epi16(a, static_cast<unsigned>(n)); }
inline VecI vi_srli32(VecI a, int n) { return _mm512_srli_epi32(a, static_cast<unsigned>(n)); }
inline VecI vi_slli32(VecI a, int n) { return _mm512_slli_epi32(a, static_cast<unsigned>(n)); }
// Lane r from 16 f16 / uint8 / int8 values at p.
inline VecF vf_load_f16(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline VecI vi_load_u8(const uint8_t* p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline VecI vi_load_s8(const uint8_t* p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
// acc + 4-term dots of unsigned u and signed s bytes, per 32-bit lane.
inline VecI vi_dot4(VecI acc, VecI u, VecI s) { return _mm512_dpbusd_epi32(acc, u, s); }
inline VecF vf_zero() { return _mm512_setzero_ps(); }
inline VecF vf_load(const void* p) { return _mm512_loadu_ps(static_cast<const float*>(p)); }
inline void vf_store(void* p, VecF v) { _mm512_storeu_ps(static_cast<float*>(p), v); }
inline VecF vf_set1(float v) { return _mm512_set1_ps(v); }
inline VecF vf_cvt(VecI v) { return _mm512_cvtepi32_ps(v); }
inline VecF vf_mul(VecF a, VecF b) { return _mm512_mul_ps(a, b); }
inline VecF vf_add(VecF a, VecF b) { return _mm512_add_ps(a, b); }
inline VecF vf_sub(VecF a, VecF b) { return _mm512_sub_ps(a, b); }
inline VecF vf_div(VecF a, VecF b) { return _mm512_div_ps(a, b); }
// Lane masks, and a select of b where the mask is set.
inline __mmask16 vf_gt(VecF a, VecF b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
inline __mmask16 vf_lt(VecF a, VecF b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
inline __mmask16 vf_nan(VecF a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
inline VecF vf_select(VecF a, VecF b, __mmask16 take_b) { return _mm512_mask_blend_ps(take_b, a, b); }
// 2^n for integral n in [-126, 127].
inline VecF vf_pow2(VecF n) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23));
}
inline VecF vf_neg(VecF a) { return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32(INT32_MIN))); }
inline VecF vf_fma(VecF a, VecF b, VecF c) { return _mm512_fmadd_ps(a, b, c); }
inline void vf_store_rows(float* y, VecF v, int n) { _mm512_mask_storeu_ps(y, static_cast<__mmask16>((1u << n) - 1), v); }

// Dword j (j < D) at src[r] + off of each of the 16 rows r, in lane r of out[j].
template <int D>
inline void transpose_rows(const uint8_t* const* src, int64_t off, VecI* out) {
  static_assert(D == 4 || D == 8);
  VecI in[4 * (D / 4)];
  if constexpr (D == 8) {  // in[k] = rows k | k + 8
    for (int k = 0; k < 8; ++k) {
      in[k] = _mm512_inserti64x4(
          _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src[k] + off))),
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src[k + 8] + off)), 1);
    }
  } else {  // in[k] = rows k | k + 4 | k + 8 | k + 12
    for (int k = 0; k < 4; ++k) {
      VecI v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src[k] + off)));
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[k + 4] + off)), 1);
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[k + 8] + off)), 2);
      in[k] = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[k + 12] + off)), 3);
    }
  }
  // 4x4 dword transposes inside each 128-bit lane.
  VecI u[4], v[4];
  for (int h = 0; h < D / 4; ++h) {
    const VecI* x = in + 4 * h;
    VecI* o = h == 0 ? u : v;
    const VecI t0 = _mm512_unpacklo_epi32(x[0], x[1]), t1 = _mm512_unpackhi_epi32(x[0], x[1]);
    const VecI t2 = _mm512_unpacklo_epi32(x[2], x[3]), t3 = _mm512_unpackhi_epi32(x[2], x[3]);
    o[0] = _mm512_unpacklo_epi64(t0, t2);
    o[1] = _mm512_unpackhi_epi64(t0, t2);
    o[2] = _mm512_unpacklo_epi64(t1, t3);
    o[3] = _mm512_unpackhi_epi64(t1, t3);
  }
  if constexpr (D == 4) {
    for (int g = 0; g < 4; ++g) out[g] = u[g];  // lane L of u already holds rows 4L..4L+3
  } else {
    // u: rows 0-3 | 0-3 (dword +4) | 8-11 | 8-11 (+4); v the same for rows 4-7, 12-15.
    const VecI lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
    const VecI hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    for (int g = 0; g < 4; ++g) {
      out[g] = _mm512_permutex2var_epi64(u[g], lo, v[g]);
      out[g + 4] = _mm512_permutex2var_epi64(u[g], hi, v[g]);
    }
  }
}
#else
using VecI = __m256i;
using VecF = __m256;
inline constexpr int kLanes = 8;
inline constexpr int kTokenTile = 4;
inline VecI vi_zero() { return _mm256_setzero_si256(); }
inline VecI vi_load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline VecI vi_bcast32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}
inline VecI vi_add(VecI a, VecI b) { return _mm256_add_epi32(a, b); }
inline VecI vi_sub(VecI a, VecI b) { return _mm256_sub_epi32(a, b); }
inline VecI vi_mullo(VecI a, VecI b) { return _mm256_mullo_epi32(a, b); }
inline VecI vi_set1_8(int8_t v) { return _mm256_set1_epi8(v); }
inline VecI vi_set1_32(int32_t v) { return _mm256_set1_epi32(v); }
inline VecI vi_and(VecI a, VecI b) { return _mm256_and_si256(a, b); }
inline VecI vi_or(VecI a, VecI b) { return _mm256_or_si256(a, b); }
inline VecI vi_srli16(VecI a, int n) { return _mm256_srli_epi16(a, n); }
inline VecI vi_slli16(VecI a, int n) { return _mm256_slli_epi16(a, n); }
inline VecI vi_srli32(VecI a, int n) { return _mm256_srli_epi32(a, n); }
inline VecI vi_slli32(VecI a, int n) { return _mm256_slli_epi32(a, n); }
// Lane r from 8 f16 / uint8 / int8 values at p.
inline VecF vf_load_f16(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline VecI vi_load_u8(const uint8_t* p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
inline VecI vi_load_s8(const uint8_t* p) { return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
// Only for |s| small enough that pairs of products fit int16 (not Q8_0).
inline VecI vi_dot4(VecI acc, VecI u, VecI s) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
inline VecF vf_zero() { return _mm256_setzero_ps(); }
inline VecF vf_load(const void* p) { return _mm256_loadu_ps(static_cast<const float*>(p)); }
inline void vf_store(void* p, VecF v) { _mm256_storeu_ps(static_cast<float*>(p), v); }
inline VecF vf_set1(float v) { return _mm256_set1_ps(v); }
inline VecF vf_cvt(VecI v) { return _mm256_cvtepi32_ps(v); }
inline VecF vf_mul(VecF a, VecF b) { return _mm256_mul_ps(a, b); }
inline VecF vf_add(VecF a, VecF b) { return _mm256_add_ps(a, b); }
inline VecF vf_sub(VecF a, VecF b) { return _mm256_sub_ps(a, b); }
inline VecF vf_div(VecF a, VecF b) { return _mm256_div_ps(a, b); }
inline VecF vf_gt(VecF a, VecF b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
inline VecF vf_lt(VecF a, VecF b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
inline VecF vf_nan(VecF a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
inline VecF vf_select(VecF a, VecF b, VecF take_b) { return _mm256_blendv_ps(a, b, take_b); }
inline VecF vf_pow2(VecF n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23));
}
inline VecF vf_neg(VecF a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
inline VecF vf_fma(VecF a, VecF b, VecF c) { return _mm256_fmadd_ps(a, b, c); }
inline void vf_store_rows(float* y, VecF v, int n) {
  alignas(32) float tmp[8];
  _mm256_store_ps(tmp, v);
  std::memcpy(y, tmp, static_cast<size_t>(n) * sizeof(float));
}

// Dword j (j < D) at src[r] + off of each of the 8 rows r, in lane r of out[j].
template <int D>
inline void transpose_rows(const uint8_t* const* src, int64_t off, VecI* out) {
  static_assert(D == 4 || D == 8);
  VecI in[8];
  if constexpr (D == 8) {
    for (int k = 0; k < 8; ++k) in[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src[k] + off));
  } else {  // in[k] = rows k | k + 4
    for (int k = 0; k < 4; ++k) {
      in[k] = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src[k + 4] + off)),
                               _mm_loadu_si128(reinterpret_cast<const __m128i*>(src[k] + off)));
    }
  }
  VecI u[4], v[4];
  for (int h = 0; h < D / 4; ++h) {
    const VecI* x = in + 4 * h;
    VecI* o = h == 0 ? u : v;
    const VecI t0 = _mm256_unpacklo_epi32(x[0], x[1]), t1 = _mm256_unpackhi_epi32(x[0], x[1]);
    const VecI t2 = _mm256_unpacklo_epi32(x[2], x[3]), t3 = _mm256_unpackhi_epi32(x[2], x[3]);
    o[0] = _mm256_unpacklo_epi64(t0, t2);
    o[1] = _mm256_unpackhi_epi64(t0, t2);
    o[2] = _mm256_unpacklo_epi64(t1, t3);
    o[3] = _mm256_unpackhi_epi64(t1, t3);
  }
  if constexpr (D == 4) {
    for (int g = 0; g < 4; ++g) out[g] = u[g];
  } else {
    for (int g = 0; g < 4; ++g) {
      out[g] = _mm256_permute2x128_si256(u[g], v[g], 0x20);
      out[g + 4] = _mm256_permute2x128_si256(u[g], v[g], 0x31);
    }
  }
}
#endif

// How a level multiplies a type's integer weights w with activations a:
//  - unsigned weights (Q4_0 as q, Q4_K, Q6_K as q): w times signed a, the dot
//    starting from -offset * sum(a) (offset 8 for Q4_0, 32 for Q6_K, 0 for Q4_K);
//  - Q8_0 on AVX-512: a + 128 (unsigned) times signed w, starting from
//    -128 * sum(w) per row (the tile carries it);
//  - Q8_0 on AVX2: the sign trick, |w| times a with w's signs (int16 pairs
//    of products would saturate otherwise).
inline constexpr bool sign_trick(GgmlType t) { return !LANEWAY_X86_AVX512 && t == GgmlType::q8_0; }

// Blocks of 32 columns a tile load transposes at once (they share packed bytes).
template <GgmlType T>
inline constexpr int kBlocksPerLoad = T == GgmlType::q4_k ? 2 : T == GgmlType::q6_k ? 4 : 1;

// One block of a tile of rows, transposed, with its per-row terms.
struct BlockTile {
  VecI w[8];    // w[g]: columns 4g..4g+3 of every row
  VecI start;   // Q8_0 on AVX-512: -128 * sum(w) per row
  VecF sw;      // weight scale per row
  VecF mw;      // Q4_K: dmin * m per row
  VecI sc_lo, sc_hi;  // Q6_K: scales of the two halves
};

// kBlocksPerLoad<T> tiles starting at block b (b a multiple of it).
// Where a tile's bytes come from. Offsets are bytes within a row's chunk
// (a block, or a K-quant super-block; weight_tiles.h).
//  RowsSource: row-major rows, one per lane (transposed on the fly).
//  TiledSource: a tiled matrix (plain vector loads, one sequential stream).
struct RowsSource {
  const uint8_t* const* rows;
  int64_t chunk = 0;  // byte offset of the current chunk in each row
  void set_chunk(int64_t c, uint64_t chunk_bytes) {
    chunk = c * static_cast<int64_t>(chunk_bytes);
    // Rows stream in parallel (one per lane): fetch ahead, as the hardware
    // prefetchers do not follow so many streams.
    for (int r = 0; r < kLanes; ++r) _mm_prefetch(reinterpret_cast<const char*>(rows[r] + chunk + 512), _MM_HINT_T0);
  }
  template <int D>
  void dwords(int64_t off, VecI* out) const { transpose_rows<D>(rows, chunk + off, out); }
  VecF f16s(int64_t off) const {
    alignas(64) float v[kLanes];
    for (int r = 0; r < kLanes; ++r) v[r] = x86_load_f16(rows[r] + chunk + off);
    return vf_load(v);
  }
  VecI bytes_u(int64_t off) const {
    alignas(64) int32_t v[kLanes];
    for (int r = 0; r < kLanes; ++r) v[r] = rows[r][chunk + off];
    return vi_load(v);
  }
  VecI bytes_s(int64_t off) const {
    alignas(64) int32_t v[kLanes];
    for (int r = 0; r < kLanes; ++r) v[r] = static_cast<int8_t>(rows[r][chunk + off]);
    return vi_load(v);
  }
};

struct TiledSource {
  const uint8_t* tile;  // the tile of 16 rows
  int64_t lane0 = 0;    // first row of the tile in lane 0 (AVX2 takes 8 at a time)
  const uint8_t* base = nullptr;
  void set_chunk(int64_t c, uint64_t chunk_bytes) {
    base = tile + static_cast<uint64_t>(c) * kWeightTileRows * chunk_bytes;
    for (uint64_t i = 0; i < kWeightTileRows * chunk_bytes; i += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(base + kPrefetchAhead + i), _MM_HINT_T0);
    }
  }
  static constexpr int64_t kPrefetchAhead = 2048;
  template <int D>
  void dwords(int64_t off, VecI* out) const {
    for (int j = 0; j < D; ++j) out[j] = vi_load(base + 16 * (off + 4 * j) + 4 * lane0);
  }
  VecF f16s(int64_t off) const { return vf_load_f16(base + 16 * off + 2 * lane0); }
  VecI bytes_u(int64_t off) const { return vi_load_u8(base + 16 * off + lane0); }
  VecI bytes_s(int64_t off) const { return vi_load_s8(base + 16 * off + lane0); }
};

// kBlocksPerLoad<T> tiles starting at block b (b a multiple of it).
template <GgmlType T, typename Source>
[[gnu::always_inline]] inline void load_block_tiles(Source& src, int64_t b, BlockTile* tiles) {
  const VecI low_mask = vi_set1_8(0x0F);
  if constexpr (T == GgmlType::q8_0) {
    src.set_chunk(b, 34);
    BlockTile& t = tiles[0];
    src.template dwords<8>(2, t.w);
    t.sw = src.f16s(0);
    if constexpr (!sign_trick(T)) {
      const VecI k128 = vi_set1_8(static_cast<int8_t>(0x80));
      VecI sum = vi_zero();
      for (int g = 0; g < 8; ++g) sum = vi_dot4(sum, k128, t.w[g]);
      t.start = vi_sub(vi_zero(), sum);
    }
  } else if constexpr (T == GgmlType::q4_0) {
    src.set_chunk(b, 18);
    BlockTile& t = tiles[0];
    VecI packed[4];  // byte i: column i (low nibble) and column i + 16 (high)
    src.template dwords<4>(2, packed);
    for (int j = 0; j < 4; ++j) {
      t.w[j] = vi_and(packed[j], low_mask);
      t.w[j + 4] = vi_and(vi_srli16(packed[j], 4), low_mask);
    }
    t.sw = src.f16s(0);
  } else if constexpr (T == GgmlType::q4_k) {
    src.set_chunk(b / 8, 144);
    const int g0 = static_cast<int>(b % 8);  // even: low nibbles are group g0, high g0 + 1
    VecI packed[8];
    src.template dwords<8>(16 + 32 * (g0 / 2), packed);
    for (int j = 0; j < 8; ++j) {
      tiles[0].w[j] = vi_and(packed[j], low_mask);
      tiles[1].w[j] = vi_and(vi_srli16(packed[j], 4), low_mask);
    }
    const VecF d = src.f16s(0), dmin = src.f16s(2);
    const VecI m6 = vi_set1_32(63), m4 = vi_set1_32(15);
    for (int h = 0; h < 2; ++h) {  // kscale6_q4 (quant/blocks.h), on 32-bit lanes; scale byte k at chunk byte 4 + k
      const int j = g0 + h;
      VecI sc, m;
      if (j < 4) {
        sc = vi_and(src.bytes_u(4 + j), m6);
        m = vi_and(src.bytes_u(8 + j), m6);
      } else {
        const VecI hi = src.bytes_u(8 + j);
        sc = vi_or(vi_and(hi, m4), vi_slli32(vi_srli32(src.bytes_u(j), 6), 4));
        m = vi_or(vi_srli32(hi, 4), vi_slli32(vi_srli32(src.bytes_u(4 + j), 6), 4));
      }
      tiles[h].sw = vf_mul(d, vf_cvt(sc));
      tiles[h].mw = vf_mul(dmin, vf_cvt(m));
    }
  } else {  // q6_k: the four groups of one half share ql (64 bytes) and qh (32)
    src.set_chunk(b / 8, 210);
    const int half = static_cast<int>(b % 8) / 4;
    VecI ql[2][8], qh[8];
    src.template dwords<8>(64 * half, ql[0]);
    src.template dwords<8>(64 * half + 32, ql[1]);
    src.template dwords<8>(128 + 32 * half, qh);
    const VecI two_bits = vi_set1_8(3);
    const VecF d = src.f16s(208);
    for (int quad = 0; quad < 4; ++quad) {
      for (int j = 0; j < 8; ++j) {
        const VecI x = ql[quad & 1][j];
        const VecI lo = vi_and(quad >= 2 ? vi_srli16(x, 4) : x, low_mask);
        const VecI hi = vi_slli16(vi_and(vi_srli16(qh[j], 2 * quad), two_bits), 4);
        tiles[quad].w[j] = vi_or(lo, hi);
      }
      const int g = 4 * half + quad;
      tiles[quad].sw = d;
      tiles[quad].sc_lo = src.bytes_s(192 + 8 * (g / 4) + 2 * (g % 4));
      tiles[quad].sc_hi = src.bytes_s(192 + 8 * (g / 4) + 2 * (g % 4) + 1);
    }
  }
}

// start + the 4-term byte dots of u(g) (unsigned) and s(g) (signed) over
// the block's 8 groups, as two chains (exact, so the split changes nothing)
// to halve the latency when one token is all there is to overlap (decode).
template <typename U, typename S>
[[gnu::always_inline]] inline VecI block_dot(VecI start, U u, S s) {
  VecI even = start, odd = vi_zero();
  for (int g = 0; g < 8; g += 2) {
    even = vi_dot4(even, u(g), s(g));
    odd = vi_dot4(odd, u(g + 1), s(g + 1));
  }
  return vi_add(even, odd);
}

// acc (per row lane) for one token and one block, per the specification.
template <GgmlType T>
[[gnu::always_inline]] inline VecF block_step(const BlockTile& tile, const QuantActs& a, int64_t t, int64_t b, VecF acc) {
  const int16_t* s16 = a.s16 + t * (a.n / 16) + 2 * b;
  const int8_t* qs = a.qs + t * a.n + b * kQ8Block;
  VecI idot;
  if constexpr (T == GgmlType::q8_0) {
#if LANEWAY_X86_AVX512
    const uint8_t* qu = a.qu + t * a.n + b * kQ8Block;
    idot = block_dot(tile.start, [&](int g) { return vi_bcast32(qu + 4 * g); }, [&](int g) { return tile.w[g]; });
#else
    idot = vi_zero();
    for (int g = 0; g < 8; ++g) {
      const VecI act = vi_bcast32(qs + 4 * g);
      const VecI prod = _mm256_maddubs_epi16(_mm256_sign_epi8(tile.w[g], tile.w[g]), _mm256_sign_epi8(act, tile.w[g]));
      idot = _mm256_add_epi32(idot, _mm256_madd_epi16(prod, _mm256_set1_epi16(1)));
    }
#endif
  } else if constexpr (T == GgmlType::q6_k) {
    VecI lo = vi_set1_32(-32 * s16[0]), hi = vi_set1_32(-32 * s16[1]);
    for (int g = 0; g < 4; ++g) lo = vi_dot4(lo, tile.w[g], vi_bcast32(qs + 4 * g));
    for (int g = 4; g < 8; ++g) hi = vi_dot4(hi, tile.w[g], vi_bcast32(qs + 4 * g));
    idot = vi_add(vi_mullo(lo, tile.sc_lo), vi_mullo(hi, tile.sc_hi));
  } else {
    const VecI start = T == GgmlType::q4_0 ? vi_set1_32(-8 * (s16[0] + s16[1])) : vi_zero();
#if LANEWAY_X86_AVX512
    idot = block_dot(start, [&](int g) { return tile.w[g]; }, [&](int g) { return vi_bcast32(qs + 4 * g); });
#else
    // 4-bit weights: the int16 pair sums of all 8 groups fit in int16
    // (8 x 2 x 15 x 128 = 30720), so they add up there before widening.
    __m256i sum16 = _mm256_maddubs_epi16(tile.w[0], vi_bcast32(qs));
    for (int g = 1; g < 8; ++g) sum16 = _mm256_add_epi16(sum16, _mm256_maddubs_epi16(tile.w[g], vi_bcast32(qs + 4 * g)));
    idot = vi_add(start, _mm256_madd_epi16(sum16, _mm256_set1_epi16(1)));
#endif
  }
  const float da = a.d[t * (a.n / kQ8Block) + b];
  acc = vf_fma(vf_cvt(idot), vf_mul(tile.sw, vf_set1(da)), acc);
  if constexpr (T == GgmlType::q4_k) {
    acc = vf_fma(vf_set1(static_cast<float>(s16[0] + s16[1])), vf_neg(vf_mul(tile.mw, vf_set1(da))), acc);
  }
  return acc;
}

// Tokens [t0, t0 + C) against one tile of rows; tiles come from get_tile(b).
template <GgmlType T, int C, typename GetTile>
inline void tile_tokens(const QuantActs& a, int64_t t0, int64_t n_blocks, GetTile get_tile, float* y,
                        int64_t y_stride, int n_rows) {
  VecF acc[C];
  for (int c = 0; c < C; ++c) acc[c] = vf_zero();
  for (int64_t b = 0; b < n_blocks; ++b) {
    const BlockTile& tile = get_tile(b);
    for (int c = 0; c < C; ++c) acc[c] = block_step<T>(tile, a, t0 + c, b, acc[c]);
  }
  for (int c = 0; c < C; ++c) {
    float* yc = y + (t0 + c) * y_stride;
    if (n_rows == kLanes) {
      vf_store(yc, acc[c]);
    } else {
      vf_store_rows(yc, acc[c], n_rows);
    }
  }
}

template <GgmlType T, typename GetTile>
inline void tile_token_range(const QuantActs& a, int64_t t0, int64_t t1, int64_t n_blocks, GetTile get_tile, float* y,
                             int64_t y_stride, int n_rows) {
  int64_t t = t0;
  for (; t + kTokenTile <= t1; t += kTokenTile) {
    tile_tokens<T, kTokenTile>(a, t, n_blocks, get_tile, y, y_stride, n_rows);
  }
  switch (t1 - t) {
    case 0: break;
    case 1: tile_tokens<T, 1>(a, t, n_blocks, get_tile, y, y_stride, n_rows); break;
    case 2: tile_tokens<T, 2>(a, t, n_blocks, get_tile, y, y_stride, n_rows); break;
    case 3: tile_tokens<T, 3>(a, t, n_blocks, get_tile, y, y_stride, n_rows); break;
#if LANEWAY_X86_AVX512
    case 4: tile_tokens<T, 4>(a, t, n_blocks, get_tile, y, y_stride, n_rows); break;
    case 5: tile_tokens<T, 5>(a, t, n_blocks, get_tile, y, y_stride, n_rows); break;
    case 6: tile_tokens<T, 6>(a, t, n_blocks, get_tile, y, y_stride, n_rows); break;
    default: tile_tokens<T, 7>(a, t, n_blocks, get_tile, y, y_stride, n_rows); break;
#else
    default: break;
#endif
  }
}

// Rows [r, r + n_rows) (n_rows <= kLanes) from src, for every token.
template <GgmlType T, typename Source>
inline void rows_times_tokens(Source& src, const QuantActs& a, int64_t t0, int64_t t1, float* y, int64_t y_stride,
                              int n_rows, BlockTile* scratch_tiles) {
  constexpr int kLoad = kBlocksPerLoad<T>;
  const int64_t n_blocks = a.n / kQ8Block;
  // Few tokens: load each block's tile and use it at once. Many: load the
  // row tile once into scratch, then let every group of tokens pass over it.
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

template <GgmlType T>
inline void x86_quant_matmul_t(const MatmulRange& m, const QuantActs& a, uint8_t* scratch) {
  auto* tiles = reinterpret_cast<BlockTile*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t{63});
  for (int64_t r = m.r0; r < m.r1; r += kLanes) {
    const int n_rows = static_cast<int>(std::min<int64_t>(kLanes, m.r1 - r));
    if (m.tiled) {
      TiledSource src{m.w + static_cast<uint64_t>(r / kWeightTileRows) * kWeightTileRows * m.row_bytes,
                      r % kWeightTileRows};
      rows_times_tokens<T>(src, a, m.t0, m.t1, m.y + r, m.y_stride, n_rows, tiles);
    } else {
      const uint8_t* rows[kLanes];
      for (int k = 0; k < kLanes; ++k) {
        rows[k] = m.w + static_cast<uint64_t>(r + std::min(k, n_rows - 1)) * m.row_bytes;
      }
      RowsSource src{rows};
      rows_times_tokens<T>(src, a, m.t0, m.t1, m.y + r, m.y_stride, n_rows, tiles);
    }
  }
}

inline void x86_quant_matmul(const MatmulRange& m, const QuantActs& a, uint8_t* scratch) {
  switch (m.type) {
    case GgmlType::q8_0: x86_quant_matmul_t<GgmlType::q8_0>(m, a, scratch); break;
    case GgmlType::q4_0: x86_quant_matmul_t<GgmlType::q4_0>(m, a, scratch); break;
    case GgmlType::q4_k: x86_quant_matmul_t<GgmlType::q4_k>(m, a, scratch); break;
    default: x86_quant_matmul_t<GgmlType::q6_k>(m, a, scratch); break;
  }
}

// ---- F16 / F32 weights times f32 activations ----
//
// A tile of R rows x C tokens keeps one accumulator vector per pair (lanes
// over columns), loads each weight vector once for C tokens and each
// activation vector once for R rows; the column tail goes through zero-
// padded lanes; then a fixed horizontal sum. Every pair's arithmetic is the
// same in any tile.

#if LANEWAY_X86_AVX512
inline constexpr int kFloatRows = 4, kFloatTokens = 6;
inline float vf_hsum(VecF v) { return _mm512_reduce_add_ps(v); }
template <bool F16>
inline VecF load_weights(const uint8_t* row, int64_t k) {
  if constexpr (F16) return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k)));
  return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + k);
}
template <bool F16>
inline VecF load_weights_tail(const uint8_t* row, int64_t k, int64_t rest) {
  const auto mask = static_cast<__mmask16>((1u << rest) - 1);
  if constexpr (F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, row + 2 * k));
  return _mm512_maskz_loadu_ps(mask, reinterpret_cast<const float*>(row) + k);
}
inline VecF load_acts_tail(const float* x, int64_t k, int64_t rest) {
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << rest) - 1), x + k);
}
#else
inline constexpr int kFloatRows = 2, kFloatTokens = 4;
inline float vf_hsum(VecF v) { return x86_hsum(v); }
template <bool F16>
inline VecF load_weights(const uint8_t* row, int64_t k) {
  if constexpr (F16) return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
  return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + k);
}
template <bool F16>
inline VecF load_weights_tail(const uint8_t* row, int64_t k, int64_t rest) {
  alignas(32) uint8_t tmp[32] = {};
  std::memcpy(tmp, row + (F16 ? 2 : 4) * k, static_cast<size_t>(rest) * (F16 ? 2 : 4));
  return load_weights<F16>(tmp, 0);
}
inline VecF load_acts_tail(const float* x, int64_t k, int64_t rest) {
  alignas(32) float tmp[8] = {};
  std::memcpy(tmp, x + k, static_cast<size_t>(rest) * sizeof(float));
  return _mm256_load_ps(tmp);
}
#endif

template <bool F16, int R, int C>
inline void float_tile(const uint8_t* w, uint64_t row_bytes, const float* x, int64_t n, float* y, int64_t y_stride) {
  constexpr int64_t L = kLanes;
  VecF acc[R][C];
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) acc[i][j] = vf_zero();
  int64_t k = 0;
  for (; k + L <= n; k += L) {
    VecF wv[R];
    for (int i = 0; i < R; ++i) {
      // R row streams: fetch ahead of each (decode reads weights from DRAM).
      _mm_prefetch(reinterpret_cast<const char*>(w + i * row_bytes + (F16 ? 2 : 4) * k + 1024), _MM_HINT_T0);
      wv[i] = load_weights<F16>(w + i * row_bytes, k);
    }
    for (int j = 0; j < C; ++j) {
      const VecF xv = vf_load(x + j * n + k);
      for (int i = 0; i < R; ++i) acc[i][j] = vf_fma(wv[i], xv, acc[i][j]);
    }
  }
  if (k < n) {
    const int64_t rest = n - k;
    VecF wv[R];
    for (int i = 0; i < R; ++i) wv[i] = load_weights_tail<F16>(w + i * row_bytes, k, rest);
    for (int j = 0; j < C; ++j) {
      const VecF xv = load_acts_tail(x + j * n, k, rest);
      for (int i = 0; i < R; ++i) acc[i][j] = vf_fma(wv[i], xv, acc[i][j]);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) y[j * y_stride + i] = vf_hsum(acc[i][j]);
}

// float_tile<F16, nr, nc> for run-time nr <= R, nc <= C.
template <bool F16, int R, int C>
inline void float_tile_any(int nr, int nc, const uint8_t* w, uint64_t row_bytes, const float* x, int64_t n, float* y,
                           int64_t y_stride) {
  if constexpr (R > 1) {
    if (nr < R) return float_tile_any<F16, R - 1, C>(nr, nc, w, row_bytes, x, n, y, y_stride);
  }
  if constexpr (C > 1) {
    if (nc < C) return float_tile_any<F16, R, C - 1>(nr, nc, w, row_bytes, x, n, y, y_stride);
  }
  float_tile<F16, R, C>(w, row_bytes, x, n, y, y_stride);
}

template <bool F16>
inline void x86_float_matmul_t(const MatmulRange& m, const float* x, int64_t n) {
  // Blocks of tokens whose activations stay in L2 while the rows pass.
  constexpr int64_t kTokenBlock = 8 * kFloatTokens;
  constexpr int64_t kDecodeRows = 1;
  for (int64_t tb = m.t0; tb < m.t1; tb += kTokenBlock) {
    const int64_t te = std::min(m.t1, tb + kTokenBlock);
    // A lone token (decode) reads rows from DRAM: fewer rows at once keep
    // the streams few (the arithmetic per pair is the same either way).
    const int64_t rows_step = te - tb == 1 ? kDecodeRows : kFloatRows;
    for (int64_t r = m.r0; r < m.r1; r += rows_step) {
      const int nr = static_cast<int>(std::min<int64_t>(rows_step, m.r1 - r));
      const uint8_t* w = m.w + static_cast<uint64_t>(r) * m.row_bytes;
      for (int64_t t = tb; t < te; t += kFloatTokens) {
        const int nc = static_cast<int>(std::min<int64_t>(kFloatTokens, te - t));
        const float* xt = x + t * n;
        float* y = m.y + t * m.y_stride + r;
        float_tile_any<F16, kFloatRows, kFloatTokens>(nr, nc, w, m.row_bytes, xt, n, y, m.y_stride);
      }
    }
  }
}

// ---- Tiled F16 weights: rows in lanes ----
//
// For each column k, one vector load of a tile gives the 16 rows' values
// (weight_tiles.h), multiplied by token j's x[k] broadcast: one fused
// multiply-add per (row, token) pair and column, in column order, as the
// scalar reference does. A kernel call covers T tiles x C tokens; a tile
// is kRowVecs vectors (2 on AVX2).
inline constexpr int kRowVecs = 16 / kLanes;
#if LANEWAY_X86_AVX512
inline constexpr int kF16Tiles = 4, kF16Tokens = 6;
inline void load_tile_column(const uint8_t* p, VecF* out) { out[0] = vf_load_f16(p); }
#else
inline constexpr int kF16Tiles = 1, kF16Tokens = 6;
inline void load_tile_column(const uint8_t* p, VecF* out) {
  out[0] = vf_load_f16(p);
  out[1] = vf_load_f16(p + 16);
}
#endif

// Tiles at w (tile_bytes apart) x tokens at x; rows past n_rows_last in
// the last tile (padding) are not stored.
template <int T, int C>
inline void f16_tiles(const uint8_t* w, uint64_t tile_bytes, const float* x, int64_t n, float* y, int64_t y_stride,
                      int n_rows_last) {
  VecF acc[T * kRowVecs][C];
  for (auto& row : acc)
    for (auto& a : row) a = vf_zero();
  for (int64_t k = 0; k < n; ++k) {
    VecF wv[T * kRowVecs];
    for (int i = 0; i < T; ++i) {
      const uint8_t* p = w + i * tile_bytes + 32 * k;
      _mm_prefetch(reinterpret_cast<const char*>(p + 1024), _MM_HINT_T0);
      load_tile_column(p, wv + i * kRowVecs);
    }
    for (int j = 0; j < C; ++j) {
      const VecF xb = vf_set1(x[j * n + k]);
      for (int v = 0; v < T * kRowVecs; ++v) acc[v][j] = vf_fma(wv[v], xb, acc[v][j]);
    }
  }
  for (int j = 0; j < C; ++j) {
    for (int v = 0; v < T * kRowVecs; ++v) {
      const int rows = v / kRowVecs == T - 1 ? n_rows_last - (v % kRowVecs) * kLanes : kLanes;
      float* out = y + j * y_stride + v * kLanes;
      if (rows >= kLanes) vf_store(out, acc[v][j]);
      else if (rows > 0) vf_store_rows(out, acc[v][j], rows);
    }
  }
}

// f16_tiles<nt, nc> for run-time nt <= T, nc <= C.
template <int T, int C>
inline void f16_tiles_any(int nt, int nc, const uint8_t* w, uint64_t tile_bytes, const float* x, int64_t n, float* y,
                          int64_t y_stride, int n_rows_last) {
  if constexpr (T > 1) {
    if (nt < T) return f16_tiles_any<T - 1, C>(nt, nc, w, tile_bytes, x, n, y, y_stride, n_rows_last);
  }
  if constexpr (C > 1) {
    if (nc < C) return f16_tiles_any<T, C - 1>(nt, nc, w, tile_bytes, x, n, y, y_stride, n_rows_last);
  }
  f16_tiles<T, C>(w, tile_bytes, x, n, y, y_stride, n_rows_last);
}

inline void x86_f16_tiled_matmul(const MatmulRange& m, const float* x, int64_t n) {
  constexpr int64_t kTokenBlock = 8 * kF16Tokens;  // activations kept in L2 while the tiles pass
  const uint64_t tile_bytes = kWeightTileRows * m.row_bytes;
  const int64_t tile0 = m.r0 / kWeightTileRows;
  const int64_t tile1 = (m.r1 + kWeightTileRows - 1) / kWeightTileRows;
  for (int64_t tb = m.t0; tb < m.t1; tb += kTokenBlock) {
    const int64_t te = std::min(m.t1, tb + kTokenBlock);
    for (int64_t ti = tile0; ti < tile1; ti += kF16Tiles) {
      const int nt = static_cast<int>(std::min<int64_t>(kF16Tiles, tile1 - ti));
      const int n_rows_last = static_cast<int>(std::min<int64_t>(kWeightTileRows, m.r1 - (ti + nt - 1) * kWeightTileRows));
      for (int64_t t = tb; t < te; t += kF16Tokens) {
        const int nc = static_cast<int>(std::min<int64_t>(kF16Tokens, te - t));
        f16_tiles_any<kF16Tiles, kF16Tokens>(nt, nc, m.w + static_cast<uint64_t>(ti) * tile_bytes, tile_bytes,
                                             x + t * n, n, m.y + t * m.y_stride + ti * kWeightTileRows, m.y_stride,
                                             n_rows_last);
      }
    }
  }
}

inline void x86_float_matmul(const MatmulRange& m, const float* x, int64_t n) {
  if (m.tiled) {
    x86_f16_tiled_matmul(m, x, n);
  } else if (m.type == GgmlType::f16) {
    x86_float_matmul_t<true>(m, x, n);
  } else {
    x86_float_matmul_t<false>(m, x, n);
  }
}

inline __m256 x86_load8_f16(const uint8_t* row, int64_t i) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
}
inline float x86_load1_f16(const uint8_t* row, int64_t i) { return x86_load_f16(row + 2 * i); }

inline void x86_f16_to_f32(const uint8_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, x86_load8_f16(src, i));
  for (; i < n; ++i) dst[i] = x86_load1_f16(src, i);
}

}  // namespace
}  // namespace laneway::cpu_detail
