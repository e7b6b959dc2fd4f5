// Matmul kernels per instruction-set level, behind one table.
//
// Quantized weights (Q8_0, Q4_0) multiply activations quantized to Q8_0
// blocks with integer dot products; F16/F32 weights multiply f32
// activations. Each dot function computes one weight row against n_act
// (1..kMaxActs) activation rows at once, reusing the unpacked weights; the
// arithmetic for every (row, activation) pair is the same sequence whatever
// n_act is, so results never depend on how tokens are grouped.
#pragma once

#include <cstdint>

#include "backend/cpu/isa.h"
#include "gguf/types.h"

namespace laneway {

inline constexpr int kMaxActs = 4;
inline constexpr int64_t kQ8Block = 32;
inline constexpr int64_t kQ8BlockBytes = 34;  // f16 scale + 32 int8

// K-quant rows multiply Q8_0 activations too (a Q4_K group of 32 is one
// activation block); they also need the sums of each 16 activation values
// (for the minimums and offsets), made by quantize_q8_0 alongside.
struct CpuKernels {
  CpuIsa isa;
  // Q8_0 blocks of an activation row (n a multiple of 32) and, when sums is
  // not null, the sum of every 16 quantized values (n / 16 of them).
  void (*quantize_q8_0)(const float* x, uint8_t* out, int16_t* sums, int64_t n);
  // out[j] = row . act[j] for j < n_act.
  void (*dot_q8_0)(const uint8_t* row, const uint8_t* const* act, int n_act, int64_t n, float* out);
  void (*dot_q4_0)(const uint8_t* row, const uint8_t* const* act, int n_act, int64_t n, float* out);
  void (*dot_q4_k)(const uint8_t* row, const uint8_t* const* act, const int16_t* const* sums, int n_act, int64_t n,
                   float* out);
  void (*dot_q6_k)(const uint8_t* row, const uint8_t* const* act, const int16_t* const* sums, int n_act, int64_t n,
                   float* out);
  void (*dot_f16)(const uint8_t* row, const float* const* act, int n_act, int64_t n, float* out);
  void (*dot_f32)(const uint8_t* row, const float* const* act, int n_act, int64_t n, float* out);
  // dst[0..n) = f16 values at src, as f32.
  void (*f16_to_f32)(const uint8_t* src, float* dst, int64_t n);
};

const CpuKernels& cpu_kernels(CpuIsa isa);

// Whether the fast path handles weights of this type (else: dequantize + f32 dot).
inline bool cpu_uses_q8_activations(GgmlType t) {
  return t == GgmlType::q8_0 || t == GgmlType::q4_0 || t == GgmlType::q4_k || t == GgmlType::q6_k;
}
inline bool cpu_fast_weight_type(GgmlType t) {
  return cpu_uses_q8_activations(t) || t == GgmlType::f16 || t == GgmlType::f32;
}

// 6-bit scale and min of group j (0..7) of a Q4_K/Q5_K block's 12 packed bytes.
inline void kquant_scale_min(const uint8_t* scales, int j, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = scales[j] & 63;
    m = scales[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

// Q6_K group g (0..7, 32 values) of a block: the 6-bit values (0..63) of
// element l (0..31) and the int8 scales of its two halves of 16.
inline uint8_t q6k_value(const uint8_t* block, int g, int l) {
  const int half = g / 4, quad = g % 4;
  const uint8_t* ql = block + 64 * half + ((quad & 1) ? 32 : 0);
  const uint8_t* qh = block + 128 + 32 * half;
  const uint8_t low = (quad >= 2) ? (ql[l] >> 4) : (ql[l] & 0x0F);
  return static_cast<uint8_t>(low | (((qh[l] >> (2 * quad)) & 3) << 4));
}
inline int8_t q6k_scale(const uint8_t* block, int g, int upper_half) {
  return static_cast<int8_t>(block[192 + 8 * (g / 4) + 2 * (g % 4) + upper_half]);
}

namespace cpu_detail {
const CpuKernels& scalar_kernels();
const CpuKernels& avx2_kernels();
const CpuKernels& avx512_kernels();
}  // namespace cpu_detail

}  // namespace laneway
