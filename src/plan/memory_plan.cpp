#include "plan/memory_plan.h"

#include <algorithm>
#include <cctype>

#include "backend/cpu/weight_tiles.h"
#include "hw/root_fs.h"
#include "kv/kv_cache.h"
#include "model/arch.h"
#include "model/context.h"
#include "model/tensor_layout.h"

namespace laneway {

Result<PlanModel> plan_model_from_gguf(const GgufModel& gguf) {
  const GgufFile& meta = gguf.meta();
  LANEWAY_ASSIGN_OR_RETURN(std::string_view arch_name, meta.get_string("general.architecture"));
  LANEWAY_ASSIGN_OR_RETURN(const Architecture* arch, find_architecture(arch_name));
  LANEWAY_ASSIGN_OR_RETURN(ModelHparams hp, arch->load_hparams(meta));
  PlanModel m;
  m.name = meta.name();
  const GgufTensorInfo* embd = gguf.find_tensor("token_embd.weight");
  if (embd == nullptr) return not_found_error("tensor token_embd.weight is missing");
  hp.n_vocab = static_cast<int64_t>(embd->ne[1]);
  hp.tied_output = gguf.find_tensor("output.weight") == nullptr;
  m.hp = hp;
  m.file_bytes = gguf.total_size_bytes();
  m.layer_weight_bytes.assign(static_cast<size_t>(hp.n_layer), 0);
  m.layer_tiled_matrices.assign(static_cast<size_t>(hp.n_layer), 0);
  m.embedding_bytes = embd->size_bytes;
  for (const auto& t : gguf.tensors()) {
    m.weight_bytes += t.size_bytes;
    if (t.name.ends_with("_exps.weight")) m.expert_bytes += t.size_bytes;
    const bool tiled = t.n_dims >= 2 && weight_tiles_supported(t.type, static_cast<int64_t>(t.ne[0]));
    int layer = -1;
    if (t.name.starts_with("blk.")) layer = std::atoi(std::string(t.name.substr(4)).c_str());
    if (layer >= 0 && layer < hp.n_layer) {
      m.layer_weight_bytes[static_cast<size_t>(layer)] += t.size_bytes;
      m.layer_tiled_matrices[static_cast<size_t>(layer)] += tiled ? 1 : 0;
    } else {
      m.output_weight_bytes += t.size_bytes;
      m.output_tiled_matrices += tiled && t.name == "output.weight" ? 1 : 0;
    }
  }
  return m;
}

Result<PlanModel> plan_model_from_shape(const ModelShape& shape, const std::string& type) {
  LANEWAY_ASSIGN_OR_RETURN(TypeMix mix, parse_type_mix(type));
  PlanModel m;
  m.name = std::string(shape.name) + " " + type;
  m.hp = shape.hparams;
  m.layer_weight_bytes.assign(static_cast<size_t>(m.hp.n_layer), 0);
  m.layer_tiled_matrices.assign(static_cast<size_t>(m.hp.n_layer), 0);
  for (const auto& t : llama_tensor_layout(m.hp, mix, shape.llama3_rope_factors)) {
    const uint64_t b = t.bytes();
    const bool tiled = !t.is_vector && weight_tiles_supported(t.type, t.n_cols);
    m.weight_bytes += b;
    if (t.name == "token_embd.weight") m.embedding_bytes = b;
    if (t.n_expert > 1) m.expert_bytes += b;
    if (t.layer >= 0) {
      m.layer_weight_bytes[static_cast<size_t>(t.layer)] += b;
      m.layer_tiled_matrices[static_cast<size_t>(t.layer)] += tiled ? 1 : 0;
    } else {
      m.output_weight_bytes += b;
      m.output_tiled_matrices += tiled && t.name == "output.weight" ? 1 : 0;
    }
  }
  // Metadata (tokenizer strings and scores dominate) and alignment padding.
  m.file_bytes = m.weight_bytes + static_cast<uint64_t>(m.hp.n_vocab) * 24 + 64 * 1024;
  return m;
}

Result<MemoryBill> plan_memory(const PlanModel& model, const PlanSettings& s) {
  const ModelHparams& hp = model.hp;
  if (s.n_seq < 1) return invalid_argument_error("slots must be at least 1, got {}", s.n_seq);
  MemoryBill bill;
  bill.n_ctx = s.n_ctx > 0 ? s.n_ctx : (hp.n_ctx_train > 0 ? hp.n_ctx_train : 2048);
  ContextOptions o = s;
  o.n_ctx = bill.n_ctx;  // the trained context when s.n_ctx is 0
  // Each slot gets n_ctx / slots cells; sliding-window layers keep a ring
  // of their window and a batch (the context's own config: the same bill).
  const KvCacheConfig kv = ForwardContext::kv_cache_config(hp, o);
  LANEWAY_ASSIGN_OR_RETURN(bill.kv_bytes_per_token, kv_bytes_per_token(kv));
  const KvStorageDesc rows = kv_storage_desc(kv, 0, static_cast<int32_t>(hp.n_layer));
  LANEWAY_ASSIGN_OR_RETURN(bill.kv_bytes, kv_storage_bytes(rows));
  bill.kv_ring_cells = rows.ring_cells;
  bill.kv_ring_layers = std::count(rows.in_ring.begin(), rows.in_ring.end(), 1);
  // The file pages of block matrices go once the CPU has tiled them or a GPU
  // holds a copy, but for about a page each at the seams.
  int64_t tiled = model.output_tiled_matrices;
  for (int64_t n : model.layer_tiled_matrices) tiled += n;
  bill.weights_bytes = model.file_bytes + static_cast<uint64_t>(tiled) * kTiledMatrixResidueBytes;
  bill.compute_bytes = ForwardContext::compute_bytes(hp, o, s.n_seq);
  bill.overhead_bytes =
      (s.serve_lane ? kServeLaneBytes : kOverheadBaseBytes) + kOverheadPerVocabBytes * static_cast<uint64_t>(hp.n_vocab);
  bill.total_bytes = bill.weights_bytes + bill.kv_bytes + bill.compute_bytes + bill.overhead_bytes;
  if (s.gpu_layers != 0) {
    DeviceBill& d = bill.device;
    d.n_blocks = s.gpu_layers < 0 ? hp.n_layer : std::min<int64_t>(s.gpu_layers, hp.n_layer);
    const size_t first = static_cast<size_t>(hp.n_layer - d.n_blocks);
    for (size_t l = first; l < model.layer_weight_bytes.size(); ++l) d.weights_bytes += model.layer_weight_bytes[l];
    // The output head and its norm; the embedding table only when the first block is there too (or it is the head).
    d.weights_bytes += model.output_weight_bytes;
    if (first > 0 && !hp.tied_output) d.weights_bytes -= std::min(d.weights_bytes, model.embedding_bytes);
    LANEWAY_ASSIGN_OR_RETURN(d.kv_bytes, kv_cache_bytes(kv, static_cast<int32_t>(first), static_cast<int32_t>(hp.n_layer)));
    d.compute_bytes = ForwardContext::device_compute_bytes(hp, o);
    d.total_bytes = d.weights_bytes + d.kv_bytes + d.compute_bytes;
  }
  if (hp.n_ctx_train > 0 && bill.n_ctx / s.n_seq > hp.n_ctx_train) {
    bill.warnings.push_back(fmt::format("a context of {} tokens per slot is beyond the {} the model was trained with; "
                                        "quality usually drops there",
                                        bill.n_ctx / s.n_seq, hp.n_ctx_train));
  }
  return bill;
}

int64_t max_context_that_fits(const PlanModel& model, PlanSettings s, uint64_t usable_bytes) {
  constexpr int64_t kStep = 256;
  auto fits = [&](int64_t ctx) {
    s.n_ctx = ctx * s.n_seq;
    auto bill = plan_memory(model, s);
    return bill.is_ok() && bill->total_bytes <= usable_bytes;
  };
  if (!fits(kStep)) return 0;
  int64_t lo = 1, hi = 1;  // in steps per slot
  while (fits(hi * 2 * kStep) && hi < (int64_t{1} << 40)) hi *= 2;
  hi *= 2;
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (fits(mid * kStep) ? lo : hi) = mid;
  }
  return lo * kStep * s.n_seq;
}

