#include "hw/probe.h"

#include <algorithm>
#include <cmath>

namespace laneway::hw {

uint64_t HardwareInventory::effective_ram_bytes() const {
  uint64_t ram = memory.total_bytes;
  if (cgroups.memory_limit_bytes && (ram == 0 || *cgroups.memory_limit_bytes < ram)) ram = *cgroups.memory_limit_bytes;
  return ram;
}

int HardwareInventory::effective_cores() const {
  int cores = cpu.logical_cores;
  if (cgroups.cpu_quota_cores) {
    // Rounded down: a thread more than the quota gets throttled mid-step and
    // stalls the others at every barrier.
    const int quota = std::max(1, int(std::floor(*cgroups.cpu_quota_cores + 1e-9)));
    if (cores == 0 || quota < cores) cores = quota;
  }
  return cores;
}

const MemoryPool* HardwareInventory::pool(std::string_view id) const {
  for (const MemoryPool& p : pools) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

const DrmCard* match_drm_card(const std::vector<DrmCard>& cards, const VulkanDeviceInfo& device) {
  if (!device.pci_slot.empty()) {
    for (const DrmCard& c : cards) {
      if (c.pci_slot == device.pci_slot) return &c;
    }
  }
  const DrmCard* found = nullptr;
  for (const DrmCard& c : cards) {
    if (c.vendor_id == device.vendor_id && c.device_id == device.device_id && c.vendor_id != 0) {
      if (found) return nullptr;  // two identical cards: ids alone cannot tell them apart
      found = &c;
    }
  }
  return found;
}

Result<HardwareInventory> probe_hardware(const ProbeOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(options.root, ec)) {
    return invalid_argument_error("probe root {} is not a directory", options.root.string());
  }
  const RootFs fs(options.root);
  HardwareInventory inv;
  inv.root = options.root.string();
  inv.cpu = probe_cpu(fs);
  if (options.hwcaps) apply_aarch64_hwcaps(*options.hwcaps, inv.cpu);
  inv.memory = probe_memory(fs);
  inv.cgroups = probe_cgroups(fs);
  inv.container = detect_container(fs, inv.cgroups.memberships);
  inv.system = probe_system(fs);
  ProcessInfo proc = probe_process(fs);
  inv.limits = proc.limits;
  inv.identity = proc.identity;
  inv.drm_cards = probe_drm_cards(fs);
  inv.gpu_nodes = probe_gpu_nodes(fs, inv.identity);
  if (options.vulkan) {
    inv.vulkan_probed = true;
    Result<VulkanReport> r = options.vulkan->enumerate();
    if (r.is_ok()) {
      inv.vulkan = std::move(r).value();
    } else {
      inv.vulkan_status = r.status();
    }
  }
  // Vulkan knows what sysfs cannot always tell: an amdgpu card the driver
  // calls integrated is an APU even with an unusually large carve-out.
  for (const VulkanDeviceInfo& d : inv.vulkan.devices) {
    if (d.type != VulkanDeviceType::integrated_gpu) continue;
    const DrmCard* match = match_drm_card(inv.drm_cards, d);
    if (!match) continue;
    for (DrmCard& c : inv.drm_cards) {
      if (&c == match && !c.unified_memory && c.gtt_total_bytes) {
        c.unified_memory = true;
        c.unified_memory_reason = "Vulkan reports an integrated GPU";
      }
    }
  }
  inv.pools = compute_memory_pools(inv);
  return inv;
}

}  // namespace laneway::hw
