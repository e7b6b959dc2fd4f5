#include "backend/vulkan/vulkan_backend.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "gguf/types.h"

namespace laneway {

const char* vulkan_weight_shader_suffix(GgmlType type) {
  switch (type) {
    case GgmlType::f32: return "f32";
    case GgmlType::f16: return "f16";
    case GgmlType::bf16: return "bf16";
    case GgmlType::q8_0: return "q8_0";
    case GgmlType::q4_0: return "q4_0";
    case GgmlType::q4_1: return "q4_1";
    case GgmlType::q5_0: return "q5_0";
    case GgmlType::q5_1: return "q5_1";
    case GgmlType::q2_k: return "q2_k";
    case GgmlType::q3_k: return "q3_k";
    case GgmlType::q4_k: return "q4_k";
    case GgmlType::q5_k: return "q5_k";
    case GgmlType::q6_k: return "q6_k";
    default: return nullptr;
  }
}

namespace {

bool kv_type_supported(GgmlType t) { return t == GgmlType::f16 || t == GgmlType::q8_0 || t == GgmlType::q4_0; }

uint64_t round_up4(uint64_t v) { return (v + 3) / 4 * 4; }

}  // namespace

Result<std::unique_ptr<VulkanBackend>> VulkanBackend::create(std::string_view want) {
  LANEWAY_ASSIGN_OR_RETURN(std::unique_ptr<VulkanDevice> dev, select_vulkan_device(want));
  return std::make_unique<VulkanBackend>(std::move(dev));
}

VulkanBackend::VulkanBackend(std::unique_ptr<VulkanDevice> device)
    : device_(std::move(device)), pipelines_(*device_), commands_(*device_), unified_(device_->info().unified_memory) {}

VulkanBackend::~VulkanBackend() = default;

bool VulkanBackend::supports_weight_type(GgmlType type) const { return vulkan_weight_shader_suffix(type) != nullptr; }

Result<const VulkanBackend::Activation*> VulkanBackend::act(ActId id) const {
  if (id < 0 || static_cast<size_t>(id) >= activations_.size() || !activations_[static_cast<size_t>(id)].buffer.valid()) {
    return internal_error("vulkan: activation {} was not allocated", id);
  }
  return &activations_[static_cast<size_t>(id)];
}

Result<const VulkanBackend::DeviceWeight*> VulkanBackend::weight(const WeightView* w) const {
  auto it = weights_.find(w);
  if (it == weights_.end()) return internal_error("vulkan: a weight was not uploaded at allocate()");
  return &it->second;
}

Status VulkanBackend::check_op(const Op& op) const {
  auto width = [&](ActId id) -> int64_t {
    return id >= 0 && static_cast<size_t>(id) < activations_.size() ? activations_[static_cast<size_t>(id)].width : 0;
  };
  auto check_weight = [&]() -> Status {
    if (op.weight == nullptr || !op.weight->present()) return invalid_argument_error("vulkan: op without its weight");
    if (op.weight->tiled) return invalid_argument_error("vulkan: weights must be in file layout, not CPU tiles");
    if (!supports_weight_type(op.weight->type)) {
      return unsupported_error("vulkan: no shader for weight type {}", ggml_type_name(op.weight->type));
    }
    if (op.weight->n_cols % 4 != 0) {
      return unsupported_error("vulkan: weight rows of {} elements (not a multiple of 4)", op.weight->n_cols);
    }
    return Status::ok();
  };
  // A route row: n_expert_used ids, then as many weights.
  auto check_route = [&](ActId route) -> Status {
    if (op.n_expert_used <= 0 || width(route) != 2 * op.n_expert_used) {
      return invalid_argument_error("vulkan: {} op with {} experts per token over a route of width {}",
                                    op_kind_name(op.kind), op.n_expert_used, width(route));
    }
    return Status::ok();
  };
  switch (op.kind) {
    case OpKind::matmul:
    case OpKind::get_rows:
      LANEWAY_TRY(check_weight());
      if (op.kind == OpKind::matmul && (width(op.a) != op.weight->n_cols || width(op.dst) != op.weight->n_rows)) {
        return invalid_argument_error("vulkan: matmul of a {}x{} weight from width {} to width {}", op.weight->n_rows,
                                      op.weight->n_cols, width(op.a), width(op.dst));
      }
      if (op.kind == OpKind::get_rows && width(op.dst) != op.weight->n_cols) {
        return invalid_argument_error("vulkan: get_rows of {}-wide rows into width {}", op.weight->n_cols,
                                      width(op.dst));
      }
      break;
    case OpKind::matmul_id: {
      LANEWAY_TRY(check_weight());
      LANEWAY_TRY(check_route(op.b));
      if (op.n_expert <= 0 || op.n_expert_used > op.n_expert || op.weight->n_rows % op.n_expert != 0) {
        return invalid_argument_error("vulkan: matmul_id of {} stacked rows over {} experts ({} per token)",
                                      op.weight->n_rows, op.n_expert, op.n_expert_used);
      }
      const int64_t rows = op.weight->n_rows / op.n_expert;
      const int64_t in_width = op.per_slot ? op.n_expert_used * op.weight->n_cols : op.weight->n_cols;
      if (width(op.a) != in_width || width(op.dst) != op.n_expert_used * rows) {
        return invalid_argument_error("vulkan: matmul_id of {} experts' {}x{} weights from width {} to width {}",
                                      op.n_expert, rows, op.weight->n_cols, width(op.a), width(op.dst));
      }
      break;
    }
    case OpKind::moe_route:
      LANEWAY_TRY(check_route(op.dst));
      if (op.n_expert_used > op.n_expert || width(op.a) != op.n_expert) {
        return invalid_argument_error("vulkan: moe_route of {} of {} experts from width {}", op.n_expert_used,
                                      op.n_expert, width(op.a));
      }
      break;
    case OpKind::moe_combine:
      LANEWAY_TRY(check_route(op.b));
      if (width(op.a) != op.n_expert_used * width(op.dst)) {
        return invalid_argument_error("vulkan: moe_combine of width {} into width {}", width(op.a), width(op.dst));
      }
      break;
    case OpKind::rms_norm:
      if (op.weight == nullptr || op.weight->type != GgmlType::f32 || op.weight->n_cols != width(op.a)) {
        return invalid_argument_error("vulkan: rms_norm needs an f32 weight as wide as its input");
      }
      break;
    case OpKind::add_bias:
      if (op.weight == nullptr || op.weight->type != GgmlType::f32 || op.weight->n_cols != width(op.dst)) {
        return invalid_argument_error("vulkan: add_bias needs an f32 vector as wide as its activation");
      }
      break;
    case OpKind::attention:
      if (op.attn.head_dim > 256 || op.attn.head_dim <= 0 || op.attn.head_dim % 2 != 0) {
        return unsupported_error("vulkan: attention head_dim {} (even, at most 256)", op.attn.head_dim);
      }
      if (op.attn.n_head_kv <= 0 || op.attn.n_head % op.attn.n_head_kv != 0) {
        return invalid_argument_error("vulkan: {} query heads over {} KV heads", op.attn.n_head, op.attn.n_head_kv);
      }
      if (op.attn.window < 0 || op.attn.window > INT32_MAX || !(op.attn.softcap >= 0.0f)) {
        return invalid_argument_error("vulkan: attention window {} or softcap {}", op.attn.window, op.attn.softcap);
      }
      [[fallthrough]];
    case OpKind::store_kv:
      if (op.layer < kv_.layer_begin || op.layer >= kv_.layer_end) {
        return invalid_argument_error("vulkan: layer {} has no KV rows on this backend", op.layer);
      }
      break;
    case OpKind::add:
    case OpKind::swiglu:
    case OpKind::geglu:
    case OpKind::gather_outputs: {
      const bool gated = op.kind == OpKind::swiglu || op.kind == OpKind::geglu;
      if (width(op.a) != width(op.dst) || (gated && width(op.b) != width(op.dst))) {
        return invalid_argument_error("vulkan: element-wise op on different widths");
      }
      break;
    }
    case OpKind::scale:
      break;
    case OpKind::softcap:
      if (!(op.value > 0.0f)) return invalid_argument_error("vulkan: softcap of {}", op.value);
      break;
    case OpKind::rope:
      break;
  }
  return Status::ok();
}

Status VulkanBackend::upload_weight(const WeightView& w) {
  if (weights_.count(&w)) return Status::ok();
  const VulkanDeviceInfo& info = device_->info();
  const uint64_t limit = std::min<uint64_t>(info.max_storage_buffer_range_bytes,
                                            info.max_allocation_bytes ? info.max_allocation_bytes : UINT64_MAX);
  // Buffers are padded by a word (the shaders read whole words past odd ends).
  const uint64_t usable = limit > 8 ? limit - 8 : 0;
  if (w.row_bytes == 0 || w.row_bytes > usable) {
    return unsupported_error("vulkan: a weight row of {} bytes does not fit {}'s buffer limit of {} bytes", w.row_bytes,
                             info.name, limit);
  }
  DeviceWeight dw;
  dw.type = w.type;
  dw.n_cols = w.n_cols;
  dw.n_rows = w.n_rows;
  dw.row_bytes = w.row_bytes;
  const auto rows_per_piece = static_cast<int64_t>(usable / w.row_bytes);
  const VulkanMemoryKind kind = unified_ ? VulkanMemoryKind::unified : VulkanMemoryKind::device_local;
  for (int64_t r0 = 0; r0 < w.n_rows; r0 += rows_per_piece) {
    WeightPiece piece;
    piece.row_begin = r0;
    piece.n_rows = std::min(rows_per_piece, w.n_rows - r0);
    const uint64_t bytes = static_cast<uint64_t>(piece.n_rows) * w.row_bytes;
    LANEWAY_ASSIGN_OR_RETURN(piece.buffer, VulkanBuffer::create(*device_, bytes + 4, kind));
    LANEWAY_TRY(vulkan_upload(*device_, piece.buffer, 0, w.row(r0), bytes));
    weight_bytes_ += piece.buffer.size_bytes();
    dw.pieces.push_back(std::move(piece));
  }
  weights_.emplace(&w, std::move(dw));
  return Status::ok();
}

Status VulkanBackend::allocate(const BackendSetup& setup) {
  activations_.clear();
  weights_.clear();
  kv_layers_.clear();
  kv_bytes_ = compute_bytes_ = weight_bytes_ = 0;
  max_tokens_ = std::max<int64_t>(setup.max_tokens, 1);
  kv_ = setup.kv;

  activations_.resize(setup.activations.size());
  for (size_t i = 0; i < setup.activations.size(); ++i) {
    const ActivationDesc& d = setup.activations[i];
    Activation& a = activations_[i];
    a.width = d.width;
    a.host_output = d.host_output;
    if (d.width == 0) continue;
    const uint64_t bytes = static_cast<uint64_t>(max_tokens_) * static_cast<uint64_t>(d.width) * sizeof(float);
    const VulkanMemoryKind kind = d.host_output ? VulkanMemoryKind::host_visible : VulkanMemoryKind::device_local;
    Result<VulkanBuffer> buf = VulkanBuffer::create(*device_, bytes, kind);
    if (!buf.is_ok()) return buf.status().with_context(fmt::format("activation {}", d.name));
    a.buffer = std::move(buf).value();
    compute_bytes_ += a.buffer.size_bytes();
  }

  // KV rows: one K and one V buffer per layer, all sequences' cells (a ring layer's ring cells).
  if (kv_.n_layers() > 0) {
    if (!kv_type_supported(kv_.type_k) || !kv_type_supported(kv_.type_v)) {
      return unsupported_error("vulkan: KV cache types {}/{} (f16, q8_0 and q4_0 are supported)",
                               ggml_type_name(kv_.type_k), ggml_type_name(kv_.type_v));
    }
    LANEWAY_ASSIGN_OR_RETURN(uint64_t k_row, ggml_row_bytes(kv_.type_k, static_cast<uint64_t>(kv_.n_embd_k)));
    LANEWAY_ASSIGN_OR_RETURN(uint64_t v_row, ggml_row_bytes(kv_.type_v, static_cast<uint64_t>(kv_.n_embd_v)));
    if (kv_.n_embd_k % 2 != 0 || kv_.n_embd_v % 2 != 0) return unsupported_error("vulkan: odd KV row widths");
    kv_row_stride_k_ = round_up4(k_row);
    kv_row_stride_v_ = round_up4(v_row);
    for (int32_t l = 0; l < kv_.n_layers(); ++l) {
      const auto cells = static_cast<uint64_t>(kv_.cells_per_seq(kv_.layer_begin + l) * kv_.n_seq);
      KvLayer layer;
      Result<VulkanBuffer> k = VulkanBuffer::create(*device_, cells * kv_row_stride_k_, VulkanMemoryKind::device_local);
      if (!k.is_ok()) return k.status().with_context(fmt::format("KV rows of layer {} (split KV is not implemented)", kv_.layer_begin + l));
      Result<VulkanBuffer> v = VulkanBuffer::create(*device_, cells * kv_row_stride_v_, VulkanMemoryKind::device_local);
      if (!v.is_ok()) return v.status().with_context(fmt::format("KV rows of layer {}", kv_.layer_begin + l));
      layer.k = std::move(k).value();
      layer.v = std::move(v).value();
      kv_bytes_ += layer.k.size_bytes() + layer.v.size_bytes();
      kv_layers_.push_back(std::move(layer));
    }
  }

  rope_half_max_ = 0;
  int64_t moe_experts = 0;
  for (const Op& op : setup.ops) {
    LANEWAY_TRY(check_op(op));
    if (op.kind == OpKind::rope) rope_half_max_ = std::max(rope_half_max_, op.rope_dim / 2);
    if (op.kind == OpKind::matmul_id) moe_experts = std::max(moe_experts, op.n_expert);
    if (op.weight != nullptr && (op.kind == OpKind::matmul || op.kind == OpKind::get_rows || op.kind == OpKind::rms_norm ||
                                 op.kind == OpKind::add_bias || op.kind == OpKind::matmul_id)) {
      LANEWAY_TRY(upload_weight(*op.weight));
      // The device has its own copy now: the host's pages can go before the next upload.
      if (setup.weight_uploaded) setup.weight_uploaded(*op.weight);
    }
  }
  // Create every pipeline now: a shader the driver rejects fails here, not mid-run.
  // One attention variant per cache type pair (types checked above when there are KV rows).
  attention_shader_.clear();
  if (kv_.n_layers() > 0) {
    attention_shader_ = fmt::format("attention_{}_{}", vulkan_weight_shader_suffix(kv_.type_k),
                                    vulkan_weight_shader_suffix(kv_.type_v));
  }
  for (const Op& op : setup.ops) {
    if (op.kind == OpKind::attention) LANEWAY_TRY(pipelines_.get(attention_shader_, 7).status());
    if (op.kind == OpKind::matmul || op.kind == OpKind::get_rows) {
      const std::string name =
          fmt::format("{}_{}", op.kind == OpKind::matmul ? "matmul" : "get_rows", vulkan_weight_shader_suffix(op.weight->type));
      LANEWAY_TRY(pipelines_.get(name, 3).status());
    }
    if (op.kind == OpKind::matmul_id) {
      LANEWAY_TRY(pipelines_.get("moe_group", 2).status());
      LANEWAY_TRY(pipelines_.get(fmt::format("matmul_id_{}", vulkan_weight_shader_suffix(op.weight->type)), 4).status());
    }
    switch (op.kind) {
      case OpKind::add:
      case OpKind::add_bias: LANEWAY_TRY(pipelines_.get("add", 2).status()); break;
      case OpKind::scale: LANEWAY_TRY(pipelines_.get("scale", 1).status()); break;
      case OpKind::softcap: LANEWAY_TRY(pipelines_.get("softcap", 1).status()); break;
      case OpKind::geglu: LANEWAY_TRY(pipelines_.get("geglu", 3).status()); break;
      case OpKind::moe_route: LANEWAY_TRY(pipelines_.get("moe_route", 2).status()); break;
      case OpKind::moe_combine: LANEWAY_TRY(pipelines_.get("moe_combine", 3).status()); break;
      default: break;
    }
  }

  const VulkanMemoryKind host = VulkanMemoryKind::host_visible;
  const auto tokens = static_cast<uint64_t>(max_tokens_);
  LANEWAY_ASSIGN_OR_RETURN(tokens_, VulkanBuffer::create(*device_, tokens * 4, host));
  LANEWAY_ASSIGN_OR_RETURN(slots_, VulkanBuffer::create(*device_, tokens * 16, host));
  LANEWAY_ASSIGN_OR_RETURN(rope_, VulkanBuffer::create(*device_, tokens * static_cast<uint64_t>(rope_half_max_) * 8, host));
  LANEWAY_ASSIGN_OR_RETURN(output_rows_, VulkanBuffer::create(*device_, tokens * 4, host));
  LANEWAY_ASSIGN_OR_RETURN(positions_, VulkanBuffer::create(*device_, static_cast<uint64_t>(std::max<int64_t>(kv_.n_cells(), 1)) * 4, host));
  LANEWAY_ASSIGN_OR_RETURN(used_, VulkanBuffer::create(*device_, static_cast<uint64_t>(std::max(kv_.n_seq, 1)) * 4, host));
  const int64_t ring_cells = kv_.ring_cells * kv_.n_seq;
  LANEWAY_ASSIGN_OR_RETURN(ring_positions_,
                           VulkanBuffer::create(*device_, static_cast<uint64_t>(std::max<int64_t>(ring_cells, 1)) * 4, host));
  for (const VulkanBuffer* b : {&tokens_, &slots_, &rope_, &output_rows_, &positions_, &used_, &ring_positions_}) {
    compute_bytes_ += b->size_bytes();
  }
  moe_groups_ = VulkanBuffer{};
  moe_groups_experts_ = moe_experts;
  if (moe_experts > 0) {
    const auto words = static_cast<uint64_t>(moe_experts) * (1 + tokens);
    LANEWAY_ASSIGN_OR_RETURN(moe_groups_, VulkanBuffer::create(*device_, words * 4, VulkanMemoryKind::device_local));
    compute_bytes_ += moe_groups_.size_bytes();
  }
  fmt::print(stderr, "laneway vulkan: {} on {}: {} weights, {:.1f} MiB uploaded by the {} path\n",
             weight_upload_path() == "unified" ? "unified memory" : "discrete memory", device_->info().name,
             weights_.size(), static_cast<double>(weight_bytes_) / (1024.0 * 1024.0),
             unified_ ? "unified (one copy into host-visible device memory)" : "staging");
  return Status::ok();
}

Status VulkanBackend::upload_inputs(std::span<const Op> ops, const PassInputs& in) {
  bool need_tokens = false, need_slots = false, need_rope = false, need_outputs = false, need_cells = false;
  for (const Op& op : ops) {
    need_tokens |= op.kind == OpKind::get_rows;
    need_slots |= op.kind == OpKind::store_kv || op.kind == OpKind::attention;
    need_rope |= op.kind == OpKind::rope;
    need_outputs |= op.kind == OpKind::gather_outputs;
    need_cells |= op.kind == OpKind::attention;
  }
  const int64_t n = in.n_tokens;
  if (need_tokens) {
    int32_t n_table_rows = 0;
    for (const Op& op : ops) {
      if (op.kind == OpKind::get_rows) n_table_rows = static_cast<int32_t>(op.weight->n_rows);
    }
    for (int64_t t = 0; t < n; ++t) {
      if (in.tokens[t] < 0 || in.tokens[t] >= n_table_rows) {
        return invalid_argument_error("vulkan: token id {} outside the table's {} rows", in.tokens[t], n_table_rows);
      }
    }
    std::memcpy(tokens_.mapped(), in.tokens, static_cast<size_t>(n) * 4);
  }
  if (need_slots) {
    auto* s = static_cast<int32_t*>(slots_.mapped());
    for (int64_t t = 0; t < n; ++t) {
      const TokenSlot& slot = in.slots[t];
      // The shaders hold positions in 32 bits (2^31 tokens is beyond any context).
      if (slot.pos < 0 || slot.pos >= INT32_MAX) {  // INT32_MAX marks an empty ring cell
        return unsupported_error("vulkan: position {} does not fit the shaders' 32-bit positions", slot.pos);
      }
      if (slot.seq < 0 || slot.seq >= kv_.n_seq || slot.cell < 0 || slot.cell >= kv_.context_tokens ||
          (kv_.ring_cells > 0 && (slot.ring_cell < 0 || slot.ring_cell >= kv_.ring_cells))) {
        return invalid_argument_error("vulkan: token {} goes to cell {} (ring cell {}) of sequence {}, outside the cache",
                                      t, slot.cell, slot.ring_cell, slot.seq);
      }
      s[4 * t] = slot.seq;
      s[4 * t + 1] = static_cast<int32_t>(slot.cell);
      s[4 * t + 2] = static_cast<int32_t>(slot.pos);
      s[4 * t + 3] = kv_.ring_cells > 0 ? static_cast<int32_t>(slot.ring_cell) : 0;
    }
  }
  if (need_rope) {
    if (in.rope_pairs != rope_half_max_) {
      return invalid_argument_error("vulkan: a rope table of {} pairs per token, the ops rotate {}", in.rope_pairs,
                                    rope_half_max_);
    }
    std::memcpy(rope_.mapped(), in.rope_cos_sin, static_cast<size_t>(n * rope_half_max_ * 2) * sizeof(float));
  }
  if (need_outputs) std::memcpy(output_rows_.mapped(), in.output_rows, static_cast<size_t>(in.n_outputs) * 4);
  if (need_cells) {
    auto* pos = static_cast<int32_t*>(positions_.mapped());
    auto* used = static_cast<int32_t*>(used_.mapped());
    if (in.cells.n_seq > kv_.n_seq || in.cells.context_tokens != kv_.context_tokens) {
      return invalid_argument_error("vulkan: cell bookkeeping for {} sequences of {} cells, allocated {} of {}",
                                    in.cells.n_seq, in.cells.context_tokens, kv_.n_seq, kv_.context_tokens);
    }
    for (int32_t s = 0; s < in.cells.n_seq; ++s) {
      const int64_t u = std::clamp<int64_t>(in.cells.used[s], 0, kv_.context_tokens);
      used[s] = static_cast<int32_t>(u);
      const int64_t* p = in.cells.positions + s * kv_.context_tokens;
      for (int64_t c = 0; c < u; ++c) pos[s * kv_.context_tokens + c] = static_cast<int32_t>(p[c]);
    }
    for (int32_t s = in.cells.n_seq; s < kv_.n_seq; ++s) used[s] = 0;
    if (kv_.ring_cells > 0) {
      if (in.cells.ring_cells != kv_.ring_cells || in.cells.ring_positions == nullptr || in.cells.n_seq != kv_.n_seq) {
        return invalid_argument_error("vulkan: rings of {} cells in the bookkeeping, {} allocated", in.cells.ring_cells,
                                      kv_.ring_cells);
      }
      auto* ring = static_cast<int32_t*>(ring_positions_.mapped());
      const int64_t n_ring = kv_.ring_cells * kv_.n_seq;
      for (int64_t c = 0; c < n_ring; ++c) {
        ring[c] = static_cast<int32_t>(std::min<int64_t>(in.cells.ring_positions[c], INT32_MAX));  // none: after every position
      }
    }
  }
  return Status::ok();
}

Status VulkanBackend::run(std::span<const Op> ops, const PassInputs& in) {
  if (in.n_tokens <= 0) return Status::ok();
  if (in.n_tokens > max_tokens_ || in.n_outputs > in.n_tokens || in.n_outputs < 0) {
    return invalid_argument_error("vulkan: a chunk of {} tokens ({} outputs); buffers hold {}", in.n_tokens,
                                  in.n_outputs, max_tokens_);
  }
  LANEWAY_TRY(upload_inputs(ops, in));
  LANEWAY_TRY(commands_.begin());
  for (const Op& op : ops) {
    Status s = record_op(op, in);
    if (!s.is_ok()) {
      // The half-recorded buffer is never submitted; the next begin() resets it.
      return s.with_context(fmt::format("layer {} {}", op.layer, op_kind_name(op.kind)));
    }
  }
  LANEWAY_TRY(commands_.submit_and_wait());
  // The logits rows land in host memory.
  for (const Op& op : ops) {
    if (op.dst < 0 || static_cast<size_t>(op.dst) >= activations_.size()) continue;
    const Activation& a = activations_[static_cast<size_t>(op.dst)];
    if (!a.host_output || in.logits == nullptr) continue;
    const int64_t rows = op.rows == OpRows::tokens ? in.n_tokens : in.n_outputs;
    std::memcpy(in.logits, a.buffer.mapped(), static_cast<size_t>(rows * a.width) * sizeof(float));
  }
  return Status::ok();
}

Status VulkanBackend::read_activation(ActId id, int64_t n_rows, float* host) {
  LANEWAY_ASSIGN_OR_RETURN(const Activation* a, act(id));
  if (n_rows < 0 || n_rows > max_tokens_) return invalid_argument_error("vulkan: {} rows of activation {}", n_rows, id);
  return vulkan_download(*device_, a->buffer, 0, host, static_cast<uint64_t>(n_rows * a->width) * sizeof(float));
}

Status VulkanBackend::write_activation(ActId id, int64_t n_rows, const float* host) {
  LANEWAY_ASSIGN_OR_RETURN(const Activation* a, act(id));
  if (n_rows < 0 || n_rows > max_tokens_) return invalid_argument_error("vulkan: {} rows of activation {}", n_rows, id);
  auto& buf = const_cast<VulkanBuffer&>(a->buffer);
  return vulkan_upload(*device_, buf, 0, host, static_cast<uint64_t>(n_rows * a->width) * sizeof(float));
}

Status VulkanBackend::copy_kv_cells(int32_t src_seq, int32_t dst_seq, int64_t n_cells) {
  if (src_seq == dst_seq || n_cells <= 0 || kv_layers_.empty()) return Status::ok();
  if (src_seq < 0 || dst_seq < 0 || src_seq >= kv_.n_seq || dst_seq >= kv_.n_seq || n_cells > kv_.context_tokens) {
    return invalid_argument_error("vulkan: copy of {} cells from sequence {} to {}", n_cells, src_seq, dst_seq);
  }
  LANEWAY_TRY(commands_.begin());
  for (size_t l = 0; l < kv_layers_.size(); ++l) {
    KvLayer& layer = kv_layers_[l];
    const int64_t index = kv_.layer_begin + static_cast<int64_t>(l);
    const auto cps = static_cast<uint64_t>(kv_.cells_per_seq(index));
    const auto n = static_cast<uint64_t>(kv_.ring(index) ? kv_.ring_cells : n_cells);  // a ring wholly
    LANEWAY_TRY(commands_.copy(layer.k.buffer(), src_seq * cps * kv_row_stride_k_, layer.k.buffer(),
                               dst_seq * cps * kv_row_stride_k_, n * kv_row_stride_k_));
    LANEWAY_TRY(commands_.copy(layer.v.buffer(), src_seq * cps * kv_row_stride_v_, layer.v.buffer(),
                               dst_seq * cps * kv_row_stride_v_, n * kv_row_stride_v_));
  }
  return commands_.submit_and_wait();
}

}  // namespace laneway
