// x86 SIMD kernels for attention and the element-wise ops: the score and
// value-accumulation kernels, exp, SwiGLU. Compiled twice with
// kernels_x86.h (its vector helpers); include only from kernels_avx2.cpp
// and kernels_avx512.cpp.
#pragma once

#include <limits>

#include "backend/cpu/kernels_x86.h"
#include "backend/cpu/vec.h"

namespace laneway::cpu_detail {
namespace {

// ---- Attention: vec.h's dot_f32 and axpy_f32 arithmetic, many at once ----
//
// A score is dot_f32: 8 partial sums (lane j takes elements j, j + 8, ...,
// a product then a sum, never fused), then the tree
// ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7)). Here the partial sums
// of several cells run side by side (one cell per 8 lanes) and one
// transposing reduction applies that tree to all of them at once.

#if LANEWAY_X86_AVX512
inline constexpr int kScoreCells = 16;  // cells per group: 8 vectors of 2 cells
inline VecF score_chunk(const float* a, const float* b) {
  const __m512d lo = _mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(a)));
  return _mm512_castpd_ps(_mm512_insertf64x4(lo, _mm256_castps_pd(_mm256_loadu_ps(b)), 1));
}
inline VecF score_query(const float* q) {
  return _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_castps_pd(_mm256_loadu_ps(q))));
}
// acc[p] holds cells 2p (low half) and 2p + 1 (high half); returns the 16
// finished sums in cell order.
inline VecF score_tree(const VecF* acc) {
  VecF u[4], w[2];
  for (int i = 0; i < 4; ++i) {  // s_j + s_{j+4}: the two 128-bit lanes of each cell
    u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(acc[2 * i], acc[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(acc[2 * i], acc[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  }
  for (int i = 0; i < 2; ++i) {  // then neighbours, twice
    w[i] = _mm512_add_ps(_mm512_shuffle_ps(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  }
  const VecF z = _mm512_add_ps(_mm512_shuffle_ps(w[0], w[1], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm512_shuffle_ps(w[0], w[1], _MM_SHUFFLE(3, 1, 3, 1)));
  // z holds cell c at 4 * (c % 4) + c / 4.
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), z);
}
#else
inline constexpr int kScoreCells = 8;  // 8 vectors of 1 cell
inline VecF score_chunk(const float* a, const float*) { return _mm256_loadu_ps(a); }
inline VecF score_query(const float* q) { return _mm256_loadu_ps(q); }
inline VecF score_tree(const VecF* acc) {
  VecF u[4], w[2];
  for (int i = 0; i < 4; ++i) {
    u[i] = _mm256_add_ps(_mm256_permute2f128_ps(acc[2 * i], acc[2 * i + 1], 0x20),
                         _mm256_permute2f128_ps(acc[2 * i], acc[2 * i + 1], 0x31));
  }
  for (int i = 0; i < 2; ++i) {
    w[i] = _mm256_add_ps(_mm256_shuffle_ps(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm256_shuffle_ps(u[2 * i], u[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  }
  const VecF z = _mm256_add_ps(_mm256_shuffle_ps(w[0], w[1], _MM_SHUFFLE(2, 0, 2, 0)),
                               _mm256_shuffle_ps(w[0], w[1], _MM_SHUFFLE(3, 1, 3, 1)));
  // z holds cell c at 4 * (c % 2) + c / 2.
  return _mm256_permutevar8x32_ps(z, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
#endif
inline constexpr int kScorePairs = kScoreCells * 8 / kLanes;  // accumulator vectors per group

// One dot_f32 (vec.h's arithmetic: lane j sums elements j, j + 8, ... with
// separate multiplies and adds; the tail goes to lanes 0.. in order; the same tree).
inline float x86_dot_f32(const float* a, const float* b, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  alignas(32) float lane[8];
  _mm256_store_ps(lane, acc);
  for (int j = 0; i < n; ++i, ++j) lane[j] += a[i] * b[i];
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

inline void x86_attn_scores(const float* q, int64_t n_q, const float* k, int64_t n_k, int64_t hd, float scale,
                            float* s, int64_t s_stride) {
  if (hd % 8 != 0) {  // a partial last chunk: one dot at a time
    for (int64_t g = 0; g < n_q; ++g)
      for (int64_t c = 0; c < n_k; ++c) s[g * s_stride + c] = x86_dot_f32(q + g * hd, k + c * hd, hd) * scale;
    return;
  }
  const VecF vscale = vf_set1(scale);
  for (int64_t c0 = 0; c0 < n_k; c0 += kScoreCells) {
    const int nc = static_cast<int>(std::min<int64_t>(kScoreCells, n_k - c0));
    // Cells past the end repeat the last one (computed, never stored).
    const float* rows[kScoreCells];
    for (int c = 0; c < kScoreCells; ++c) rows[c] = k + (c0 + std::min(c, nc - 1)) * hd;
    for (int64_t g = 0; g < n_q; ++g) {
      const float* qg = q + g * hd;
      VecF acc[kScorePairs];
      for (int p = 0; p < kScorePairs; ++p) acc[p] = vf_zero();
      for (int64_t i = 0; i < hd; i += 8) {
        const VecF qv = score_query(qg + i);
        for (int p = 0; p < kScorePairs; ++p) {
          const int c = p * kScoreCells / kScorePairs;
          acc[p] = vf_add(acc[p], vf_mul(qv, score_chunk(rows[c] + i, rows[c + kScoreCells / kScorePairs - 1] + i)));
        }
      }
      vf_store_rows(s + g * s_stride + c0, vf_mul(score_tree(acc), vscale), nc);
    }
  }
}

// acc[g] += p[g][c] * v[c] for each cell c in order: axpy_f32 per cell.
// A tile of H heads x V vectors of the head stays in registers while the
// cells pass; each value vector is loaded once for the H heads.
template <int H, int V>
inline void accumulate_tile(const float* p, int64_t p_stride, const float* v, int64_t n_k, int64_t hd, float* acc) {
  VecF r[H][V];
  for (int h = 0; h < H; ++h)
    for (int j = 0; j < V; ++j) r[h][j] = vf_load(acc + h * hd + j * kLanes);
  for (int64_t c = 0; c < n_k; ++c) {
    VecF vv[V];
    for (int j = 0; j < V; ++j) vv[j] = vf_load(v + c * hd + j * kLanes);
    for (int h = 0; h < H; ++h) {
      const VecF pc = vf_set1(p[h * p_stride + c]);
      for (int j = 0; j < V; ++j) r[h][j] = vf_add(r[h][j], vf_mul(pc, vv[j]));
    }
  }
  for (int h = 0; h < H; ++h)
    for (int j = 0; j < V; ++j) vf_store(acc + h * hd + j * kLanes, r[h][j]);
}

// accumulate_tile<nh, nv> for run-time nh <= H, nv <= V.
template <int H, int V>
inline void accumulate_tile_any(int nh, int nv, const float* p, int64_t p_stride, const float* v, int64_t n_k,
                                int64_t hd, float* acc) {
  if constexpr (H > 1) {
    if (nh < H) return accumulate_tile_any<H - 1, V>(nh, nv, p, p_stride, v, n_k, hd, acc);
  }
  if constexpr (V > 1) {
    if (nv < V) return accumulate_tile_any<H, V - 1>(nh, nv, p, p_stride, v, n_k, hd, acc);
  }
  accumulate_tile<H, V>(p, p_stride, v, n_k, hd, acc);
}

inline void x86_attn_accumulate(const float* p, int64_t p_stride, int64_t n_q, const float* v, int64_t n_k,
                                int64_t hd, float* acc) {
  constexpr int kHeads = 4, kVecs = 4;
  const int64_t n_vecs = hd / kLanes;
  for (int64_t j0 = 0; j0 < n_vecs; j0 += kVecs) {
    const int nv = static_cast<int>(std::min<int64_t>(kVecs, n_vecs - j0));
    for (int64_t g0 = 0; g0 < n_q; g0 += kHeads) {
      const int nh = static_cast<int>(std::min<int64_t>(kHeads, n_q - g0));
      accumulate_tile_any<kHeads, kVecs>(nh, nv, p + g0 * p_stride, p_stride, v + j0 * kLanes, n_k, hd,
                                         acc + g0 * hd + j0 * kLanes);
    }
  }
  for (int64_t g = 0; g < n_q; ++g) {  // the columns past the last whole vector
    for (int64_t i = n_vecs * kLanes; i < hd; ++i) {
      for (int64_t c = 0; c < n_k; ++c) acc[g * hd + i] += p[g * p_stride + c] * v[c * hd + i];
    }
  }
}

// vec.h's exp_f32, the same roundings in the same order, a vector at a time.
inline VecF vf_exp(VecF x) {
  const VecF round = vf_set1(cpu::kExpRound);
  const VecF n = vf_sub(vf_add(vf_mul(x, vf_set1(cpu::kExpLog2e)), round), round);
  VecF r = vf_sub(x, vf_mul(n, vf_set1(cpu::kExpLn2Hi)));
  r = vf_sub(r, vf_mul(n, vf_set1(cpu::kExpLn2Lo)));
  VecF p = vf_set1(cpu::kExpPoly[0]);
  for (int i = 1; i < 6; ++i) p = vf_add(vf_mul(p, r), vf_set1(cpu::kExpPoly[i]));
  const VecF y = vf_add(vf_add(vf_mul(p, vf_mul(r, r)), r), vf_set1(1.0f));
  // Lanes outside [kExpLo, kExpHi] computed garbage: replace them.
  const auto below = vf_lt(x, vf_set1(cpu::kExpLo));
  VecF e = vf_mul(y, vf_pow2(vf_select(n, vf_zero(), below)));
  e = vf_select(e, vf_set1(std::numeric_limits<float>::infinity()), vf_gt(x, vf_set1(cpu::kExpHi)));
  e = vf_select(e, vf_zero(), below);
  return vf_select(e, x, vf_nan(x));
}

inline void x86_exp_shifted(float* s, int64_t n, float m) {
  const VecF vm = vf_set1(m);
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) vf_store(s + j, vf_exp(vf_sub(vf_load(s + j), vm)));
  if (j < n) vf_store_rows(s + j, vf_exp(vf_sub(load_acts_tail(s, j, n - j), vm)), static_cast<int>(n - j));
}

inline void x86_swiglu(const float* gate, const float* up, int64_t n, float* out) {
  const VecF one = vf_set1(1.0f);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const VecF g = vf_load(gate + i);
    vf_store(out + i, vf_mul(vf_div(g, vf_add(one, vf_exp(vf_neg(g)))), vf_load(up + i)));
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + cpu::exp_f32(-gate[i])) * up[i];
}

}  // namespace
}  // namespace laneway::cpu_detail
