#include "hw/cpu.h"

#include <set>
#include <utility>

#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include <fmt/format.h>

namespace laneway::hw {
namespace {

bool has_word(const std::set<std::string_view>& words, std::string_view w) { return words.count(w) != 0; }

// ARM "CPU implementer" codes (from the Arm architecture reference's MIDR list).
std::string arm_implementer_name(uint64_t code) {
  switch (code) {
    case 0x41: return "ARM";
    case 0x42: return "Broadcom";
    case 0x43: return "Cavium";
    case 0x46: return "Fujitsu";
    case 0x48: return "HiSilicon";
    case 0x4e: return "NVIDIA";
    case 0x51: return "Qualcomm";
    case 0x61: return "Apple";
    case 0xc0: return "Ampere";
    default: return fmt::format("implementer 0x{:02x}", code);
  }
}

}  // namespace

std::vector<std::string> CpuInfo::feature_names() const {
  const CpuFeatures& f = features;
  std::vector<std::pair<bool, const char*>> all = {
      {f.sse4_2, "SSE4.2"},       {f.avx, "AVX"},           {f.avx2, "AVX2"},
      {f.fma, "FMA"},             {f.f16c, "F16C"},         {f.avx_vnni, "AVX-VNNI"},
      {f.avx512f, "AVX-512F"},    {f.avx512bw, "AVX-512BW"}, {f.avx512vl, "AVX-512VL"},
      {f.avx512vnni, "AVX-512VNNI"}, {f.avx512bf16, "AVX-512BF16"}, {f.amx, "AMX"},
      {f.neon, "NEON"},           {f.fp16, "FP16"},         {f.dotprod, "DOTPROD"},
      {f.i8mm, "I8MM"},           {f.sve, "SVE"},
  };
  std::vector<std::string> names;
  for (const auto& [on, name] : all) {
    if (on) names.emplace_back(name);
  }
  return names;
}

CpuInfo parse_cpuinfo(std::string_view text) {
  CpuInfo info;
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  std::set<std::string_view> flags;
  bool x86 = false, arm = false;
  std::string physical_id;
  uint64_t arm_implementer = 0;
  bool have_implementer = false;
  for (std::string_view line : split_lines(text)) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (key == "processor") {
      // ARM kernels print "Processor : <name>" once and "processor : N" per CPU.
      if (parse_u64(value)) ++info.logical_cores;
    } else if (key == "vendor_id") {
      info.vendor = value;
    } else if (key == "model name" && info.model_name.empty()) {
      info.model_name = value;
    } else if (key == "physical id") {
      physical_id = value;
    } else if (key == "core id") {
      cores.emplace(physical_id, std::string(value));
    } else if (key == "flags" && flags.empty()) {
      x86 = true;
      for (auto w : split_ws(value)) flags.insert(w);
    } else if (key == "Features" && flags.empty()) {
      arm = true;
      for (auto w : split_ws(value)) flags.insert(w);
    } else if (key == "CPU implementer" && !have_implementer) {
      if (auto v = parse_u64(value)) {
        arm_implementer = *v;
        have_implementer = true;
      }
    }
  }
  CpuFeatures& f = info.features;
  if (x86) {
    info.arch = "x86_64";
    f.sse4_2 = has_word(flags, "sse4_2");
    f.avx = has_word(flags, "avx");
    f.avx2 = has_word(flags, "avx2");
    f.fma = has_word(flags, "fma");
    f.f16c = has_word(flags, "f16c");
    f.avx512f = has_word(flags, "avx512f");
    f.avx512bw = has_word(flags, "avx512bw");
    f.avx512vl = has_word(flags, "avx512vl");
    f.avx512vnni = has_word(flags, "avx512_vnni");
    f.avx512bf16 = has_word(flags, "avx512_bf16");
    f.avx_vnni = has_word(flags, "avx_vnni");
    f.amx = has_word(flags, "amx_tile");
    info.hypervisor = has_word(flags, "hypervisor");
  } else if (arm) {
    info.arch = "aarch64";
    f.neon = has_word(flags, "asimd");
    f.fp16 = has_word(flags, "asimdhp");
    f.dotprod = has_word(flags, "asimddp");
    f.i8mm = has_word(flags, "i8mm");
    f.sve = has_word(flags, "sve");
    if (info.vendor.empty() && have_implementer) info.vendor = arm_implementer_name(arm_implementer);
    if (info.model_name.empty() && have_implementer) {
      info.model_name = fmt::format("{} CPU", arm_implementer_name(arm_implementer));
    }
  }
  info.physical_cores = cores.empty() ? info.logical_cores : int(cores.size());
  return info;
}

void apply_aarch64_hwcaps(const CpuHwcaps& caps, CpuInfo& info) {
  // Bit numbers from Linux's arch/arm64 uapi <asm/hwcap.h>.
  constexpr uint64_t kAsimd = 1ull << 1, kAsimdHp = 1ull << 10, kAsimdDp = 1ull << 20, kSve = 1ull << 22;
  constexpr uint64_t kI8mm2 = 1ull << 13;  // in AT_HWCAP2
  if (info.arch != "aarch64") {
    const int logical = info.logical_cores, physical = info.physical_cores;
    info = CpuInfo{};
    info.logical_cores = logical;
    info.physical_cores = physical;
    info.model_name = "unknown aarch64 CPU (/proc/cpuinfo describes another architecture: an emulator?)";
    info.arch = "aarch64";
  }
  CpuFeatures& f = info.features;
  f.neon = (caps.hwcap & kAsimd) != 0;
  f.fp16 = (caps.hwcap & kAsimdHp) != 0;
  f.dotprod = (caps.hwcap & kAsimdDp) != 0;
  f.sve = (caps.hwcap & kSve) != 0;
  f.i8mm = (caps.hwcap2 & kI8mm2) != 0;
}

std::optional<CpuHwcaps> live_hwcaps() {
#if defined(__aarch64__)
  return CpuHwcaps{getauxval(AT_HWCAP), getauxval(AT_HWCAP2)};
#else
  return std::nullopt;
#endif
}

CpuInfo probe_cpu(const RootFs& fs) {
  auto text = fs.read_text("/proc/cpuinfo");
  if (!text) return {};
  return parse_cpuinfo(*text);
}

}  // namespace laneway::hw
