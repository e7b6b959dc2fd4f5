// CPU model, core counts and the ISA features the CPU backend dispatches on,
// read from /proc/cpuinfo (the kernel clears flags the OS does not enable, e.g.
// AVX-512 when XSAVE state is off, so these are what user code may execute).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hw/root_fs.h"

namespace laneway::hw {

struct CpuFeatures {
  // x86-64
  bool sse4_2 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512vnni = false, avx512bf16 = false;
  bool avx_vnni = false, amx = false;
  // AArch64
  bool neon = false, dotprod = false, i8mm = false, sve = false, fp16 = false;
};

struct CpuInfo {
  std::string arch;        // "x86_64", "aarch64", or "" when /proc/cpuinfo is missing
  std::string vendor;      // "AuthenticAMD", "GenuineIntel", "Apple", "ARM", ...
  std::string model_name;  // "AMD Ryzen AI Max+ 395 w/ Radeon 8060S"
  int logical_cores = 0;   // processors listed
  int physical_cores = 0;  // unique (package, core) pairs; == logical when unknown
  bool hypervisor = false; // x86 "hypervisor" flag: running in a VM
  CpuFeatures features;

  // The features worth naming, in a stable order: {"AVX2", "FMA", "AVX-512F", ...}.
  std::vector<std::string> feature_names() const;
};

// Pure: parses the text of /proc/cpuinfo (x86 or ARM layout).
CpuInfo parse_cpuinfo(std::string_view text);

CpuInfo probe_cpu(const RootFs& fs);

// The kernel's AT_HWCAP / AT_HWCAP2 words on aarch64: the features user code
// may execute (what the CPU backend dispatches on). Unlike /proc/cpuinfo they
// describe the emulated CPU under qemu-user, whose /proc/cpuinfo is the host's.
struct CpuHwcaps {
  uint64_t hwcap = 0;
  uint64_t hwcap2 = 0;
};

// Pure: takes the AArch64 features from the hwcap words (they win over
// /proc/cpuinfo's "Features"). When /proc/cpuinfo described another
// architecture (an emulator passing the host's through) its model and
// features are dropped; the core count is kept.
void apply_aarch64_hwcaps(const CpuHwcaps& caps, CpuInfo& info);

// This process's hwcap words on an aarch64 build; nullopt on other builds.
std::optional<CpuHwcaps> live_hwcaps();

}  // namespace laneway::hw
