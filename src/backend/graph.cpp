#include "backend/graph.h"

#include <algorithm>

#include <fmt/format.h>

#include "backend/backend.h"

namespace laneway {

const char* op_kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::get_rows: return "get_rows";
    case OpKind::rms_norm: return "rms_norm";
    case OpKind::matmul: return "matmul";
    case OpKind::rope: return "rope";
    case OpKind::store_kv: return "store_kv";
    case OpKind::attention: return "attention";
    case OpKind::swiglu: return "swiglu";
    case OpKind::add: return "add";
    case OpKind::gather_outputs: return "gather_outputs";
    case OpKind::add_bias: return "add_bias";
    case OpKind::scale: return "scale";
    case OpKind::softcap: return "softcap";
    case OpKind::geglu: return "geglu";
    case OpKind::moe_route: return "moe_route";
    case OpKind::matmul_id: return "matmul_id";
    case OpKind::moe_combine: return "moe_combine";
  }
  return "?";
}

ActId ForwardGraph::activation(std::string name, int64_t width) {
  activations_.push_back({std::move(name), width, false});
  return static_cast<ActId>(activations_.size() - 1);
}

ActId ForwardGraph::logits(int64_t n_vocab) {
  activations_.push_back({"logits", n_vocab, true});
  return static_cast<ActId>(activations_.size() - 1);
}

Op& ForwardGraph::push(OpKind kind) {
  Op& op = ops_.emplace_back();
  op.kind = kind;
  op.layer = layer_;
  op.rows = rows_;
  return op;
}

void ForwardGraph::get_rows(ActId dst, const WeightView& table) {
  Op& op = push(OpKind::get_rows);
  op.dst = dst;
  op.weight = &table;
}

void ForwardGraph::rms_norm(ActId dst, ActId x, const WeightView& weight, float eps) {
  Op& op = push(OpKind::rms_norm);
  op.dst = dst;
  op.a = x;
  op.weight = &weight;
  op.eps = eps;
}

void ForwardGraph::matmul(ActId dst, const WeightView& w, ActId x) {
  Op& op = push(OpKind::matmul);
  op.dst = dst;
  op.a = x;
  op.weight = &w;
}

void ForwardGraph::rope(ActId x, int64_t n_heads, int64_t head_dim, int64_t rope_dim, bool neox) {
  Op& op = push(OpKind::rope);
  op.dst = x;
  op.n_heads = n_heads;
  op.head_dim = head_dim;
  op.rope_dim = rope_dim;
  op.neox = neox;
}

void ForwardGraph::store_kv(ActId k, ActId v) {
  Op& op = push(OpKind::store_kv);
  op.a = k;
  op.b = v;
}

void ForwardGraph::attention(ActId dst, ActId q, const AttentionShape& shape) {
  Op& op = push(OpKind::attention);
  op.dst = dst;
  op.a = q;
  op.attn = shape;
}

void ForwardGraph::swiglu(ActId dst, ActId gate, ActId up) {
  Op& op = push(OpKind::swiglu);
  op.dst = dst;
  op.a = gate;
  op.b = up;
}

void ForwardGraph::add(ActId x, ActId y) {
  Op& op = push(OpKind::add);
  op.dst = x;
  op.a = y;
}

void ForwardGraph::add_bias(ActId x, const WeightView& bias) {
  Op& op = push(OpKind::add_bias);
  op.dst = x;
  op.weight = &bias;
}

void ForwardGraph::scale(ActId x, float factor) {
  Op& op = push(OpKind::scale);
  op.dst = x;
  op.value = factor;
}

void ForwardGraph::softcap(ActId x, float cap) {
  Op& op = push(OpKind::softcap);
  op.dst = x;
  op.value = cap;
}

void ForwardGraph::geglu(ActId dst, ActId gate, ActId up) {
  Op& op = push(OpKind::geglu);
  op.dst = dst;
  op.a = gate;
  op.b = up;
}

void ForwardGraph::moe_route(ActId route, ActId router_logits, int64_t n_expert, int64_t n_expert_used) {
  Op& op = push(OpKind::moe_route);
  op.dst = route;
  op.a = router_logits;
  op.n_expert = n_expert;
  op.n_expert_used = n_expert_used;
}

void ForwardGraph::matmul_id(ActId dst, const WeightView& stacked, ActId x, ActId route, int64_t n_expert,
                             int64_t n_expert_used, bool per_slot) {
  Op& op = push(OpKind::matmul_id);
  op.dst = dst;
  op.a = x;
  op.b = route;
  op.weight = &stacked;
  op.n_expert = n_expert;
  op.n_expert_used = n_expert_used;
  op.per_slot = per_slot;
}

void ForwardGraph::moe_combine(ActId dst, ActId experts, ActId route, int64_t n_expert_used) {
  Op& op = push(OpKind::moe_combine);
  op.dst = dst;
  op.a = experts;
  op.b = route;
  op.n_expert_used = n_expert_used;
}

void ForwardGraph::gather_outputs(ActId dst, ActId x) {
  Op& op = push(OpKind::gather_outputs);
  op.rows = OpRows::outputs;
  op.dst = dst;
  op.a = x;
  rows_ = OpRows::outputs;
}

std::string ForwardGraph::describe() const {
  auto act = [&](ActId id) {
    const ActivationDesc& a = activations_[static_cast<size_t>(id)];
    return fmt::format("{}[{}]", a.name, a.width);
  };
  std::string out;
  for (const Op& op : ops_) {
    std::string where = op.layer == kInputLayer ? "input" : op.layer == n_layer_ ? "output" : fmt::format("blk.{}", op.layer);
    std::string line = fmt::format("{:<7} {:<14}", where, op_kind_name(op.kind));
    if (op.dst != kNoAct) line += " " + act(op.dst) + " <-";
    if (op.a != kNoAct) line += " " + act(op.a);
    if (op.b != kNoAct) line += " " + act(op.b);
    if (op.weight != nullptr) {
      line += fmt::format(" w:{}[{}x{}]", ggml_type_name(op.weight->type), op.weight->n_rows, op.weight->n_cols);
    }
    if (op.kind == OpKind::scale || op.kind == OpKind::softcap) line += fmt::format(" {}", op.value);
    if (op.n_expert > 0) line += fmt::format(" experts {}/{}", op.n_expert_used, op.n_expert);
    if (op.kind == OpKind::attention && op.attn.window > 0) line += fmt::format(" window {}", op.attn.window);
    if (op.kind == OpKind::attention && op.attn.softcap > 0) line += fmt::format(" softcap {}", op.attn.softcap);
    if (op.rows == OpRows::outputs) line += " (output rows)";
    out += line + "\n";
  }
  return out;
}

Result<uint64_t> kv_storage_bytes(const KvStorageDesc& kv) {
  LANEWAY_ASSIGN_OR_RETURN(uint64_t k, ggml_row_bytes(kv.type_k, static_cast<uint64_t>(kv.n_embd_k)));
  LANEWAY_ASSIGN_OR_RETURN(uint64_t v, ggml_row_bytes(kv.type_v, static_cast<uint64_t>(kv.n_embd_v)));
  uint64_t cells = 0;  // per sequence, over the layers
  for (int32_t l = kv.layer_begin; l < kv.layer_end; ++l) cells += static_cast<uint64_t>(kv.cells_per_seq(l));
  return (k + v) * cells * static_cast<uint64_t>(kv.n_seq);
}

}  // namespace laneway
