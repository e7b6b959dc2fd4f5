// VulkanCommands: records one run() as one command buffer: per dispatch a
// descriptor set (from pools reset at begin()), push constants and a
// barrier so the next dispatch sees its writes; one submit and one fence
// wait at the end. Owned by the backend; not thread-safe.
//
// LANEWAY_VULKAN_PROFILE=1 (a diagnostic, like a GPU profiler's per-kernel
// table): a timestamp after every dispatch and copy; the device time of each
// shader is summed over the commands' life and printed to stderr, slowest
// first, when they are destroyed. It costs a query per dispatch.
#pragma once

#include <vulkan/vulkan.h>

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "backend/vulkan/vulkan_device.h"
#include "backend/vulkan/vulkan_pipelines.h"

namespace laneway {

class VulkanCommands {
 public:
  explicit VulkanCommands(const VulkanDevice& dev);
  ~VulkanCommands();
  VulkanCommands(const VulkanCommands&) = delete;
  VulkanCommands& operator=(const VulkanCommands&) = delete;

  // Starts a new recording (the previous one must have been submitted).
  Status begin();
  // One dispatch of groups (x, y, z) with buffers bound at 0..n-1 (whole
  // buffers), then a compute->compute barrier.
  Status dispatch(const VulkanPipeline& p, std::initializer_list<VkBuffer> buffers, const PushConstants& pc,
                  uint32_t groups_x, uint32_t groups_y = 1, uint32_t groups_z = 1);
  // A buffer-to-buffer copy, ordered after and before the dispatches around it.
  Status copy(VkBuffer src, uint64_t src_offset, VkBuffer dst, uint64_t dst_offset, uint64_t size_bytes);
  // Ends, submits and waits; the results are then readable.
  Status submit_and_wait();
  uint32_t n_dispatches() const { return n_dispatches_; }

 private:
  Result<VkDescriptorSet> allocate_set(VkDescriptorSetLayout layout);
  // Profiling: a timestamp closing the span of `what` (no-op when off).
  void mark(const std::string& what);
  Status collect_profile();
  void print_profile() const;

  const VulkanDevice& dev_;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  std::vector<VkDescriptorPool> pools_;
  size_t pool_in_use_ = 0;
  bool recording_ = false;
  uint32_t n_dispatches_ = 0;

  struct Span {
    double ns = 0;
    uint64_t count = 0;
  };
  VkQueryPool queries_ = VK_NULL_HANDLE;  // profiling only
  double ns_per_tick_ = 0;
  std::vector<const std::string*> marks_;  // the span each timestamp after the first closes
  std::map<std::string, Span> spans_;
};

}  // namespace laneway
