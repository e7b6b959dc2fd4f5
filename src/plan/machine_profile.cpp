#include "plan/machine_profile.h"

#include <fmt/format.h>

#include "hw/bandwidth.h"
#include "hw/memory_pools.h"

namespace laneway {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

// The profiles, with where each number comes from. Memory is what the lanes
// of a config share (reserves come out of it); the bandwidth used for decode
// ceilings is a measured read figure where one is known, since no machine
// reads at its theoretical peak.
const std::vector<MachineProfile>& profiles() {
  static const std::vector<MachineProfile> table = {
      {"strix-halo-128g", "AMD Ryzen AI Max+ 395 (Strix Halo) with 128 GiB of unified LPDDR5X-8000",
       128 * kGiB,
       "128 GiB soldered LPDDR5X, one pool for the CPU and the GPU (BIOS carve-out + GTT are the same RAM)",
       212e9, 256e9,
       "256 GB/s theoretical (8000 MT/s x 256-bit bus = 8000e6 x 32 bytes); ~212 GB/s measured read bandwidth "
       "on such a machine",
       32},  // 16 cores, 32 threads (as tests/unit/hw's Strix Halo fixture)
      {"ryzen-vega8-16g", "Ryzen 7 5800U-class laptop (Vega 8 iGPU) with 16 GiB of dual-channel DDR4-3200",
       16 * kGiB, "16 GiB DDR4 shared by the CPU and the Vega 8 iGPU", 40e9, 51.2e9,
       "51.2 GB/s theoretical (3200 MT/s x 8 bytes x 2 channels); ~40 GB/s assumed measured (about 78% of peak, "
       "what read tests reach on dual-channel DDR4)",
       16},  // 8 cores, 16 threads
      {"mac-venus-32g", "Podman + libkrun VM with Venus (Vulkan over virtio-gpu) on a 32 GiB Apple M2 Max",
       static_cast<uint64_t>(32.0 * double(kGiB) * hw::kVenusUsableFraction),
       "75% of 32 GiB: the host's Metal driver caps a process's GPU working set at about that share of unified "
       "memory (the doctor's Venus rule, hw/memory_pools.h)",
       200e9, 400e9,
       "400 GB/s theoretical (Apple's M2 Max figure); the engine runs on the CPU cores, which read about half of "
       "it (published M1/M2 Max CPU read tests: ~200-240 GB/s): 200 GB/s assumed, not measured",
       8},  // the VM's vCPUs (as the hw fixture)
  };
  return table;
}

}  // namespace

std::vector<std::string_view> machine_profile_names() {
  std::vector<std::string_view> names;
  for (const auto& p : profiles()) names.push_back(p.name);
  names.push_back("this-machine");
  return names;
}

std::optional<MachineProfile> find_machine_profile(std::string_view name) {
  for (const auto& p : profiles()) {
    if (p.name == name) return p;
  }
  return std::nullopt;
}

Result<UsableMemory> probe_usable_memory(const hw::ProbeOptions& options) {
  LANEWAY_ASSIGN_OR_RETURN(hw::HardwareInventory inv, hw::probe_hardware(options));
  const hw::MemoryPool* cpu = inv.pool("cpu");
  if (cpu == nullptr) return not_found_error("the hardware probe found no system memory pool");
  return UsableMemory{cpu->usable_bytes, cpu->usable_reason,
                      cpu->total_bytes > cpu->usable_bytes ? cpu->total_bytes - cpu->usable_bytes : 0};
}

Result<MachineProfile> probe_this_machine(const hw::ProbeOptions& options) {
  LANEWAY_ASSIGN_OR_RETURN(hw::HardwareInventory inv, hw::probe_hardware(options));
  const hw::MemoryPool* cpu = inv.pool("cpu");
  if (cpu == nullptr) return not_found_error("the hardware probe found no system memory pool");
  MachineProfile p;
  p.name = "this-machine";
  p.label = inv.cpu.model_name.empty() ? "this machine" : inv.cpu.model_name;
  p.memory_bytes = cpu->usable_bytes;
  p.memory_source = "usable now: " + cpu->usable_reason;
  p.in_use_bytes = cpu->total_bytes > cpu->usable_bytes ? cpu->total_bytes - cpu->usable_bytes : 0;
  const hw::BandwidthMeasurement m = hw::measure_read_bandwidth(hw::default_buffer_bytes(cpu->usable_bytes));
  if (m.steady()) {
    p.bandwidth_bytes_per_s = m.bytes_per_s;
    p.bandwidth_source = "measured now: " + m.describe();
  } else {
    // A busy machine: no ceiling from a figure that moved this much.
    p.bandwidth_bytes_per_s = 0;
    p.bandwidth_source = "not measured well now (other work competed for memory: the passes spread too far): " +
                         m.describe();
  }
  p.threads = inv.effective_cores();
  return p;
}

}  // namespace laneway
