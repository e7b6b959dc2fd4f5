// VulkanBackend: the ops of graph.h as Vulkan compute dispatches, checked
// op by op against CpuBackend (tests/unit/backend/vulkan_ops_test.cpp).
//
// allocate() uploads every weight the ops use (once, keyed by its
// WeightView's address: the views must outlive the backend), sizes the
// activation buffers, the per-chunk input buffers and the KV rows. run()
// records the ops as one command buffer, submits once and waits once.
//
// Weights are read in their GGUF layout (rows of row_bytes), dequantized in
// the shaders. A weight larger than the device's maxStorageBufferRange is
// split into pieces of whole rows, each its own buffer and dispatch.
//
// Owned and called by one engine thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "backend/vulkan/vulkan_commands.h"
#include "backend/vulkan/vulkan_device.h"
#include "backend/vulkan/vulkan_memory.h"
#include "backend/vulkan/vulkan_pipelines.h"

namespace laneway {

// The shader variant suffix of a weight type ("q4_0"), or nullptr when the
// Vulkan backend has no matmul/get_rows for it.
const char* vulkan_weight_shader_suffix(GgmlType type);

class VulkanBackend final : public Backend {
 public:
  // Opens the device `want` names (see select_vulkan_device).
  static Result<std::unique_ptr<VulkanBackend>> create(std::string_view want);
  explicit VulkanBackend(std::unique_ptr<VulkanDevice> device);
  ~VulkanBackend() override;

  std::string_view name() const override { return "vulkan"; }
  std::string describe() const override { return device_->info().describe(); }
  bool supports_weight_type(GgmlType type) const override;

  Status allocate(const BackendSetup& setup) override;
  Status run(std::span<const Op> ops, const PassInputs& in) override;
  Status read_activation(ActId act, int64_t n_rows, float* host) override;
  Status write_activation(ActId act, int64_t n_rows, const float* host) override;
  Status copy_kv_cells(int32_t src_seq, int32_t dst_seq, int64_t n_cells) override;
  uint64_t kv_bytes() const override { return kv_bytes_; }
  uint64_t compute_bytes() const override { return compute_bytes_; }

  const VulkanDeviceInfo& device_info() const { return device_->info(); }
  // "unified" (one copy into host-visible device memory) or "staging".
  std::string_view weight_upload_path() const { return unified_ ? "unified" : "staging"; }
  uint64_t weight_bytes() const { return weight_bytes_; }

 private:
  struct WeightPiece {
    VulkanBuffer buffer;
    int64_t row_begin = 0;
    int64_t n_rows = 0;
  };
  struct DeviceWeight {
    GgmlType type = GgmlType::f32;
    int64_t n_cols = 0;
    int64_t n_rows = 0;
    uint64_t row_bytes = 0;
    std::vector<WeightPiece> pieces;
  };
  struct Activation {
    VulkanBuffer buffer;
    int64_t width = 0;
    bool host_output = false;
  };
  struct KvLayer {
    VulkanBuffer k;
    VulkanBuffer v;
  };

  Status check_op(const Op& op) const;
  Status upload_weight(const WeightView& w);
  Status upload_inputs(std::span<const Op> ops, const PassInputs& in);
  // vulkan_ops.cpp: one op's dispatches.
  Status record_op(const Op& op, const PassInputs& in);
  Status record_matmul(const Op& op, int64_t n);
  Status record_get_rows(const Op& op, int64_t n);
  Status record_attention(const Op& op, int64_t n);
  Status record_store_kv(const Op& op, int64_t n);
  // vulkan_ops_moe.cpp: mixtures of experts.
  Status record_moe_route(const Op& op, int64_t n);
  Status record_matmul_id(const Op& op, int64_t n);
  Status record_moe_combine(const Op& op, int64_t n);
  Result<const Activation*> act(ActId id) const;
  Result<const DeviceWeight*> weight(const WeightView* w) const;

  // Declared first: destroyed last, after every buffer and pipeline made from it.
  std::unique_ptr<VulkanDevice> device_;
  VulkanPipelines pipelines_;
  VulkanCommands commands_;
  bool unified_ = false;

  std::vector<Activation> activations_;
  std::unordered_map<const WeightView*, DeviceWeight> weights_;
  KvStorageDesc kv_;
  uint64_t kv_row_stride_k_ = 0;  // bytes, padded to whole words
  uint64_t kv_row_stride_v_ = 0;
  std::vector<KvLayer> kv_layers_;
  std::string attention_shader_;  // "attention_<k type>_<v type>"
  int64_t max_tokens_ = 0;
  int64_t rope_half_max_ = 0;

  // Per-chunk inputs (host-visible, rewritten by each run()).
  VulkanBuffer tokens_;       // int32 [max_tokens]
  VulkanBuffer slots_;        // int32 [max_tokens][4]: seq, cell, pos, 0
  VulkanBuffer rope_;         // f32 [max_tokens][rope_half_max][2]
  VulkanBuffer output_rows_;  // int32 [max_tokens]
  VulkanBuffer positions_;    // int32 [n_seq][context_tokens]
  VulkanBuffer ring_positions_;  // int32 [n_seq][ring_cells]: what each ring cell holds (INT32_MAX: none)
  VulkanBuffer used_;         // int32 [n_seq]
  // matmul_id's pairs per expert (moe.comp MOE_GROUP): uint32 counts
  // [moe_groups_experts_], then [moe_groups_experts_][max_tokens] pair lists.
  VulkanBuffer moe_groups_;
  int64_t moe_groups_experts_ = 0;

  uint64_t kv_bytes_ = 0;
  uint64_t compute_bytes_ = 0;
  uint64_t weight_bytes_ = 0;
};

}  // namespace laneway
