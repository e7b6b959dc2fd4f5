// CPU instruction-set levels the kernels are compiled for, chosen at run
// time: the best the CPU supports, or LANEWAY_ISA=scalar|avx2|avx512 (x86-64)
// or scalar|neon|dotprod|i8mm (aarch64: AdvSIMD; AdvSIMD with the ARMv8.2
// dot-product instructions; both with the ARMv8.6 int8 matrix multiply,
// SMMLA, for prefill: read from getauxval(AT_HWCAP) and AT_HWCAP2).
#pragma once

#include <string_view>

#include "core/status.h"

namespace laneway {

enum class CpuIsa { scalar, avx2, avx512, neon, neon_dotprod, neon_i8mm };

std::string_view cpu_isa_name(CpuIsa isa);
bool cpu_supports(CpuIsa isa);
// LANEWAY_ISA when set (an error if unknown or this CPU lacks it), else the best level.
Result<CpuIsa> select_cpu_isa();

}  // namespace laneway