uint64_t weight_bytes_read_per_token(const PlanModel& model) {
  uint64_t bytes = model.weight_bytes;
  if (model.hp.n_expert > 0 && model.expert_bytes > 0) {
    const auto inactive = static_cast<uint64_t>(model.hp.n_expert - model.hp.n_expert_used);
    bytes -= model.expert_bytes / static_cast<uint64_t>(model.hp.n_expert) * inactive;
  }
  if (model.hp.tied_output || model.embedding_bytes == 0 || model.hp.n_vocab == 0) return bytes;
  return bytes - model.embedding_bytes + model.embedding_bytes / static_cast<uint64_t>(model.hp.n_vocab);
}

std::string kv_cache_type_name(GgmlType type) {
  std::string name(ggml_type_name(type));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

Status check_memory_fits(const PlanModel& model, const PlanSettings& s, const MemoryBill& bill, uint64_t usable_bytes,
                         std::string_view usable_source) {
  if (bill.total_bytes <= usable_bytes) return Status::ok();
  using hw::format_bytes;
  const int64_t per_slot = bill.n_ctx / s.n_seq;
  const std::string kv = fmt::format("{} for {} tokens{}, K {} / V {}", format_bytes(bill.kv_bytes), per_slot,
                                     s.n_seq > 1 ? fmt::format(" x {} slots", s.n_seq) : "",
                                     kv_cache_type_name(s.type_k), kv_cache_type_name(s.type_v));
  const std::string msg = fmt::format(
      "{} does not fit in memory: it needs {} (weights {} + KV cache {} + compute {} + overhead {}) but {} is usable "
      "({})",
      model.name.empty() ? "the model" : model.name, format_bytes(bill.total_bytes), format_bytes(bill.weights_bytes),
      kv, format_bytes(bill.compute_bytes), format_bytes(bill.overhead_bytes), format_bytes(usable_bytes),
      usable_source);
  const int64_t max_ctx = max_context_that_fits(model, s, usable_bytes) / s.n_seq;
  if (max_ctx == 0) {
    return resource_exhausted_error("{}. Even the smallest context does not fit: use a smaller quantization of the "
                                    "model or free memory",
                                    msg);
  }
  std::string fixes = fmt::format("a context of at most {} tokens", max_ctx);
  for (GgmlType t : {GgmlType::q8_0, GgmlType::q4_0}) {
    if (s.type_k == t && s.type_v == t) continue;
    PlanSettings smaller = s;
    smaller.type_k = smaller.type_v = t;
    const int64_t n = max_context_that_fits(model, smaller, usable_bytes) / s.n_seq;
    if (n > max_ctx) fixes += fmt::format(", or K/V cache type {} (up to {} tokens)", kv_cache_type_name(t), n);
  }
  return resource_exhausted_error("{}. Use {}", msg, fixes);
}

}  // namespace laneway
