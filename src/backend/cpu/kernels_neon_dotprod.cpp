// AdvSIMD kernels with the ARMv8.2 dot-product instructions (compiled with
// -march=armv8.2-a+dotprod only; picked when AT_HWCAP has ASIMDDP).
#include "backend/cpu/kernels_neon.h"

static_assert(LANEWAY_NEON_DOTPROD, "kernels_neon_dotprod.cpp must be compiled with +dotprod");

namespace laneway::cpu_detail {

const CpuKernels& neon_dotprod_kernels() {
  static const CpuKernels k{CpuIsa::neon_dotprod, neon_quantize_acts, neon_quant_matmul, neon_float_matmul,
                            neon_attn_scores, neon_attn_accumulate, neon_exp_shifted, neon_swiglu,
                            neon_f16_to_f32};
  return k;
}

}  // namespace laneway::cpu_detail
