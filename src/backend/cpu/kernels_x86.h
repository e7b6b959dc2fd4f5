// x86 SIMD kernels, compiled twice: kernels_avx2.cpp (-mavx2 -mfma -mf16c)
// and kernels_avx512.cpp (adds AVX-512 F/BW/VL/VNNI). Include only from
// those files, inside their own namespace.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "backend/cpu/kernels.h"

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

// Sum over groups of 4 of unsigned(a) * signed(b), as 8 int32 lanes.
inline __m256i x86_dot_u8s8(__m256i a, __m256i b) {
#if LANEWAY_X86_AVX512
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), a, b);
#else
  const __m256i pairs = _mm256_maddubs_epi16(a, b);
  return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
#endif
}

inline void x86_quantize_q8_0(const float* x, uint8_t* out, int16_t* sums, int64_t n) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const float* xb = x + b * kQ8Block;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(xb + 8 * k);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, v[k]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float max_abs = _mm_cvtss_f32(m);
    const float d = max_abs / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t* blk = out + b * kQ8BlockBytes;
    const uint16_t dh = _cvtss_sh(d, 0);
    std::memcpy(blk, &dh, 2);
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    // Pack 32 int32 to 32 int8, then undo the lane interleave of the packs.
    const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
    const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
    __m256i p = _mm256_packs_epi16(p01, p23);
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(blk + 2), p);
    if (sums != nullptr) {
      const auto* q8 = reinterpret_cast<const int8_t*>(blk + 2);
      int s0 = 0, s1 = 0;
      for (int i = 0; i < 16; ++i) {
        s0 += q8[i];
        s1 += q8[16 + i];
      }
      sums[2 * b] = static_cast<int16_t>(s0);
      sums[2 * b + 1] = static_cast<int16_t>(s1);
    }
  }
}

// Q4_K rows (8 groups of 32 unsigned 4-bit values per 256) x Q8_0 activations.
template <int N>
inline void x86_dot_q4_k_n(const uint8_t* row, const uint8_t* const* act, const int16_t* const* sums, int64_t n,
                           float* out) {
  __m256 acc[N];
  float acc_min[N];
  for (int j = 0; j < N; ++j) {
    acc[j] = _mm256_setzero_ps();
    acc_min[j] = 0.0f;
  }
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  for (int64_t s = 0; s < n / 256; ++s) {
    const uint8_t* blk = row + s * 144;
    const float d = x86_load_f16(blk);
    const float dmin = x86_load_f16(blk + 2);
    for (int c = 0; c < 4; ++c) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * c));
      const __m256i halves[2] = {_mm256_and_si256(raw, low_mask),
                                 _mm256_and_si256(_mm256_srli_epi16(raw, 4), low_mask)};
      for (int h = 0; h < 2; ++h) {
        const int g = 2 * c + h;
        uint8_t sc, m;
        kquant_scale_min(blk + 4, g, sc, m);
        const int64_t b = s * 8 + g;
        for (int j = 0; j < N; ++j) {
          const uint8_t* ab = act[j] + b * kQ8BlockBytes;
          const float da = x86_load_f16(ab);
          const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab + 2));
          const __m256i dot = x86_dot_u8s8(halves[h], a);
          acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * static_cast<float>(sc) * da), _mm256_cvtepi32_ps(dot), acc[j]);
          acc_min[j] += (dmin * static_cast<float>(m) * da) * static_cast<float>(sums[j][2 * b] + sums[j][2 * b + 1]);
        }
      }
    }
  }
  for (int j = 0; j < N; ++j) out[j] = x86_hsum(acc[j]) - acc_min[j];
}

// Q6_K rows (16 groups of 16 six-bit values, offset 32, per 256) x Q8_0 activations.
template <int N>
inline void x86_dot_q6_k_n(const uint8_t* row, const uint8_t* const* act, const int16_t* const* sums, int64_t n,
                           float* out) {
  __m256 acc[N];
  float acc_off[N];
  for (int j = 0; j < N; ++j) {
    acc[j] = _mm256_setzero_ps();
    acc_off[j] = 0.0f;
  }
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(0x03);
  for (int64_t s = 0; s < n / 256; ++s) {
    const uint8_t* blk = row + s * 210;
    const float d = x86_load_f16(blk + 208);
    for (int half = 0; half < 2; ++half) {
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 128 + 32 * half));
      const __m256i ql[2] = {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * half)),
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 64 * half + 32))};
      for (int quad = 0; quad < 4; ++quad) {
        const __m256i lo = quad >= 2 ? _mm256_and_si256(_mm256_srli_epi16(ql[quad & 1], 4), low_mask)
                                     : _mm256_and_si256(ql[quad & 1], low_mask);
        const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * quad), two_bits), 4);
        const __m256i w = _mm256_or_si256(lo, hi);
        const int g = 4 * half + quad;
        const float sc_lo = static_cast<float>(q6k_scale(blk, g, 0));
        const float sc_hi = static_cast<float>(q6k_scale(blk, g, 1));
        const int64_t b = s * 8 + g;
        for (int j = 0; j < N; ++j) {
          const uint8_t* ab = act[j] + b * kQ8BlockBytes;
          const float dd = d * x86_load_f16(ab);
          const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab + 2));
          const __m256i dot = x86_dot_u8s8(w, a);
          const __m256 scale = _mm256_set_m128(_mm_set1_ps(dd * sc_hi), _mm_set1_ps(dd * sc_lo));
          acc[j] = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(dot), acc[j]);
          acc_off[j] += (dd * sc_lo * 32.0f) * static_cast<float>(sums[j][2 * b]);
          acc_off[j] += (dd * sc_hi * 32.0f) * static_cast<float>(sums[j][2 * b + 1]);
        }
      }
    }
  }
  for (int j = 0; j < N; ++j) out[j] = x86_hsum(acc[j]) - acc_off[j];
}

