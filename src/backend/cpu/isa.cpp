#include "backend/cpu/isa.h"

#include <cstdlib>
#include <string>

namespace laneway {

std::string_view cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::scalar: return "scalar";
    case CpuIsa::avx2: return "avx2";
    case CpuIsa::avx512: return "avx512";
  }
  return "?";
}

bool cpu_supports(CpuIsa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case CpuIsa::scalar: return true;
    case CpuIsa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case CpuIsa::avx512:
      return cpu_supports(CpuIsa::avx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  }
  return false;
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
    else return invalid_argument_error("LANEWAY_ISA={} is not one of scalar, avx2, avx512", v);
    if (!cpu_supports(want)) return unsupported_error("LANEWAY_ISA={}: this CPU does not support it", v);
    return want;
  }
  if (cpu_supports(CpuIsa::avx512)) return CpuIsa::avx512;
  if (cpu_supports(CpuIsa::avx2)) return CpuIsa::avx2;
  return CpuIsa::scalar;
}

}  // namespace laneway
