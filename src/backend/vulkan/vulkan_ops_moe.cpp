// VulkanBackend's mixture-of-experts ops (shaders/moe.comp and matmul.comp's
// MATMUL_ID variant). matmul_id runs as two dispatches: moe_group lists,
// per expert, the (token, slot) pairs routed to it (in moe_groups_), then
// matmul_id multiplies each expert's rows by its pairs' inputs, grid z
// being (expert, block of pairs): only the selected experts' rows are read,
// and nothing leaves the device.
#include <cstdint>
#include <string>

#include "backend/vulkan/vulkan_backend.h"
#include "backend/vulkan/vulkan_grid.h"

namespace laneway {

using vulkan_grid::capped_groups;
using vulkan_grid::groups_for;
using vulkan_grid::Groups;
using vulkan_grid::u32;

Status VulkanBackend::record_moe_route(const Op& op, int64_t n) {
  LANEWAY_ASSIGN_OR_RETURN(const Activation* logits, act(op.a));
  LANEWAY_ASSIGN_OR_RETURN(const Activation* dst, act(op.dst));
  LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p, pipelines_.get("moe_route", 2));
  const PushConstants pc{u32(n), u32(op.n_expert), u32(op.n_expert_used), u32(logits->width), u32(dst->width)};
  const Groups g = groups_for((static_cast<uint64_t>(n) + 63) / 64);  // moe.comp: 64 tokens per work-group
  return commands_.dispatch(*p, {dst->buffer.buffer(), logits->buffer.buffer()}, pc, g.x, g.y);
}

Status VulkanBackend::record_matmul_id(const Op& op, int64_t n) {
  LANEWAY_ASSIGN_OR_RETURN(const DeviceWeight* w, weight(op.weight));
  LANEWAY_ASSIGN_OR_RETURN(const Activation* x, act(op.a));
  LANEWAY_ASSIGN_OR_RETURN(const Activation* route, act(op.b));
  LANEWAY_ASSIGN_OR_RETURN(const Activation* y, act(op.dst));
  if (!moe_groups_.valid() || op.n_expert > moe_groups_experts_) {
    return internal_error("vulkan: matmul_id over {} experts not seen at allocate()", op.n_expert);
  }
  const int64_t list_stride = max_tokens_;
  {
    LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p, pipelines_.get("moe_group", 2));
    const PushConstants pc{u32(n), u32(op.n_expert), u32(op.n_expert_used), u32(route->width), u32(list_stride)};
    const Groups g = groups_for((static_cast<uint64_t>(op.n_expert) + 63) / 64);
    LANEWAY_TRY(commands_.dispatch(*p, {route->buffer.buffer(), moe_groups_.buffer()}, pc, g.x, g.y));
  }
  LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p,
                           pipelines_.get(fmt::format("matmul_id_{}", vulkan_weight_shader_suffix(w->type)), 4));
  const int64_t expert_rows = w->n_rows / op.n_expert;
  // matmul.comp: a work-group per block of an expert's rows (x, y); z: expert x block of pairs.
  const Groups g = vulkan_grid::matmul_row_groups(expert_rows);
  const int64_t z = op.n_expert * vulkan_grid::matmul_token_blocks(n);
  if (z > 65535) {
    return unsupported_error("vulkan: matmul_id over {} experts and {} tokens exceeds the 65535 work-groups in z",
                             op.n_expert, n);
  }
  for (const WeightPiece& piece : w->pieces) {
    const PushConstants pc{u32(w->n_cols),
                           u32(piece.n_rows),
                           u32(n),
                           u32(static_cast<int64_t>(w->row_bytes)),
                           u32(piece.row_begin),
                           u32(expert_rows),
                           u32(op.n_expert),
                           u32(op.n_expert_used),
                           u32(expert_rows),
                           op.per_slot ? 1u : 0u,
                           u32(list_stride)};
    LANEWAY_TRY(commands_.dispatch(
        *p, {piece.buffer.buffer(), x->buffer.buffer(), y->buffer.buffer(), moe_groups_.buffer()}, pc, g.x, g.y, u32(z)));
  }
  return Status::ok();
}

Status VulkanBackend::record_moe_combine(const Op& op, int64_t n) {
  LANEWAY_ASSIGN_OR_RETURN(const Activation* a, act(op.a));
  LANEWAY_ASSIGN_OR_RETURN(const Activation* route, act(op.b));
  LANEWAY_ASSIGN_OR_RETURN(const Activation* dst, act(op.dst));
  LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p, pipelines_.get("moe_combine", 3));
  const PushConstants pc{u32(n), u32(dst->width), u32(op.n_expert_used), u32(dst->width), u32(a->width),
                         u32(route->width)};
  const Groups g = capped_groups(static_cast<uint64_t>(n * dst->width), 256);
  return commands_.dispatch(*p, {dst->buffer.buffer(), a->buffer.buffer(), route->buffer.buffer()}, pc, g.x, g.y);
}

}  // namespace laneway
