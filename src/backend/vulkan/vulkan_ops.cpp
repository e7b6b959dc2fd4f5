// VulkanBackend's op recording: each op of graph.h as one or more
// dispatches (shaders under shaders/, push constants in the order each
// shader's PC block declares them).
#include <algorithm>
#include <string>

#include "backend/vulkan/vulkan_backend.h"
#include "backend/vulkan/vulkan_grid.h"

namespace laneway {

using vulkan_grid::capped_groups;
using vulkan_grid::f32_bits;
using vulkan_grid::groups_for;
using vulkan_grid::matmul_row_groups;
using vulkan_grid::matmul_token_blocks;
using vulkan_grid::Groups;
using vulkan_grid::u32;

Status VulkanBackend::record_matmul(const Op& op, int64_t n) {
  LANEWAY_ASSIGN_OR_RETURN(const DeviceWeight* w, weight(op.weight));
  LANEWAY_ASSIGN_OR_RETURN(const Activation* x, act(op.a));
  LANEWAY_ASSIGN_OR_RETURN(const Activation* y, act(op.dst));
  LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p,
                           pipelines_.get(fmt::format("matmul_{}", vulkan_weight_shader_suffix(w->type)), 3));
  for (const WeightPiece& piece : w->pieces) {
    const PushConstants pc{u32(w->n_cols), u32(piece.n_rows), u32(n), u32(static_cast<int64_t>(w->row_bytes)),
                           u32(piece.row_begin), u32(y->width)};
    // matmul.comp: a work-group per block of rows (x, y) and of tokens (z).
    const Groups g = matmul_row_groups(piece.n_rows);
    const auto token_blocks = static_cast<uint32_t>(matmul_token_blocks(n));
    LANEWAY_TRY(commands_.dispatch(*p, {piece.buffer.buffer(), x->buffer.buffer(), y->buffer.buffer()}, pc, g.x, g.y,
                                   token_blocks));
  }
  return Status::ok();
}

Status VulkanBackend::record_get_rows(const Op& op, int64_t n) {
  LANEWAY_ASSIGN_OR_RETURN(const DeviceWeight* w, weight(op.weight));
  LANEWAY_ASSIGN_OR_RETURN(const Activation* dst, act(op.dst));
  LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p,
                           pipelines_.get(fmt::format("get_rows_{}", vulkan_weight_shader_suffix(w->type)), 3));
  for (const WeightPiece& piece : w->pieces) {
    const PushConstants pc{u32(w->n_cols), u32(n), u32(static_cast<int64_t>(w->row_bytes)), u32(piece.row_begin),
                           u32(piece.row_begin + piece.n_rows), u32(dst->width)};
    const Groups g = groups_for(static_cast<uint64_t>(n));
    LANEWAY_TRY(commands_.dispatch(*p, {piece.buffer.buffer(), tokens_.buffer(), dst->buffer.buffer()}, pc, g.x, g.y));
  }
  return Status::ok();
}

Status VulkanBackend::record_store_kv(const Op& op, int64_t n) {
  KvLayer& layer = kv_layers_[static_cast<size_t>(op.layer - kv_.layer_begin)];
  LANEWAY_ASSIGN_OR_RETURN(const Activation* k, act(op.a));
  LANEWAY_ASSIGN_OR_RETURN(const Activation* v, act(op.b));
  LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p, pipelines_.get("store_kv", 3));
  struct Half {
    const VulkanBuffer& cache;
    const Activation* src;
    int64_t n_embd;
    GgmlType type;
    uint64_t stride;
  };
  for (const Half& h : {Half{layer.k, k, kv_.n_embd_k, kv_.type_k, kv_row_stride_k_},
                        Half{layer.v, v, kv_.n_embd_v, kv_.type_v, kv_row_stride_v_}}) {
    const PushConstants pc{u32(n),
                           u32(h.n_embd),
                           static_cast<uint32_t>(h.type),
                           u32(static_cast<int64_t>(h.stride)),
                           u32(kv_.cells_per_seq(op.layer)),
                           u32(h.src->width),
                           kv_.ring(op.layer) ? 1u : 0u};
    const uint64_t units = static_cast<uint64_t>(n) * static_cast<uint64_t>((h.n_embd + 31) / 32);
    const Groups g = groups_for((units + 63) / 64);
    LANEWAY_TRY(commands_.dispatch(*p, {h.cache.buffer(), h.src->buffer.buffer(), slots_.buffer()}, pc, g.x, g.y));
  }
  return Status::ok();
}

