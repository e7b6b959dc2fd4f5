// Memory pools: where weights and KV cache can live, and how much of each
// this process can use. This is the probe's answer to the planner: one pool
// for system RAM ("cpu") and one per usable Vulkan GPU ("gpu<N>", N = the
// Vulkan device index). Software Vulkan devices get no pool.
//
// Rules (each pool's usable_reason says which applied):
//  - cpu: MemAvailable, capped by the cgroup limit minus the group's usage.
//  - APU (amdgpu, unified memory): free VRAM carve-out + free GTT, the GTT part
//    capped by the cpu pool (it is the same RAM), shares_system_ram = true.
//  - Venus (virtio-gpu, libkrun on a Mac): 75% of the device-local heap; the
//    host's Metal driver caps a process's GPU working set at about that share
//    of unified memory and the rest keeps macOS and the VM alive.
//  - discrete: VK_EXT_memory_budget (budget - usage) when present, else
//    amdgpu's VRAM counters, else the heap size.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace laneway::hw {

struct HardwareInventory;

enum class MemoryPoolKind { system_ram, device_vram, unified };
std::string_view memory_pool_kind_name(MemoryPoolKind k);  // "system_ram", "device_vram", "unified"

struct MemoryPool {
  std::string id;     // "cpu", "gpu0"
  std::string label;  // "system RAM", "AMD Radeon 8060S (RADV GFX1151)"
  MemoryPoolKind kind = MemoryPoolKind::system_ram;
  std::optional<uint32_t> vulkan_index;  // gpu pools: the Vulkan device index
  uint64_t total_bytes = 0;   // the most this pool can ever give this process
  uint64_t usable_bytes = 0;  // what weights + KV may take now
  std::string usable_reason;  // how usable_bytes was derived
  // Bytes placed here also leave the cpu pool (APU GTT, integrated GPUs): a
  // planner must not count both pools in full.
  bool shares_system_ram = false;
  // Hook for the planner: read bandwidth in bytes/s from a profile or a
  // measurement (see hw/bandwidth.h); the probe leaves it empty.
  std::optional<double> bandwidth_bytes_per_s;
  std::string bandwidth_source;  // "profile strix-halo-128g", "measured", ...
};

// The share of a Venus heap reported usable (see the header comment).
inline constexpr double kVenusUsableFraction = 0.75;

std::vector<MemoryPool> compute_memory_pools(const HardwareInventory& inv);

}  // namespace laneway::hw
