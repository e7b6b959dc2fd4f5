// VulkanDevice: one Vulkan physical device opened for compute: its
// instance, logical device, a compute queue, a command pool and a fence.
// Owned by one backend (the engine thread); not thread-safe.
//
// Device choice: "auto" takes the first device that is not a CPU
// implementation (lavapipe/llvmpipe is never picked by auto: it is slower
// than the CPU backend and exists for tests), a decimal index or a name
// substring (case-insensitive, e.g. "llvmpipe") picks that device.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace laneway {

struct VulkanHeapInfo {
  uint64_t size_bytes = 0;
  bool device_local = false;
};

// What a device offers, as read at enumeration (before it is opened).
struct VulkanDeviceInfo {
  uint32_t index = 0;
  std::string name;
  VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  std::string driver;  // driver name and info ("llvmpipe", "Mesa 23.x")
  uint32_t api_version = 0;
  std::vector<VulkanHeapInfo> heaps;
  uint32_t subgroup_size = 0;
  bool storage_16bit = false;       // storageBuffer16BitAccess
  bool float16_arithmetic = false;  // shaderFloat16
  bool integer_dot_product = false; // VK_KHR_shader_integer_dot_product
  bool memory_budget = false;       // VK_EXT_memory_budget
  uint64_t max_storage_buffer_range_bytes = 0;
  uint64_t max_allocation_bytes = 0;
  uint32_t max_workgroup_count[3] = {0, 0, 0};
  uint32_t max_shared_memory_bytes = 0;
  // A memory type that is device-local and host-visible on a device-local
  // heap as big as the largest device-local heap: uploads are one memcpy.
  bool unified_memory = false;

  bool is_cpu() const { return type == VK_PHYSICAL_DEVICE_TYPE_CPU; }
  // "llvmpipe (cpu, llvmpipe Mesa 22.3.6)"
  std::string describe() const;
};

const char* vulkan_device_type_name(VkPhysicalDeviceType type);
// "VK_ERROR_DEVICE_LOST" and friends.
const char* vk_result_name(VkResult r);
// An error Status for a failed call (out-of-memory results map to out_of_memory).
Status vk_error(VkResult r, std::string_view what);

#define LANEWAY_VK_TRY(call, what)                   \
  do {                                               \
    const VkResult laneway_vk_r_ = (call);           \
    if (laneway_vk_r_ != VK_SUCCESS) return ::laneway::vk_error(laneway_vk_r_, what); \
  } while (0)

class VulkanDevice {
 public:
  ~VulkanDevice();
  VulkanDevice(const VulkanDevice&) = delete;
  VulkanDevice& operator=(const VulkanDevice&) = delete;

  const VulkanDeviceInfo& info() const { return info_; }
  VkInstance instance() const { return instance_; }
  VkPhysicalDevice physical() const { return physical_; }
  VkDevice device() const { return device_; }
  VkQueue queue() const { return queue_; }
  VkCommandPool command_pool() const { return command_pool_; }
  VkFence fence() const { return fence_; }
  const VkPhysicalDeviceMemoryProperties& memory_properties() const { return memory_properties_; }

  // Submits one command buffer and waits for it (the fence is reset first).
  Status submit_and_wait(VkCommandBuffer cmd) const;

 private:
  friend Result<std::unique_ptr<VulkanDevice>> open_vulkan_device(VkInstance, VkPhysicalDevice,
                                                                  VulkanDeviceInfo);
  VulkanDevice() = default;

  VulkanDeviceInfo info_;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkPhysicalDevice physical_ = VK_NULL_HANDLE;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  uint32_t queue_family_ = 0;
  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_properties_{};
};

// Every Vulkan device present (empty when there is no loader or no ICD;
// an error only when the loader fails in an unexpected way).
Result<std::vector<VulkanDeviceInfo>> list_vulkan_devices();

// Opens the device `want` names ("auto", an index, or a name substring).
Result<std::unique_ptr<VulkanDevice>> select_vulkan_device(std::string_view want);

}  // namespace laneway