// Signed int8 weights of one block -> (|w|, activations with w's signs) dot.
template <int N, typename UnpackWeights>
inline void x86_dot_q8_blocks(const uint8_t* row, int64_t row_block, const uint8_t* const* act, int64_t n, float* out,
                              UnpackWeights unpack) {
  __m256 acc[N];
  for (int j = 0; j < N; ++j) acc[j] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / kQ8Block; ++b) {
    const uint8_t* wb = row + b * row_block;
    const __m256i w = unpack(wb + 2);
    const __m256i w_abs = _mm256_sign_epi8(w, w);
    const float dw = x86_load_f16(wb);
    for (int j = 0; j < N; ++j) {
      const uint8_t* ab = act[j] + b * kQ8BlockBytes;
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab + 2));
      const __m256i dot = x86_dot_u8s8(w_abs, _mm256_sign_epi8(a, w));
      acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x86_load_f16(ab)), _mm256_cvtepi32_ps(dot), acc[j]);
    }
  }
  for (int j = 0; j < N; ++j) out[j] = x86_hsum(acc[j]);
}

inline __m256i x86_unpack_q8_0(const uint8_t* qs) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
}

inline __m256i x86_unpack_q4_0(const uint8_t* qs) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
  return _mm256_sub_epi8(_mm256_and_si256(both, _mm256_set1_epi8(0x0F)), _mm256_set1_epi8(8));
}

// f32 activations times weights loaded by Load8 (8 floats at a time).
template <int N, typename Load8>
inline void x86_dot_float(const uint8_t* row, const float* const* act, int64_t n, float* out, Load8 load8,
                          float (*load1)(const uint8_t*, int64_t)) {
  __m256 acc0[N], acc1[N];
  for (int j = 0; j < N; ++j) acc0[j] = acc1[j] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 w0 = load8(row, i);
    const __m256 w1 = load8(row, i + 8);
    for (int j = 0; j < N; ++j) {
      acc0[j] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(act[j] + i), acc0[j]);
      acc1[j] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(act[j] + i + 8), acc1[j]);
    }
  }
  for (int j = 0; j < N; ++j) {
    float s = x86_hsum(_mm256_add_ps(acc0[j], acc1[j]));
    for (int64_t k = i; k < n; ++k) s += load1(row, k) * act[j][k];
    out[j] = s;
  }
}

inline __m256 x86_load8_f16(const uint8_t* row, int64_t i) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
}
inline __m256 x86_load8_f32(const uint8_t* row, int64_t i) { return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i); }
inline float x86_load1_f16(const uint8_t* row, int64_t i) { return x86_load_f16(row + 2 * i); }
inline float x86_load1_f32(const uint8_t* row, int64_t i) {
  float f;
  std::memcpy(&f, row + 4 * i, 4);
  return f;
}

inline void x86_f16_to_f32(const uint8_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, x86_load8_f16(src, i));
  for (; i < n; ++i) dst[i] = x86_load1_f16(src, i);
}

// Dispatch n_act (1..kMaxActs) to the template instance.
#define LANEWAY_X86_DISPATCH(call_n)        \
  switch (n_act) {                          \
    case 1: call_n(1); break;               \
    case 2: call_n(2); break;               \
    case 3: call_n(3); break;               \
    default: call_n(4); break;              \
  }

inline void x86_dot_q8_0(const uint8_t* row, const uint8_t* const* act, int n_act, int64_t n, float* out) {
#define CALL(N) x86_dot_q8_blocks<N>(row, kQ8BlockBytes, act, n, out, x86_unpack_q8_0)
  LANEWAY_X86_DISPATCH(CALL)
#undef CALL
}
inline void x86_dot_q4_0(const uint8_t* row, const uint8_t* const* act, int n_act, int64_t n, float* out) {
#define CALL(N) x86_dot_q8_blocks<N>(row, 18, act, n, out, x86_unpack_q4_0)
  LANEWAY_X86_DISPATCH(CALL)
#undef CALL
}
inline void x86_dot_q4_k(const uint8_t* row, const uint8_t* const* act, const int16_t* const* sums, int n_act,
                         int64_t n, float* out) {
#define CALL(N) x86_dot_q4_k_n<N>(row, act, sums, n, out)
  LANEWAY_X86_DISPATCH(CALL)
#undef CALL
}
inline void x86_dot_q6_k(const uint8_t* row, const uint8_t* const* act, const int16_t* const* sums, int n_act,
                         int64_t n, float* out) {
#define CALL(N) x86_dot_q6_k_n<N>(row, act, sums, n, out)
  LANEWAY_X86_DISPATCH(CALL)
#undef CALL
}
inline void x86_dot_f16(const uint8_t* row, const float* const* act, int n_act, int64_t n, float* out) {
#define CALL(N) x86_dot_float<N>(row, act, n, out, x86_load8_f16, x86_load1_f16)
  LANEWAY_X86_DISPATCH(CALL)
#undef CALL
}
inline void x86_dot_f32(const uint8_t* row, const float* const* act, int n_act, int64_t n, float* out) {
#define CALL(N) x86_dot_float<N>(row, act, n, out, x86_load8_f32, x86_load1_f32)
  LANEWAY_X86_DISPATCH(CALL)
#undef CALL
}

}  // namespace
}  // namespace laneway::cpu_detail