Status VulkanBackend::record_attention(const Op& op, int64_t n) {
  KvLayer& layer = kv_layers_[static_cast<size_t>(op.layer - kv_.layer_begin)];
  LANEWAY_ASSIGN_OR_RETURN(const Activation* q, act(op.a));
  LANEWAY_ASSIGN_OR_RETURN(const Activation* dst, act(op.dst));
  LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p, pipelines_.get(attention_shader_, 7));
  const AttentionShape& s = op.attn;
  LANEWAY_ASSIGN_OR_RETURN(uint64_t k_head_bytes, ggml_row_bytes(kv_.type_k, static_cast<uint64_t>(s.head_dim)));
  LANEWAY_ASSIGN_OR_RETURN(uint64_t v_head_bytes, ggml_row_bytes(kv_.type_v, static_cast<uint64_t>(s.head_dim)));
  // attention.comp: a work-group takes up to 4 query heads of one KV head,
  // at most 512 query floats (kMaxChunkHeads, kMaxOutputs); larger groups
  // are split into chunks, each its own work-group.
  const int64_t group = s.n_head / s.n_head_kv;
  const int64_t chunk_heads = std::min<int64_t>({group, 4, 512 / s.head_dim});
  const int64_t n_chunks = (group + chunk_heads - 1) / chunk_heads;
  const PushConstants pc{u32(n),
                         u32(s.n_head),
                         u32(s.n_head_kv),
                         u32(s.head_dim),
                         f32_bits(s.scale),
                         static_cast<uint32_t>(kv_.type_k),
                         static_cast<uint32_t>(kv_.type_v),
                         u32(static_cast<int64_t>(kv_row_stride_k_)),
                         u32(static_cast<int64_t>(kv_row_stride_v_)),
                         u32(static_cast<int64_t>(k_head_bytes)),
                         u32(static_cast<int64_t>(v_head_bytes)),
                         u32(kv_.cells_per_seq(op.layer)),
                         u32(q->width),
                         u32(dst->width),
                         u32(chunk_heads),
                         f32_bits(s.softcap),
                         f32_bits(s.softcap > 0.0f ? 1.0f / s.softcap : 0.0f),
                         u32(s.window),
                         u32(kv_.ring(op.layer) ? kv_.ring_cells : 0)};
  const Groups g = groups_for(static_cast<uint64_t>(n * s.n_head_kv * n_chunks));
  const VulkanBuffer& positions = kv_.ring(op.layer) ? ring_positions_ : positions_;
  return commands_.dispatch(*p,
                            {layer.k.buffer(), layer.v.buffer(), q->buffer.buffer(), dst->buffer.buffer(),
                             slots_.buffer(), positions.buffer(), used_.buffer()},
                            pc, g.x, g.y);
}

