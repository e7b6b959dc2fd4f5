// AdvSIMD kernels with the dot-product and the ARMv8.6 int8 matrix multiply
// instructions (compiled with -march=armv8.2-a+dotprod+i8mm only; picked when
// AT_HWCAP has ASIMDDP and AT_HWCAP2 has I8MM): the quantized matmul takes
// two tokens at a time through SMMLA, which suits prefill.
#include "backend/cpu/kernels_neon.h"

static_assert(LANEWAY_NEON_DOTPROD && LANEWAY_NEON_I8MM, "kernels_neon_i8mm.cpp must be compiled with +dotprod+i8mm");

namespace laneway::cpu_detail {

const CpuKernels& neon_i8mm_kernels() {
  static const CpuKernels k{CpuIsa::neon_i8mm, neon_quantize_acts, neon_quant_matmul, neon_float_matmul,
                            neon_attn_scores, neon_attn_accumulate, neon_exp_shifted, neon_swiglu,
                            neon_f16_to_f32};
  return k;
}

}  // namespace laneway::cpu_detail
