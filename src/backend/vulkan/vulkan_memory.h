// VulkanBuffer: one storage buffer with its own memory allocation, and the
// copies between host and device. A buffer is owned by the context that
// uses it (the backend) and freed with it.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>

#include "backend/vulkan/vulkan_device.h"

namespace laneway {

enum class VulkanMemoryKind : uint8_t {
  device_local,  // fastest for the GPU; filled through a staging copy
  host_visible,  // mapped and coherent: inputs, read-backs, staging
  unified,       // device-local and host-visible (APUs, lavapipe): mapped, and fast for the GPU
};

class VulkanBuffer {
 public:
  VulkanBuffer() = default;
  ~VulkanBuffer() { reset(); }
  VulkanBuffer(VulkanBuffer&& o) noexcept { *this = std::move(o); }
  VulkanBuffer& operator=(VulkanBuffer&& o) noexcept;
  VulkanBuffer(const VulkanBuffer&) = delete;
  VulkanBuffer& operator=(const VulkanBuffer&) = delete;

  // size_bytes must not exceed the device's maxStorageBufferRange (a whole
  // buffer is bound as one descriptor) nor its largest allocation.
  static Result<VulkanBuffer> create(const VulkanDevice& dev, uint64_t size_bytes, VulkanMemoryKind kind);

  VkBuffer buffer() const { return buffer_; }
  uint64_t size_bytes() const { return size_bytes_; }
  // Mapped pointer for host-visible and unified buffers, else nullptr.
  void* mapped() const { return mapped_; }
  bool valid() const { return buffer_ != VK_NULL_HANDLE; }
  void reset();

 private:
  VkDevice device_ = VK_NULL_HANDLE;
  VkBuffer buffer_ = VK_NULL_HANDLE;
  VkDeviceMemory memory_ = VK_NULL_HANDLE;
  uint64_t size_bytes_ = 0;
  void* mapped_ = nullptr;
};

// Host bytes into dst at dst_offset: a memcpy when dst is mapped, else
// through a temporary staging buffer and one submitted copy.
Status vulkan_upload(const VulkanDevice& dev, VulkanBuffer& dst, uint64_t dst_offset, const void* src,
                     uint64_t size_bytes);
// dst_offset's bytes back to the host (the same two paths).
Status vulkan_download(const VulkanDevice& dev, const VulkanBuffer& src, uint64_t src_offset, void* dst,
                       uint64_t size_bytes);

}  // namespace laneway
