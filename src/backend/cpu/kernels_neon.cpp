// AdvSIMD kernels for every ARMv8-A CPU (compiled with -march=armv8-a only):
// the quantized dots through widening multiplies and pairwise adds.
#include "backend/cpu/kernels_neon.h"

static_assert(!LANEWAY_NEON_DOTPROD, "kernels_neon.cpp is the level without the dot-product instructions");

namespace laneway::cpu_detail {

const CpuKernels& neon_kernels() {
  static const CpuKernels k{CpuIsa::neon, neon_quantize_acts, neon_quant_matmul, neon_float_matmul,
                            neon_attn_scores, neon_attn_accumulate, neon_exp_shifted, neon_swiglu,
                            neon_f16_to_f32};
  return k;
}

}  // namespace laneway::cpu_detail
