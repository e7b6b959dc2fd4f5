#include "backend/vulkan/vulkan_commands.h"

namespace laneway {

namespace {
// Sets per pool; more pools are added when a run needs more dispatches.
constexpr uint32_t kSetsPerPool = 512;
constexpr uint32_t kMaxBindings = 8;
}  // namespace

VulkanCommands::~VulkanCommands() {
  if (cmd_ != VK_NULL_HANDLE) vkFreeCommandBuffers(dev_.device(), dev_.command_pool(), 1, &cmd_);
  for (VkDescriptorPool pool : pools_) vkDestroyDescriptorPool(dev_.device(), pool, nullptr);
}

Status VulkanCommands::begin() {
  if (cmd_ == VK_NULL_HANDLE) {
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = dev_.command_pool();
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    LANEWAY_VK_TRY(vkAllocateCommandBuffers(dev_.device(), &ai, &cmd_), "vkAllocateCommandBuffers");
  }
  LANEWAY_VK_TRY(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer");
  for (VkDescriptorPool pool : pools_) {
    LANEWAY_VK_TRY(vkResetDescriptorPool(dev_.device(), pool, 0), "vkResetDescriptorPool");
  }
  pool_in_use_ = 0;
  n_dispatches_ = 0;
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  LANEWAY_VK_TRY(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
  recording_ = true;
  return Status::ok();
}

Result<VkDescriptorSet> VulkanCommands::allocate_set(VkDescriptorSetLayout layout) {
  for (;;) {
    if (pool_in_use_ == pools_.size()) {
      VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * kMaxBindings};
      VkDescriptorPoolCreateInfo pci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
      pci.maxSets = kSetsPerPool;
      pci.poolSizeCount = 1;
      pci.pPoolSizes = &size;
      VkDescriptorPool pool = VK_NULL_HANDLE;
      LANEWAY_VK_TRY(vkCreateDescriptorPool(dev_.device(), &pci, nullptr, &pool), "vkCreateDescriptorPool");
      pools_.push_back(pool);
    }
    VkDescriptorSetAllocateInfo ai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    ai.descriptorPool = pools_[pool_in_use_];
    ai.descriptorSetCount = 1;
    ai.pSetLayouts = &layout;
    VkDescriptorSet set = VK_NULL_HANDLE;
    const VkResult r = vkAllocateDescriptorSets(dev_.device(), &ai, &set);
    if (r == VK_SUCCESS) return set;
    if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL) return vk_error(r, "vkAllocateDescriptorSets");
    ++pool_in_use_;  // this pool is full: the next one (made above when missing)
  }
}

Status VulkanCommands::dispatch(const VulkanPipeline& p, std::initializer_list<VkBuffer> buffers,
                                const PushConstants& pc, uint32_t groups_x, uint32_t groups_y, uint32_t groups_z) {
  if (!recording_) return internal_error("vulkan: dispatch outside a recording");
  if (buffers.size() != p.n_bindings || buffers.size() > kMaxBindings) {
    return internal_error("vulkan: shader {} takes {} buffers, given {}", p.name, p.n_bindings, buffers.size());
  }
  if (groups_x == 0 || groups_y == 0 || groups_z == 0) return Status::ok();
  LANEWAY_ASSIGN_OR_RETURN(VkDescriptorSet set, allocate_set(p.set_layout));
  VkDescriptorBufferInfo infos[kMaxBindings];
  VkWriteDescriptorSet writes[kMaxBindings];
  uint32_t i = 0;
  for (VkBuffer b : buffers) {
    infos[i] = {b, 0, VK_WHOLE_SIZE};
    writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstSet = set;
    writes[i].dstBinding = i;
    writes[i].descriptorCount = 1;
    writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    writes[i].pBufferInfo = &infos[i];
    ++i;
  }
  vkUpdateDescriptorSets(dev_.device(), i, writes, 0, nullptr);
  vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.pipeline);
  vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, p.layout, 0, 1, &set, 0, nullptr);
  vkCmdPushConstants(cmd_, p.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, kPushConstantWords * 4, pc.data());
  vkCmdDispatch(cmd_, groups_x, groups_y, groups_z);
  // Every dispatch may feed the next (the graph is a chain): a global
  // compute->compute barrier covers all buffers at once.
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0,
                       nullptr, 0, nullptr);
  ++n_dispatches_;
  return Status::ok();
}

Status VulkanCommands::copy(VkBuffer src, uint64_t src_offset, VkBuffer dst, uint64_t dst_offset,
                            uint64_t size_bytes) {
  if (!recording_) return internal_error("vulkan: copy outside a recording");
  if (size_bytes == 0) return Status::ok();
  VkMemoryBarrier before{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  before.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  before.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &before, 0, nullptr, 0, nullptr);
  VkBufferCopy region{src_offset, dst_offset, size_bytes};
  vkCmdCopyBuffer(cmd_, src, dst, 1, &region);
  VkMemoryBarrier after{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  after.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
  after.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &after, 0, nullptr, 0,
                       nullptr);
  return Status::ok();
}

Status VulkanCommands::submit_and_wait() {
  if (!recording_) return internal_error("vulkan: submit without a recording");
  recording_ = false;
  // Shader writes must be visible to the host reads that follow the fence.
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr,
                       0, nullptr);
  LANEWAY_VK_TRY(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");
  return dev_.submit_and_wait(cmd_);
}

}  // namespace laneway
