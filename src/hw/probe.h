// The hardware probe: one call that reads what a machine offers for running
// models, through an injectable root ("/" or a fixture tree) and an injectable
// Vulkan enumerator. Used by `laneway doctor`, `laneway plan` and the server.
//
// Probing never fails on a missing file: each part reports what it could read
// and leaves the rest empty/unknown. Only a root that is not a directory is an
// error. The result is a plain value; copy it freely.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "hw/cgroup.h"
#include "hw/container.h"
#include "hw/cpu.h"
#include "hw/drm.h"
#include "hw/limits.h"
#include "hw/memory.h"
#include "hw/memory_pools.h"
#include "hw/system.h"
#include "hw/vulkan.h"

namespace laneway::hw {

struct ProbeOptions {
  std::filesystem::path root = "/";
  // Not owned; nullptr skips Vulkan (vulkan_probed stays false).
  VulkanEnumerator* vulkan = nullptr;
  // aarch64 feature words (live_hwcaps() when probing this machine; nullopt
  // for fixture trees and on x86): applied over /proc/cpuinfo's features.
  std::optional<CpuHwcaps> hwcaps;
};

struct HardwareInventory {
  std::string root;  // the root that was probed
  CpuInfo cpu;
  MemInfo memory;
  CgroupLimits cgroups;
  ContainerInfo container;
  SystemInfo system;
  ProcessLimits limits;
  ProcessIdentity identity;
  std::vector<DrmCard> drm_cards;
  GpuNodes gpu_nodes;
  bool vulkan_probed = false;
  Status vulkan_status;  // why Vulkan gave no report (loader missing, ...); ok otherwise
  VulkanReport vulkan;
  std::vector<MemoryPool> pools;  // computed from everything above

  // RAM this process may use at most: MemTotal, or the cgroup limit when smaller.
  uint64_t effective_ram_bytes() const;
  // Threads worth running: logical cores, or the cgroup CPU quota rounded down (at least 1).
  int effective_cores() const;
  const MemoryPool* pool(std::string_view id) const;
};

Result<HardwareInventory> probe_hardware(const ProbeOptions& options);

// The DRM card behind a Vulkan device: by PCI slot, else by PCI ids when only
// one card has them; nullptr when none matches (NVIDIA without sysfs ids, VMs).
const DrmCard* match_drm_card(const std::vector<DrmCard>& cards, const VulkanDeviceInfo& device);

}  // namespace laneway::hw
