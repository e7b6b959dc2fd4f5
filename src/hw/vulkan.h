// Vulkan devices as the loader reports them, and what they mean for Laneway.
//
// The probe never links libvulkan: VulkanEnumerator hides where descriptions
// come from. make_system_vulkan_enumerator() dlopens libvulkan.so.1 at run time
// (the binary runs without it); RecordedVulkanEnumerator replays descriptions
// recorded on real machines (tests, `laneway doctor --vulkan-devices`).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace laneway::hw {

// VkPhysicalDeviceType, without the Vulkan headers.
enum class VulkanDeviceType { other, integrated_gpu, discrete_gpu, virtual_gpu, cpu };

// Which driver stack a device runs on. Decides the software / Venus rules.
enum class GpuDriverKind {
  unknown, radv, amdvlk, amd_proprietary, nvidia, nvk, intel_anv, moltenvk, venus,
  lavapipe, swiftshader, turnip, panvk, v3dv, dozen, honeykrisp, other_vendor,
};

struct VulkanHeap {
  uint64_t size_bytes = 0;
  bool device_local = false;
  // VK_EXT_memory_budget: what this process may allocate from the heap and
  // what it has allocated; nullopt when the extension is absent.
  std::optional<uint64_t> budget_bytes;
  std::optional<uint64_t> usage_bytes;
};

struct VulkanDeviceInfo {
  uint32_t index = 0;  // position in vkEnumeratePhysicalDevices
  std::string name;    // deviceName: "AMD Radeon 8060S (RADV GFX1151)"
  uint32_t vendor_id = 0;
  uint32_t device_id = 0;
  VulkanDeviceType type = VulkanDeviceType::other;
  uint32_t api_version = 0;     // VK_MAKE_API_VERSION encoding
  uint32_t driver_version = 0;  // vendor-specific encoding
  uint32_t driver_id = 0;       // VkDriverId; 0 when the driver did not say (pre-1.2)
  std::string driver_name;      // VkPhysicalDeviceDriverProperties::driverName: "radv"
  std::string driver_info;      // driverInfo: "Mesa 25.0.2"
  std::string pci_slot;         // "0000:c5:00.0" via VK_EXT_pci_bus_info; "" when absent
  bool memory_budget = false;   // VK_EXT_memory_budget was queried
  std::vector<VulkanHeap> heaps;
};

struct VulkanReport {
  uint32_t instance_api_version = 0;
  std::string loader;  // the library that answered ("libvulkan.so.1") or "recorded"
  std::vector<VulkanDeviceInfo> devices;
};

// Thread-safety: one call at a time per enumerator.
class VulkanEnumerator {
 public:
  virtual ~VulkanEnumerator() = default;
  // not_found when the loader library is missing; io_error/unsupported when
  // the instance cannot be created; an empty device list is not an error.
  virtual Result<VulkanReport> enumerate() = 0;
};

// Loads `library` with dlopen on every enumerate() and unloads it after.
std::unique_ptr<VulkanEnumerator> make_system_vulkan_enumerator(std::string library = "libvulkan.so.1");

class RecordedVulkanEnumerator final : public VulkanEnumerator {
 public:
  explicit RecordedVulkanEnumerator(Result<VulkanReport> recorded) : recorded_(std::move(recorded)) {}
  Result<VulkanReport> enumerate() override { return recorded_; }

 private:
  Result<VulkanReport> recorded_;
};

// --- what a description means ---------------------------------------------

GpuDriverKind vulkan_driver_kind(const VulkanDeviceInfo& d);
std::string_view gpu_driver_kind_name(GpuDriverKind k);  // "RADV", "lavapipe (llvmpipe)", ...
std::string_view vulkan_device_type_name(VulkanDeviceType t);  // "integrated_gpu", ...
std::optional<VulkanDeviceType> vulkan_device_type_from_name(std::string_view name);
// llvmpipe/lavapipe, SwiftShader, or any CPU-type device: "no GPU".
bool is_software_device(const VulkanDeviceInfo& d);
// Venus: Vulkan forwarded over virtio-gpu to the host (libkrun on a Mac).
bool is_venus_device(const VulkanDeviceInfo& d);
// "Mesa 25.0.2" -> "25.0.2", from driverInfo; nullopt for non-Mesa drivers.
std::optional<std::string> mesa_version(const VulkanDeviceInfo& d);
// "1.3.230"
std::string vulkan_version_string(uint32_t v);
// Largest device-local heap, or nullptr.
const VulkanHeap* largest_device_local_heap(const VulkanDeviceInfo& d);

}  // namespace laneway::hw
