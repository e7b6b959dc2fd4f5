#include "backend/vulkan/vulkan_commands.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace laneway {

namespace {
// Sets per pool; more pools are added when a run needs more dispatches.
constexpr uint32_t kSetsPerPool = 512;
constexpr uint32_t kMaxBindings = 8;
// Timestamps per run when profiling; dispatches past it are not timed.
constexpr uint32_t kMaxQueries = 16384;
const std::string kCopySpan = "(copy)";

bool profiling_requested() {
  const char* v = std::getenv("LANEWAY_VULKAN_PROFILE");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}
}  // namespace

VulkanCommands::VulkanCommands(const VulkanDevice& dev) : dev_(dev) {
  if (!profiling_requested()) return;
  VkPhysicalDeviceProperties props;
  vkGetPhysicalDeviceProperties(dev_.physical(), &props);
  if (!props.limits.timestampComputeAndGraphics) {
    std::fprintf(stderr, "laneway vulkan: LANEWAY_VULKAN_PROFILE: %s has no timestamps on compute queues; not profiling\n",
                 dev_.info().name.c_str());
    return;
  }
  VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
  qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
  qi.queryCount = kMaxQueries;
  if (vkCreateQueryPool(dev_.device(), &qi, nullptr, &queries_) != VK_SUCCESS) {
    queries_ = VK_NULL_HANDLE;
    std::fprintf(stderr, "laneway vulkan: LANEWAY_VULKAN_PROFILE: no query pool; not profiling\n");
    return;
  }
  ns_per_tick_ = props.limits.timestampPeriod;
}

VulkanCommands::~VulkanCommands() {
  print_profile();
  if (queries_ != VK_NULL_HANDLE) vkDestroyQueryPool(dev_.device(), queries_, nullptr);
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
  marks_.clear();
  if (queries_ != VK_NULL_HANDLE) {
    vkCmdResetQueryPool(cmd_, queries_, 0, kMaxQueries);
    vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, 0);
  }
  return Status::ok();
}

void VulkanCommands::mark(const std::string& what) {
  if (queries_ == VK_NULL_HANDLE || marks_.size() + 1 >= kMaxQueries) return;
  marks_.push_back(&what);
  vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, static_cast<uint32_t>(marks_.size()));
}

Status VulkanCommands::collect_profile() {
  if (queries_ == VK_NULL_HANDLE || marks_.empty()) return Status::ok();
  std::vector<uint64_t> ticks(marks_.size() + 1);
  LANEWAY_VK_TRY(vkGetQueryPoolResults(dev_.device(), queries_, 0, static_cast<uint32_t>(ticks.size()),
                                       ticks.size() * sizeof(uint64_t), ticks.data(), sizeof(uint64_t),
                                       VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                 "vkGetQueryPoolResults");
  for (size_t i = 0; i < marks_.size(); ++i) {
    Span& s = spans_[*marks_[i]];
    s.ns += static_cast<double>(ticks[i + 1] - ticks[i]) * ns_per_tick_;
    ++s.count;
  }
  return Status::ok();
}

void VulkanCommands::print_profile() const {
  if (spans_.empty()) return;
  std::vector<std::pair<std::string, Span>> rows(spans_.begin(), spans_.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
  double total = 0;
  for (const auto& [name, s] : rows) total += s.ns;
  std::fprintf(stderr, "laneway vulkan profile (%s): %.1f ms of device time\n", dev_.info().name.c_str(), total / 1e6);
  std::fprintf(stderr, "  %-40s %10s %6s %10s %9s\n", "shader", "ms", "%", "calls", "us/call");
  for (const auto& [name, s] : rows) {
    std::fprintf(stderr, "  %-40s %10.1f %6.1f %10llu %9.1f\n", name.c_str(), s.ns / 1e6, 100.0 * s.ns / total,
                 static_cast<unsigned long long>(s.count), s.ns / 1e3 / static_cast<double>(s.count));
  }
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
  mark(p.name);
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
  mark(kCopySpan);
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
  LANEWAY_TRY(dev_.submit_and_wait(cmd_));
  return collect_profile();
}

}  // namespace laneway