Status VulkanBackend::record_op(const Op& op, const PassInputs& in) {
  const int64_t n = op.rows == OpRows::tokens ? in.n_tokens : in.n_outputs;
  if (n <= 0) return Status::ok();
  switch (op.kind) {
    case OpKind::matmul: return record_matmul(op, n);
    case OpKind::get_rows: return record_get_rows(op, n);
    case OpKind::store_kv: return record_store_kv(op, n);
    case OpKind::attention: return record_attention(op, n);
    case OpKind::rms_norm: {
      LANEWAY_ASSIGN_OR_RETURN(const DeviceWeight* w, weight(op.weight));
      LANEWAY_ASSIGN_OR_RETURN(const Activation* x, act(op.a));
      LANEWAY_ASSIGN_OR_RETURN(const Activation* dst, act(op.dst));
      LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p, pipelines_.get("rms_norm", 3));
      const PushConstants pc{u32(w->n_cols), u32(n), f32_bits(op.eps), u32(x->width), u32(dst->width)};
      const Groups g = groups_for(static_cast<uint64_t>(n));
      return commands_.dispatch(*p, {w->pieces[0].buffer.buffer(), x->buffer.buffer(), dst->buffer.buffer()}, pc, g.x,
                                g.y);
    }
    case OpKind::rope: {
      LANEWAY_ASSIGN_OR_RETURN(const Activation* x, act(op.dst));
      LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p, pipelines_.get("rope", 2));
      if (op.rope_dim / 2 > rope_half_max_) return internal_error("vulkan: rope_dim {} not seen at allocate()", op.rope_dim);
      // The table's rows are rope_half_max_ pairs wide; ops with a smaller rope_dim are not mixed in one graph.
      const PushConstants pc{u32(n), u32(op.n_heads), u32(op.head_dim), u32(op.rope_dim), op.neox ? 1u : 0u,
                             u32(x->width)};
      const Groups g = capped_groups(static_cast<uint64_t>(n * op.n_heads * (op.rope_dim / 2)), 64);
      return commands_.dispatch(*p, {x->buffer.buffer(), rope_.buffer()}, pc, g.x, g.y);
    }
    case OpKind::add:
    case OpKind::swiglu:
    case OpKind::geglu:
    case OpKind::gather_outputs: {
      LANEWAY_ASSIGN_OR_RETURN(const Activation* dst, act(op.dst));
      LANEWAY_ASSIGN_OR_RETURN(const Activation* a, act(op.a));
      const bool gated = op.kind == OpKind::swiglu || op.kind == OpKind::geglu;
      const int64_t b_width = gated ? activations_[static_cast<size_t>(op.b)].width : 0;
      const PushConstants pc{u32(n), u32(dst->width), u32(dst->width), u32(a->width), u32(b_width)};
      const Groups g = capped_groups(static_cast<uint64_t>(n * dst->width), 256);
      if (op.kind == OpKind::add) {
        LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p, pipelines_.get("add", 2));
        return commands_.dispatch(*p, {dst->buffer.buffer(), a->buffer.buffer()}, pc, g.x, g.y);
      }
      if (gated) {
        LANEWAY_ASSIGN_OR_RETURN(const Activation* b, act(op.b));
        LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p,
                                 pipelines_.get(op.kind == OpKind::swiglu ? "swiglu" : "geglu", 3));
        return commands_.dispatch(*p, {dst->buffer.buffer(), a->buffer.buffer(), b->buffer.buffer()}, pc, g.x, g.y);
      }
      LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p, pipelines_.get("gather_outputs", 3));
      return commands_.dispatch(*p, {dst->buffer.buffer(), a->buffer.buffer(), output_rows_.buffer()}, pc, g.x, g.y);
    }
    case OpKind::add_bias: {
      // add with the bias as a one-row operand (stride 0).
      LANEWAY_ASSIGN_OR_RETURN(const DeviceWeight* w, weight(op.weight));
      LANEWAY_ASSIGN_OR_RETURN(const Activation* dst, act(op.dst));
      LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p, pipelines_.get("add", 2));
      const PushConstants pc{u32(n), u32(dst->width), u32(dst->width), 0u, 0u};
      const Groups g = capped_groups(static_cast<uint64_t>(n * dst->width), 256);
      return commands_.dispatch(*p, {dst->buffer.buffer(), w->pieces[0].buffer.buffer()}, pc, g.x, g.y);
    }
    case OpKind::scale:
    case OpKind::softcap: {
      LANEWAY_ASSIGN_OR_RETURN(const Activation* dst, act(op.dst));
      LANEWAY_ASSIGN_OR_RETURN(const VulkanPipeline* p,
                               pipelines_.get(op.kind == OpKind::scale ? "scale" : "softcap", 1));
      const float inv = op.kind == OpKind::softcap ? 1.0f / op.value : 0.0f;
      const PushConstants pc{u32(n), u32(dst->width), u32(dst->width), 0u, 0u, f32_bits(op.value), f32_bits(inv)};
      const Groups g = capped_groups(static_cast<uint64_t>(n * dst->width), 256);
      return commands_.dispatch(*p, {dst->buffer.buffer()}, pc, g.x, g.y);
    }
    case OpKind::moe_route: return record_moe_route(op, n);
    case OpKind::matmul_id: return record_matmul_id(op, n);
    case OpKind::moe_combine: return record_moe_combine(op, n);
  }
  return internal_error("vulkan: unknown op kind {}", static_cast<int>(op.kind));
}

}  // namespace laneway
