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

int64_t KvCacheConfig::max_window() const {
  int64_t window = 0;
  for (int64_t w : layer_window) window = std::max(window, w);
  return window;
}

int64_t KvCacheConfig::ring_cells() const {
  const int64_t window = max_window();
  if (window <= 0 || full_windows) return 0;
  auto align = [](int64_t n) { return (n + kRingAlign - 1) / kRingAlign * kRingAlign; };
  // A window and a chunk (a chunk's writes never evict what its first token
  // sees), and at least every block a token's window touches, each its own
  // block of cells (the window rounded out to whole blocks at both ends).
  const int64_t ring = std::max(align(window + std::max<int64_t>(n_batch, 1) - 1), align(window - 1) + kRingAlign);
  return ring < context_tokens() ? ring : 0;
}

namespace {
bool windowed(const KvCacheConfig& c, int64_t layer) {
  return layer >= 0 && layer < static_cast<int64_t>(c.layer_window.size()) && c.layer_window[static_cast<size_t>(layer)] > 0;
}
}  // namespace

bool KvCacheConfig::in_ring(int64_t layer) const { return windowed(*this, layer) && ring_cells() > 0; }

Result<uint64_t> kv_cache_bytes(const KvCacheConfig& c, int32_t layer_begin, int32_t layer_end) {
  return kv_storage_bytes(kv_storage_desc(c, layer_begin, layer_end));
}

Status check_kv_config(const KvCacheConfig& c) {
  if (c.n_seq < 1) return invalid_argument_error("need at least one sequence, got {}", c.n_seq);
  if (c.n_ctx < c.n_seq) {
    return invalid_argument_error("context of {} cells cannot be split over {} sequences", c.n_ctx, c.n_seq);
  }
  if (!c.layer_window.empty() && static_cast<int64_t>(c.layer_window.size()) != c.n_layer) {
    return invalid_argument_error("{} layer windows for {} layers", c.layer_window.size(), c.n_layer);
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
  d.ring_cells = c.ring_cells();
  if (d.ring_cells > 0) {
    for (int32_t l = layer_begin; l < layer_end; ++l) d.in_ring.push_back(windowed(c, l) ? 1 : 0);
  }
  return d;
}

Result<KvCells> KvCells::create(const KvCacheConfig& config) {
  LANEWAY_TRY(check_kv_config(config));
  KvCells kv;
  kv.config_ = config;
  kv.context_tokens_ = config.context_tokens();
  kv.used_.assign(static_cast<size_t>(config.n_seq), 0);
  kv.pos_.assign(static_cast<size_t>(kv.context_tokens_) * static_cast<size_t>(config.n_seq), -1);
  kv.ring_cells_ = config.ring_cells();
  kv.ring_pos_.assign(static_cast<size_t>(kv.ring_cells_) * static_cast<size_t>(config.n_seq), kNoPosition);
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

int64_t KvCells::place_in_ring(int32_t seq, int64_t pos) {
  if (ring_cells_ == 0) return 0;
  const int64_t cell = pos % ring_cells_;
  ring_row(seq)[cell] = pos;
  return cell;
}

void KvCells::truncate(int32_t seq, int64_t n_cells) {
  int64_t& n = used_[static_cast<size_t>(seq)];
  const int64_t keep = n_cells >= n ? 0 : n - n_cells;
  if (ring_cells_ > 0) {  // the given-back positions leave the rings too
    int64_t* ring = ring_row(seq);
    for (int64_t c = keep; c < n; ++c) {
      const int64_t p = pos_[index(seq, c)];
      if (ring[p % ring_cells_] == p) ring[p % ring_cells_] = kNoPosition;
    }
  }
  n = keep;
}

bool KvCells::can_truncate(int32_t seq, int64_t n_cells) const {
  const int64_t n = used(seq);
  if (ring_cells_ == 0 || n_cells <= 0 || n_cells >= n) return true;
  // The next token after the new end sees the window before it: each kept
  // position there must still be in its ring cell.
  const int64_t last = pos(seq, n - n_cells - 1);
  const int64_t* ring = ring_row(seq);
  for (int64_t c = n - n_cells - 1; c >= 0; --c) {
    const int64_t p = pos(seq, c);
    if (p <= last + 1 - config_.max_window()) break;
    if (ring[p % ring_cells_] != p) return false;
  }
  return true;
}

void KvCells::clear(int32_t seq) {
  used_[static_cast<size_t>(seq)] = 0;
  if (ring_cells_ > 0) std::fill_n(ring_row(seq), ring_cells_, kNoPosition);
}

void KvCells::copy(int32_t src, int32_t dst) {
  if (src == dst) return;
  const int64_t n = used(src);
  std::copy_n(&pos_[index(src, 0)], n, &pos_[index(dst, 0)]);
  used_[static_cast<size_t>(dst)] = n;
  if (ring_cells_ > 0) std::copy_n(ring_row(src), ring_cells_, ring_row(dst));
}

}  // namespace laneway
