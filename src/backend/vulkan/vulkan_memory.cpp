#include "backend/vulkan/vulkan_memory.h"

#include <cstring>
#include <utility>

namespace laneway {

VulkanBuffer& VulkanBuffer::operator=(VulkanBuffer&& o) noexcept {
  if (this != &o) {
    reset();
    device_ = std::exchange(o.device_, VK_NULL_HANDLE);
    buffer_ = std::exchange(o.buffer_, VK_NULL_HANDLE);
    memory_ = std::exchange(o.memory_, VK_NULL_HANDLE);
    size_bytes_ = std::exchange(o.size_bytes_, 0);
    mapped_ = std::exchange(o.mapped_, nullptr);
  }
  return *this;
}

void VulkanBuffer::reset() {
  if (device_ == VK_NULL_HANDLE) return;
  if (mapped_ != nullptr) vkUnmapMemory(device_, memory_);
  if (buffer_ != VK_NULL_HANDLE) vkDestroyBuffer(device_, buffer_, nullptr);
  if (memory_ != VK_NULL_HANDLE) vkFreeMemory(device_, memory_, nullptr);
  device_ = VK_NULL_HANDLE;
  buffer_ = VK_NULL_HANDLE;
  memory_ = VK_NULL_HANDLE;
  mapped_ = nullptr;
  size_bytes_ = 0;
}

namespace {

int find_memory_type(const VkPhysicalDeviceMemoryProperties& mem, uint32_t allowed, VkMemoryPropertyFlags need) {
  for (uint32_t t = 0; t < mem.memoryTypeCount; ++t) {
    if ((allowed & (1u << t)) && (mem.memoryTypes[t].propertyFlags & need) == need) return static_cast<int>(t);
  }
  return -1;
}

}  // namespace

Result<VulkanBuffer> VulkanBuffer::create(const VulkanDevice& dev, uint64_t size_bytes, VulkanMemoryKind kind) {
  const VulkanDeviceInfo& info = dev.info();
  // Shaders read words: round up so the last word of a buffer is whole.
  size_bytes = (std::max<uint64_t>(size_bytes, 4) + 3) / 4 * 4;
  if (size_bytes > info.max_storage_buffer_range_bytes) {
    return unsupported_error("vulkan: a {} byte buffer exceeds {}'s maxStorageBufferRange ({} bytes)", size_bytes,
                             info.name, info.max_storage_buffer_range_bytes);
  }
  if (info.max_allocation_bytes != 0 && size_bytes > info.max_allocation_bytes) {
    return unsupported_error("vulkan: a {} byte buffer exceeds {}'s maxMemoryAllocationSize ({} bytes)", size_bytes,
                             info.name, info.max_allocation_bytes);
  }
  VulkanBuffer out;
  out.device_ = dev.device();
  VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bci.size = size_bytes;
  bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  LANEWAY_VK_TRY(vkCreateBuffer(out.device_, &bci, nullptr, &out.buffer_), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(out.device_, out.buffer_, &req);

  const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  const VkPhysicalDeviceMemoryProperties& mem = dev.memory_properties();
  int type = -1;
  switch (kind) {
    case VulkanMemoryKind::device_local:
      type = find_memory_type(mem, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
      break;
    case VulkanMemoryKind::host_visible:
      type = find_memory_type(mem, req.memoryTypeBits, host);
      break;
    case VulkanMemoryKind::unified:
      type = find_memory_type(mem, req.memoryTypeBits, host | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
      break;
  }
  if (type < 0 && kind == VulkanMemoryKind::device_local) type = find_memory_type(mem, req.memoryTypeBits, 0);
  if (type < 0) return unsupported_error("vulkan: {} has no memory type for this buffer kind", info.name);

  VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = static_cast<uint32_t>(type);
  const VkResult r = vkAllocateMemory(out.device_, &mai, nullptr, &out.memory_);
  if (r != VK_SUCCESS) return vk_error(r, fmt::format("allocating {} bytes of device memory", req.size));
  LANEWAY_VK_TRY(vkBindBufferMemory(out.device_, out.buffer_, out.memory_, 0), "vkBindBufferMemory");
  out.size_bytes_ = size_bytes;
  if (mem.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
    LANEWAY_VK_TRY(vkMapMemory(out.device_, out.memory_, 0, VK_WHOLE_SIZE, 0, &out.mapped_), "vkMapMemory");
  }
  return out;
}

namespace {

// Records one buffer copy in a temporary command buffer and waits for it.
Status copy_buffer_now(const VulkanDevice& dev, VkBuffer src, uint64_t src_offset, VkBuffer dst,
                       uint64_t dst_offset, uint64_t size_bytes) {
  VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  ai.commandPool = dev.command_pool();
  ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  ai.commandBufferCount = 1;
  VkCommandBuffer cmd = VK_NULL_HANDLE;
  LANEWAY_VK_TRY(vkAllocateCommandBuffers(dev.device(), &ai, &cmd), "vkAllocateCommandBuffers");
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  Status s = Status::ok();
  VkResult r = vkBeginCommandBuffer(cmd, &bi);
  if (r == VK_SUCCESS) {
    // Earlier compute writes must land before the copy reads or overwrites.
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_SHADER_READ_BIT;
    mb.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0,
                         nullptr, 0, nullptr);
    VkBufferCopy region{src_offset, dst_offset, size_bytes};
    vkCmdCopyBuffer(cmd, src, dst, 1, &region);
    r = vkEndCommandBuffer(cmd);
  }
  if (r != VK_SUCCESS) s = vk_error(r, "recording a buffer copy");
  if (s.is_ok()) s = dev.submit_and_wait(cmd);
  vkFreeCommandBuffers(dev.device(), dev.command_pool(), 1, &cmd);
  return s;
}

}  // namespace

Status vulkan_upload(const VulkanDevice& dev, VulkanBuffer& dst, uint64_t dst_offset, const void* src,
                     uint64_t size_bytes) {
  if (size_bytes == 0) return Status::ok();
  if (dst_offset + size_bytes > dst.size_bytes()) {
    return internal_error("vulkan: upload of {} bytes at {} overruns a {} byte buffer", size_bytes, dst_offset,
                          dst.size_bytes());
  }
  if (dst.mapped() != nullptr) {
    std::memcpy(static_cast<uint8_t*>(dst.mapped()) + dst_offset, src, size_bytes);
    return Status::ok();
  }
  LANEWAY_ASSIGN_OR_RETURN(VulkanBuffer staging, VulkanBuffer::create(dev, size_bytes, VulkanMemoryKind::host_visible));
  std::memcpy(staging.mapped(), src, size_bytes);
  return copy_buffer_now(dev, staging.buffer(), 0, dst.buffer(), dst_offset, size_bytes);
}

Status vulkan_download(const VulkanDevice& dev, const VulkanBuffer& src, uint64_t src_offset, void* dst,
                       uint64_t size_bytes) {
  if (size_bytes == 0) return Status::ok();
  if (src_offset + size_bytes > src.size_bytes()) {
    return internal_error("vulkan: download of {} bytes at {} overruns a {} byte buffer", size_bytes, src_offset,
                          src.size_bytes());
  }
  if (src.mapped() != nullptr) {
    std::memcpy(dst, static_cast<const uint8_t*>(src.mapped()) + src_offset, size_bytes);
    return Status::ok();
  }
  LANEWAY_ASSIGN_OR_RETURN(VulkanBuffer staging, VulkanBuffer::create(dev, size_bytes, VulkanMemoryKind::host_visible));
  LANEWAY_TRY(copy_buffer_now(dev, src.buffer(), src_offset, staging.buffer(), 0, size_bytes));
  std::memcpy(dst, staging.mapped(), size_bytes);
  return Status::ok();
}

}  // namespace laneway
