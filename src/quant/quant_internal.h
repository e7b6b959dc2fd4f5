// Per-type kernels behind the QuantOps tables (quant_ops.cpp). Not for use
// outside src/quant: go through quant_ops(type). Contracts as in quant.h.
#pragma once

#include <cmath>
#include <cstdint>

#include "quant/blocks.h"
#include "quant/fp16.h"

namespace laneway::quant_detail {

#define LANEWAY_QUANT_TYPES(X) \
  X(f32) X(f16) X(bf16) X(q4_0) X(q4_1) X(q5_0) X(q5_1) X(q8_0) X(q2_k) X(q3_k) X(q4_k) X(q5_k) X(q6_k) X(q8_k)

#define LANEWAY_QUANT_DECLARE(t)                                    \
  void dequantize_##t(const void* src, float* dst, int64_t n);      \
  void quantize_##t(const float* src, void* dst, int64_t n);
LANEWAY_QUANT_TYPES(LANEWAY_QUANT_DECLARE)
#undef LANEWAY_QUANT_DECLARE

// vec_dot_f32 reference for any type, through its decoder (vec_dot.cpp).
float vec_dot_f32_generic(void (*dequantize)(const void*, float*, int64_t), int64_t block_size, int64_t block_bytes,
                          const void* w, const float* x, int64_t n);

// Quantized-activation dot products (vec_dot.cpp).
float vec_dot_q4_0_q8_0(const void* w, const void* a, int64_t n);
float vec_dot_q4_1_q8_0(const void* w, const void* a, int64_t n);
float vec_dot_q5_0_q8_0(const void* w, const void* a, int64_t n);
float vec_dot_q5_1_q8_0(const void* w, const void* a, int64_t n);
float vec_dot_q8_0_q8_0(const void* w, const void* a, int64_t n);
float vec_dot_q2_k_q8_k(const void* w, const void* a, int64_t n);
float vec_dot_q3_k_q8_k(const void* w, const void* a, int64_t n);
float vec_dot_q4_k_q8_k(const void* w, const void* a, int64_t n);
float vec_dot_q5_k_q8_k(const void* w, const void* a, int64_t n);
float vec_dot_q6_k_q8_k(const void* w, const void* a, int64_t n);

inline float load_f16(uint16_t h) { return fp16_to_fp32(h); }

// Largest finite f16, the ceiling of every f16 scale the quantizers store.
inline constexpr float kF16Max = 65504.0f;
inline constexpr uint16_t kF16NaN = 0x7E00;

// Round to nearest, ties to even, for |x| < 2^22: adding 1.5 * 2^23 leaves
// no fraction bits, so the FPU's default rounding does the work (bit-equal
// to std::nearbyint in that range, without a libm call). Callers clamp first.
// Needs IEEE semantics (no -ffast-math, which would fold the two adds away).
inline float round_nearest_small(float x) {
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
  return (x + kMagic) - kMagic;
}
inline int round_nearest(float x) { return static_cast<int>(round_nearest_small(x)); }

inline bool all_finite(const float* x, int n) {
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) return false;
  }
  return true;
}

}  // namespace laneway::quant_detail
