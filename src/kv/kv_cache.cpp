#include "kv/kv_cache.h"

#include <algorithm>

namespace laneway {

Result<GgmlType> parse_kv_cache_type(std::string_view name) {
  auto t = ggml_type_from_name(name);
  if (t && (*t == GgmlType::f16 || *t == GgmlType::q8_0 || *t == GgmlType::q4_0)) return *t;
  return invalid_argument_error("KV cache type \"{}\" is not supported (use f16, q8_0 or q4_0)", name);
}

namespace {
Status check_type(GgmlType t, int64_t head_dim, const char* which) {
  if (t != GgmlType::f16 && t != GgmlType::q8_0 && t != GgmlType::q4_0) {
    return invalid_argument_error("{} cache type {} is not supported (use f16, q8_0 or q4_0)", which,
                                  ggml_type_name(t));
  }
  const uint32_t block = ggml_type_traits(t).block_size;
  if (head_dim % block != 0) {
    return invalid_argument_error("{} cache type {} needs the head size to be a multiple of {}, but it is {}; use f16",
                                  which, ggml_type_name(t), block, head_dim);
  }
  return Status::ok();
}
}  // namespace

Result<uint64_t> kv_bytes_per_token(const KvCacheConfig& c) {
  LANEWAY_TRY(check_type(c.type_k, c.head_dim, "K"));
  LANEWAY_TRY(check_type(c.type_v, c.head_dim, "V"));
  LANEWAY_ASSIGN_OR_RETURN(uint64_t k, ggml_row_bytes(c.type_k, static_cast<uint64_t>(c.n_embd_k)));
  LANEWAY_ASSIGN_OR_RETURN(uint64_t v, ggml_row_bytes(c.type_v, static_cast<uint64_t>(c.n_embd_v)));
  return (k + v) * static_cast<uint64_t>(c.n_layer);
}

Status check_kv_config(const KvCacheConfig& c) {
  if (c.n_seq < 1) return invalid_argument_error("need at least one sequence, got {}", c.n_seq);
  if (c.n_ctx < c.n_seq) {
    return invalid_argument_error("context of {} cells cannot be split over {} sequences", c.n_ctx, c.n_seq);
  }
  return kv_bytes_per_token(c).status();  // checks the types against the head size
}

KvStorageDesc kv_storage_desc(const KvCacheConfig& c, int32_t layer_begin, int32_t layer_end) {
  KvStorageDesc d;
  d.layer_begin = layer_begin;
  d.layer_end = layer_end;
  d.context_tokens = c.context_tokens();
  d.n_seq = c.n_seq;
  d.n_embd_k = c.n_embd_k;
  d.n_embd_v = c.n_embd_v;
  d.type_k = c.type_k;
  d.type_v = c.type_v;
  return d;
}

Result<KvCells> KvCells::create(const KvCacheConfig& config) {
  LANEWAY_TRY(check_kv_config(config));
  KvCells kv;
  kv.config_ = config;
  kv.context_tokens_ = config.context_tokens();
  kv.used_.assign(static_cast<size_t>(config.n_seq), 0);
  kv.pos_.assign(static_cast<size_t>(kv.context_tokens_) * static_cast<size_t>(config.n_seq), -1);
  return kv;
}

Result<int64_t> KvCells::append(int32_t seq, int64_t pos) {
  if (seq < 0 || seq >= config_.n_seq) {
    return invalid_argument_error("sequence id {} is out of range (0..{})", seq, config_.n_seq - 1);
  }
  int64_t& n = used_[static_cast<size_t>(seq)];
  if (n >= context_tokens_) {
    return resource_exhausted_error("sequence {} is full: its {} cells of context are used", seq, context_tokens_);
  }
  pos_[index(seq, n)] = pos;
  return n++;
}

void KvCells::truncate(int32_t seq, int64_t n_cells) {
  int64_t& n = used_[static_cast<size_t>(seq)];
  n = n_cells >= n ? 0 : n - n_cells;
}

void KvCells::clear(int32_t seq) { used_[static_cast<size_t>(seq)] = 0; }

void KvCells::copy(int32_t src, int32_t dst) {
  if (src == dst) return;
  const int64_t n = used(src);
  std::copy_n(&pos_[index(src, 0)], n, &pos_[index(dst, 0)]);
  used_[static_cast<size_t>(dst)] = n;
}

}  // namespace laneway
