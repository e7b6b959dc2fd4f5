#include "backend/cpu/kernels.h"

namespace laneway {

const CpuKernels& cpu_kernels(CpuIsa isa) {
#if defined(__x86_64__)
  if (isa == CpuIsa::avx512) return cpu_detail::avx512_kernels();
  if (isa == CpuIsa::avx2) return cpu_detail::avx2_kernels();
#elif defined(__aarch64__)
  if (isa == CpuIsa::neon_i8mm) return cpu_detail::neon_i8mm_kernels();
  if (isa == CpuIsa::neon_dotprod) return cpu_detail::neon_dotprod_kernels();
  if (isa == CpuIsa::neon) return cpu_detail::neon_kernels();
#endif
  return cpu_detail::scalar_kernels();
}

}  // namespace laneway
