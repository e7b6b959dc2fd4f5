// GPUs as the kernel's DRM subsystem sees them (/sys/class/drm/card*), the
// amdgpu memory counters, and the device nodes a GPU backend must open
// (/dev/dri/renderD*, /dev/kfd) with whether this process may open them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hw/limits.h"
#include "hw/root_fs.h"

namespace laneway::hw {

struct DrmCard {
  std::string name;        // "card1"
  uint32_t vendor_id = 0;  // PCI ids: 0x1002 AMD, 0x10de NVIDIA, 0x8086 Intel, 0x1af4 virtio
  uint32_t device_id = 0;
  std::string driver;      // "amdgpu", "nvidia", "i915", "virtio_gpu", ... (device/uevent DRIVER=)
  std::string pci_slot;    // "0000:c5:00.0" (device/uevent PCI_SLOT_NAME=); "" when not PCI
  std::string render_node; // "/dev/dri/renderD128" when sysfs links one to this card
  // amdgpu only (device/mem_info_*); nullopt elsewhere.
  std::optional<uint64_t> vram_total_bytes, vram_used_bytes;
  std::optional<uint64_t> vis_vram_total_bytes;
  std::optional<uint64_t> gtt_total_bytes, gtt_used_bytes;
  // An APU whose GPU memory is system RAM: a small VRAM carve-out plus GTT.
  bool unified_memory = false;
  std::string unified_memory_reason;
  std::string apu_family;  // "Strix Halo (...)" when the PCI id is a known AMD APU
};

struct DeviceNode {
  std::string path;          // machine path: "/dev/dri/renderD128"
  bool accessible = false;   // this process may open it read-write
  uint32_t mode = 0;         // permission bits
  uint32_t uid = 0, gid = 0;
  std::string group_name;    // from /etc/group; "" when the gid has no name here
  std::string access_reason; // "group render (gid 993) is not among this process's groups"
};

struct GpuNodes {
  bool dri_dir = false;                 // /dev/dri exists
  std::vector<DeviceNode> render_nodes; // /dev/dri/renderD*
  std::optional<DeviceNode> kfd;        // /dev/kfd (ROCm's compute node), when present
};

// Cards under /sys/class/drm (connectors such as card0-DP-1 are skipped).
std::vector<DrmCard> probe_drm_cards(const RootFs& fs);

// Checks permissions against `identity` (read from the probed root) rather
// than calling access(2), so fixture trees decide the answer.
GpuNodes probe_gpu_nodes(const RootFs& fs, const ProcessIdentity& identity);

// Pure: the APU rule, given amdgpu counters. Exposed for tests.
bool looks_like_unified_memory(uint64_t vram_total_bytes, uint64_t gtt_total_bytes, std::string* reason);

}  // namespace laneway::hw
