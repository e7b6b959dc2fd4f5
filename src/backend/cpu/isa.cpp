#include "backend/cpu/isa.h"

#include <cstdlib>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <sys/auxv.h>
#endif

namespace laneway {

std::string_view cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::scalar: return "scalar";
    case CpuIsa::avx2: return "avx2";
    case CpuIsa::avx512: return "avx512";
    case CpuIsa::neon: return "neon";
    case CpuIsa::neon_dotprod: return "dotprod";
    case CpuIsa::neon_i8mm: return "i8mm";
  }
  return "?";
}

#if defined(__x86_64__)
namespace {
// F16C (CPUID leaf 1, ECX bit 29) straight from cpuid: clang (16 included)
// has no "f16c" for __builtin_cpu_supports. The AVX2 check it goes with
// already asks that the OS saves the YMM state.
bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}
}  // namespace
#endif

bool cpu_supports(CpuIsa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case CpuIsa::scalar: return true;
    case CpuIsa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case CpuIsa::avx512:
      return cpu_supports(CpuIsa::avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    default: return false;
  }
#elif defined(__aarch64__)
  // The kernel's hwcap bits (linux/arch/arm64 uapi asm/hwcap.h): what user
  // code may execute, also under qemu-user, which reports its CPU model's.
  constexpr unsigned long kHwcapAsimd = 1ul << 1, kHwcapAsimdDp = 1ul << 20, kHwcap2I8mm = 1ul << 13;
  const unsigned long hwcap = getauxval(AT_HWCAP), hwcap2 = getauxval(AT_HWCAP2);
  switch (isa) {
    case CpuIsa::scalar: return true;
    case CpuIsa::neon: return (hwcap & kHwcapAsimd) != 0;
    case CpuIsa::neon_dotprod: return (hwcap & kHwcapAsimd) != 0 && (hwcap & kHwcapAsimdDp) != 0;
    case CpuIsa::neon_i8mm: return cpu_supports(CpuIsa::neon_dotprod) && (hwcap2 & kHwcap2I8mm) != 0;
    default: return false;
  }
#else
  return isa == CpuIsa::scalar;
#endif
}

Result<CpuIsa> select_cpu_isa() {
  const char* env = std::getenv("LANEWAY_ISA");
  if (env != nullptr && *env != '\0') {
    const std::string v = env;
    CpuIsa want;
    if (v == "scalar") want = CpuIsa::scalar;
    else if (v == "avx2") want = CpuIsa::avx2;
    else if (v == "avx512") want = CpuIsa::avx512;
    else if (v == "neon") want = CpuIsa::neon;
    else if (v == "dotprod") want = CpuIsa::neon_dotprod;
    else if (v == "i8mm") want = CpuIsa::neon_i8mm;
    else return invalid_argument_error("LANEWAY_ISA={} is not one of scalar, avx2, avx512, neon, dotprod, i8mm", v);
    if (!cpu_supports(want)) return unsupported_error("LANEWAY_ISA={}: this CPU does not support it", v);
    return want;
  }
  for (CpuIsa isa : {CpuIsa::avx512, CpuIsa::avx2, CpuIsa::neon_i8mm, CpuIsa::neon_dotprod, CpuIsa::neon}) {
    if (cpu_supports(isa)) return isa;
  }
  return CpuIsa::scalar;
}

}  // namespace laneway
