// AVX2 + FMA + F16C kernels (this file is compiled with those flags only).
#include "backend/cpu/kernels_x86.h"
#include "backend/cpu/kernels_x86_attention.h"

namespace laneway::cpu_detail {

const CpuKernels& avx2_kernels() {
  static const CpuKernels k{CpuIsa::avx2, x86_quantize_acts, x86_quant_matmul, x86_float_matmul,
                            x86_attn_scores, x86_attn_accumulate, x86_exp_shifted, x86_swiglu,
                            x86_f16_to_f32};
  return k;
}

}  // namespace laneway::cpu_detail
