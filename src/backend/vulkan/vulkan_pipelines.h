// Compute pipelines, one per embedded shader variant, created on first use
// and kept for the device's lifetime. Every shader takes its sizes as push
// constants (at most kPushConstantWords 32-bit words) and its operands as
// storage buffers at bindings 0..n_bindings-1.
#pragma once

#include <vulkan/vulkan.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "backend/vulkan/vulkan_device.h"

namespace laneway {

// 128 bytes: the least maxPushConstantsSize Vulkan guarantees.
inline constexpr uint32_t kPushConstantWords = 32;
using PushConstants = std::array<uint32_t, kPushConstantWords>;

struct VulkanPipeline {
  std::string name;
  uint32_t n_bindings = 0;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
};

class VulkanPipelines {
 public:
  explicit VulkanPipelines(const VulkanDevice& dev) : dev_(dev) {}
  ~VulkanPipelines();
  VulkanPipelines(const VulkanPipelines&) = delete;
  VulkanPipelines& operator=(const VulkanPipelines&) = delete;

  // The pipeline of shader `name` with n_bindings storage buffers; an
  // error when the shader was not built or the driver rejects it.
  Result<const VulkanPipeline*> get(std::string_view name, uint32_t n_bindings);

 private:
  const VulkanDevice& dev_;
  std::map<std::string, std::unique_ptr<VulkanPipeline>, std::less<>> pipelines_;
};

}  // namespace laneway
