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

struct CpuKernels {
  CpuIsa isa;
  // Q8_0 blocks of an activation row (n a multiple of 32).
  void (*quantize_q8_0)(const float* x, uint8_t* out, int64_t n);
  // out[j] = row . act[j] for j < n_act.
  void (*dot_q8_0)(const uint8_t* row, const uint8_t* const* act, int n_act, int64_t n, float* out);
  void (*dot_q4_0)(const uint8_t* row, const uint8_t* const* act, int n_act, int64_t n, float* out);
  void (*dot_f16)(const uint8_t* row, const float* const* act, int n_act, int64_t n, float* out);
  void (*dot_f32)(const uint8_t* row, const float* const* act, int n_act, int64_t n, float* out);
  // dst[0..n) = f16 values at src, as f32.
  void (*f16_to_f32)(const uint8_t* src, float* dst, int64_t n);
};

const CpuKernels& cpu_kernels(CpuIsa isa);

// Whether the fast path handles weights of this type (else: dequantize + f32 dot).
inline bool cpu_fast_weight_type(GgmlType t) {
  return t == GgmlType::q8_0 || t == GgmlType::q4_0 || t == GgmlType::f16 || t == GgmlType::f32;
}
inline bool cpu_uses_q8_activations(GgmlType t) { return t == GgmlType::q8_0 || t == GgmlType::q4_0; }

namespace cpu_detail {
const CpuKernels& scalar_kernels();
const CpuKernels& avx2_kernels();
const CpuKernels& avx512_kernels();
}  // namespace cpu_detail

}  // namespace laneway
