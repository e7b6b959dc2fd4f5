#include "hw/vulkan.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace laneway::hw {
namespace {

// VkDriverId values (Vulkan 1.2 core). Kept here so this file needs no headers.
enum : uint32_t {
  kAmdProprietary = 1, kAmdOpenSource = 2, kMesaRadv = 3, kNvidiaProprietary = 4,
  kIntelProprietaryWindows = 5, kIntelMesa = 6, kGoogleSwiftshader = 10, kMesaLlvmpipe = 13,
  kMoltenVk = 14, kMesaTurnip = 18, kMesaV3dv = 19, kMesaPanvk = 20, kMesaVenus = 22,
  kMesaDozen = 23, kMesaNvk = 24, kMesaHoneykrisp = 26,
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

}  // namespace

GpuDriverKind vulkan_driver_kind(const VulkanDeviceInfo& d) {
  switch (d.driver_id) {
    case kAmdProprietary: return GpuDriverKind::amd_proprietary;
    case kAmdOpenSource: return GpuDriverKind::amdvlk;
    case kMesaRadv: return GpuDriverKind::radv;
    case kNvidiaProprietary: return GpuDriverKind::nvidia;
    case kIntelProprietaryWindows: return GpuDriverKind::other_vendor;
    case kIntelMesa: return GpuDriverKind::intel_anv;
    case kGoogleSwiftshader: return GpuDriverKind::swiftshader;
    case kMesaLlvmpipe: return GpuDriverKind::lavapipe;
    case kMoltenVk: return GpuDriverKind::moltenvk;
    case kMesaTurnip: return GpuDriverKind::turnip;
    case kMesaV3dv: return GpuDriverKind::v3dv;
    case kMesaPanvk: return GpuDriverKind::panvk;
    case kMesaVenus: return GpuDriverKind::venus;
    case kMesaDozen: return GpuDriverKind::dozen;
    case kMesaNvk: return GpuDriverKind::nvk;
    case kMesaHoneykrisp: return GpuDriverKind::honeykrisp;
    default: break;
  }
  // Pre-1.2 drivers (or unknown ids): names are the remaining evidence.
  const std::string name = lower(d.name);
  const std::string driver = lower(d.driver_name);
  if (contains(name, "llvmpipe") || contains(driver, "llvmpipe")) return GpuDriverKind::lavapipe;
  if (contains(name, "swiftshader")) return GpuDriverKind::swiftshader;
  if (contains(name, "venus") || contains(driver, "venus")) return GpuDriverKind::venus;
  if (contains(name, "radv") || driver == "radv") return GpuDriverKind::radv;
  if (contains(driver, "amdvlk") || contains(driver, "amd open-source")) return GpuDriverKind::amdvlk;
  if (contains(driver, "moltenvk")) return GpuDriverKind::moltenvk;
  if (d.vendor_id == 0x10de && !contains(name, "nvk")) return GpuDriverKind::nvidia;
  if (d.driver_id != 0 || d.vendor_id != 0) return GpuDriverKind::other_vendor;
  return GpuDriverKind::unknown;
}

std::string_view gpu_driver_kind_name(GpuDriverKind k) {
  switch (k) {
    case GpuDriverKind::unknown: return "unknown";
    case GpuDriverKind::radv: return "RADV";
    case GpuDriverKind::amdvlk: return "AMDVLK";
    case GpuDriverKind::amd_proprietary: return "AMD proprietary";
    case GpuDriverKind::nvidia: return "NVIDIA";
    case GpuDriverKind::nvk: return "NVK";
    case GpuDriverKind::intel_anv: return "Intel ANV";
    case GpuDriverKind::moltenvk: return "MoltenVK";
    case GpuDriverKind::venus: return "Venus (virtio-gpu)";
    case GpuDriverKind::lavapipe: return "lavapipe (llvmpipe)";
    case GpuDriverKind::swiftshader: return "SwiftShader";
    case GpuDriverKind::turnip: return "Turnip";
    case GpuDriverKind::panvk: return "PanVK";
    case GpuDriverKind::v3dv: return "V3DV";
    case GpuDriverKind::dozen: return "Dozen (D3D12)";
    case GpuDriverKind::honeykrisp: return "Honeykrisp";
    case GpuDriverKind::other_vendor: return "other";
  }
  return "unknown";
}

std::string_view vulkan_device_type_name(VulkanDeviceType t) {
  switch (t) {
    case VulkanDeviceType::other: return "other";
    case VulkanDeviceType::integrated_gpu: return "integrated_gpu";
    case VulkanDeviceType::discrete_gpu: return "discrete_gpu";
    case VulkanDeviceType::virtual_gpu: return "virtual_gpu";
    case VulkanDeviceType::cpu: return "cpu";
  }
  return "other";
}

std::optional<VulkanDeviceType> vulkan_device_type_from_name(std::string_view name) {
  for (auto t : {VulkanDeviceType::other, VulkanDeviceType::integrated_gpu, VulkanDeviceType::discrete_gpu,
                 VulkanDeviceType::virtual_gpu, VulkanDeviceType::cpu}) {
    if (vulkan_device_type_name(t) == name) return t;
  }
  return std::nullopt;
}

bool is_software_device(const VulkanDeviceInfo& d) {
  const GpuDriverKind k = vulkan_driver_kind(d);
  return d.type == VulkanDeviceType::cpu || k == GpuDriverKind::lavapipe || k == GpuDriverKind::swiftshader;
}

bool is_venus_device(const VulkanDeviceInfo& d) { return vulkan_driver_kind(d) == GpuDriverKind::venus; }

std::optional<std::string> mesa_version(const VulkanDeviceInfo& d) {
  const size_t at = d.driver_info.find("Mesa ");
  if (at == std::string::npos) return std::nullopt;
  size_t b = at + 5, e = b;
  while (e < d.driver_info.size() && d.driver_info[e] != ' ' && d.driver_info[e] != ')') ++e;
  if (e == b) return std::nullopt;
  return d.driver_info.substr(b, e - b);
}

std::string vulkan_version_string(uint32_t v) {
  // VK_API_VERSION_MAJOR/MINOR/PATCH: 7 bits variant, 7 major, 10 minor, 12 patch.
  return fmt::format("{}.{}.{}", (v >> 22) & 0x7f, (v >> 12) & 0x3ff, v & 0xfff);
}

const VulkanHeap* largest_device_local_heap(const VulkanDeviceInfo& d) {
  const VulkanHeap* best = nullptr;
  for (const VulkanHeap& h : d.heaps) {
    if (h.device_local && (!best || h.size_bytes > best->size_bytes)) best = &h;
  }
  return best;
}

}  // namespace laneway::hw
