#include "hw/memory_pools.h"

#include <algorithm>

#include <fmt/format.h>

#include "hw/probe.h"

namespace laneway::hw {
namespace {

uint64_t sub_floor(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

MemoryPool cpu_pool(const HardwareInventory& inv) {
  MemoryPool p;
  p.id = "cpu";
  p.label = "system RAM";
  p.kind = MemoryPoolKind::system_ram;
  p.total_bytes = inv.effective_ram_bytes();
  p.usable_bytes = inv.memory.available_bytes;
  p.usable_reason = inv.memory.known ? "MemAvailable from /proc/meminfo" : "/proc/meminfo unreadable";
  if (inv.cgroups.memory_limit_bytes) {
    const uint64_t left = sub_floor(*inv.cgroups.memory_limit_bytes, inv.cgroups.memory_usage_bytes.value_or(0));
    if (!inv.memory.known || left < p.usable_bytes) {
      p.usable_bytes = left;
      const CgroupLimits& cg = inv.cgroups;
      p.usable_reason = fmt::format("cgroup limit {} ({}) minus {} in use", format_bytes(*cg.memory_limit_bytes),
                                    cg.memory_limit_file, format_bytes(cg.memory_usage_bytes.value_or(0)));
      if (cg.memory_inactive_file_bytes && *cg.memory_inactive_file_bytes > 0) {
        p.usable_reason += fmt::format(" ({} charged less {} of inactive page cache, which the kernel reclaims first)",
                                       format_bytes(cg.memory_charged_bytes.value_or(0)),
                                       format_bytes(*cg.memory_inactive_file_bytes));
      }
    }
  }
  return p;
}

MemoryPool gpu_pool(const HardwareInventory& inv, const VulkanDeviceInfo& d, const MemoryPool& cpu) {
  MemoryPool p;
  p.id = fmt::format("gpu{}", d.index);
  p.label = fmt::format("{} ({})", d.name, gpu_driver_kind_name(vulkan_driver_kind(d)));
  p.vulkan_index = d.index;
  const VulkanHeap* heap = largest_device_local_heap(d);
  const DrmCard* card = match_drm_card(inv.drm_cards, d);

  if (is_venus_device(d)) {
    p.kind = MemoryPoolKind::unified;
    p.total_bytes = heap ? heap->size_bytes : 0;
    p.usable_bytes = uint64_t(double(p.total_bytes) * kVenusUsableFraction);
    p.usable_reason = fmt::format(
        "75% of the {} Venus heap: Vulkan is forwarded over virtio-gpu to the Mac host, whose Metal driver caps a "
        "process's GPU working set at about that share of unified memory; the rest keeps macOS and the VM running",
        format_bytes(p.total_bytes));
    return p;
  }
  if (card && card->unified_memory && card->gtt_total_bytes) {
    p.kind = MemoryPoolKind::unified;
    p.shares_system_ram = true;
    const uint64_t vram_total = card->vram_total_bytes.value_or(0);
    const uint64_t vram_free = sub_floor(vram_total, card->vram_used_bytes.value_or(0));
    const uint64_t gtt_free = sub_floor(*card->gtt_total_bytes, card->gtt_used_bytes.value_or(0));
    p.total_bytes = vram_total + std::min(*card->gtt_total_bytes, cpu.total_bytes);
    p.usable_bytes = vram_free + std::min(gtt_free, cpu.usable_bytes);
    p.usable_reason = fmt::format(
        "{} VRAM carve-out + {} GTT (system RAM the GPU may map; amdgpu mem_info_*), the GTT part capped by free "
        "RAM; it is the same RAM as the cpu pool",
        format_bytes(vram_total), format_bytes(*card->gtt_total_bytes));
    return p;
  }
  if (d.type == VulkanDeviceType::integrated_gpu) {
    p.kind = MemoryPoolKind::unified;
    p.shares_system_ram = true;
    p.total_bytes = std::min(heap ? heap->size_bytes : 0, cpu.total_bytes);
    uint64_t usable = p.total_bytes;
    if (heap && heap->budget_bytes) usable = sub_floor(*heap->budget_bytes, heap->usage_bytes.value_or(0));
    p.usable_bytes = std::min(usable, cpu.usable_bytes);
    p.usable_reason = "integrated GPU: its device-local heap is system RAM, capped by free RAM";
    return p;
  }
  p.kind = MemoryPoolKind::device_vram;
  p.total_bytes = heap ? heap->size_bytes : 0;
  if (heap && heap->budget_bytes) {
    p.usable_bytes = sub_floor(*heap->budget_bytes, heap->usage_bytes.value_or(0));
    p.usable_reason = "VK_EXT_memory_budget: heap budget minus usage";
  } else if (card && card->vram_total_bytes) {
    p.usable_bytes = sub_floor(*card->vram_total_bytes, card->vram_used_bytes.value_or(0));
    p.usable_reason = "amdgpu mem_info_vram_total minus mem_info_vram_used";
  } else {
    p.usable_bytes = p.total_bytes;
    p.usable_reason = "device-local heap size (no VK_EXT_memory_budget: use by other processes unknown)";
  }
  return p;
}

}  // namespace

std::string_view memory_pool_kind_name(MemoryPoolKind k) {
  switch (k) {
    case MemoryPoolKind::system_ram: return "system_ram";
    case MemoryPoolKind::device_vram: return "device_vram";
    case MemoryPoolKind::unified: return "unified";
  }
  return "system_ram";
}

std::vector<MemoryPool> compute_memory_pools(const HardwareInventory& inv) {
  std::vector<MemoryPool> pools;
  pools.push_back(cpu_pool(inv));
  for (const VulkanDeviceInfo& d : inv.vulkan.devices) {
    if (is_software_device(d)) continue;
    pools.push_back(gpu_pool(inv, d, pools.front()));
  }
  return pools;
}

}  // namespace laneway::hw
