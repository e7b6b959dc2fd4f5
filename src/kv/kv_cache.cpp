#include "kv/kv_cache.h"

#include <cerrno>
#include <cstring>
#include <sys/mman.h>

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

Result<KvCache> KvCache::create(const KvCacheConfig& config) {
  if (config.n_seq < 1) return invalid_argument_error("need at least one sequence, got {}", config.n_seq);
  if (config.n_ctx < config.n_seq) {
    return invalid_argument_error("context of {} cells cannot be split over {} sequences", config.n_ctx, config.n_seq);
  }
  LANEWAY_TRY(kv_bytes_per_token(config).status());  // checks the types against the head size
  KvCache kv;
  kv.config_ = config;
  kv.cells_per_seq_ = config.n_ctx / config.n_seq;
  const uint64_t cells = static_cast<uint64_t>(kv.cells_per_seq_) * static_cast<uint64_t>(config.n_seq);
  kv.k_row_bytes_ = *ggml_row_bytes(config.type_k, static_cast<uint64_t>(config.n_embd_k));
  kv.v_row_bytes_ = *ggml_row_bytes(config.type_v, static_cast<uint64_t>(config.n_embd_v));
  kv.k_bytes_per_layer_ = kv.k_row_bytes_ * cells;
  kv.layer_stride_ = (kv.k_row_bytes_ + kv.v_row_bytes_) * cells;
  kv.size_bytes_ = kv.layer_stride_ * static_cast<uint64_t>(config.n_layer);
  if (kv.size_bytes_ > 0) {
    // MAP_POPULATE commits every page now, so running out of memory shows
    // here and not in the middle of a generation.
    void* p = mmap(nullptr, kv.size_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) {
      return out_of_memory_error("cannot allocate the KV cache: {} bytes ({:.2f} GiB) for {} cells: {}",
                                 kv.size_bytes_, double(kv.size_bytes_) / double(1ull << 30), cells,
                                 std::strerror(errno));
    }
    kv.base_ = static_cast<uint8_t*>(p);
  }
  kv.used_.assign(static_cast<size_t>(config.n_seq), 0);
  kv.pos_.assign(cells, -1);
  return kv;
}

KvCache::~KvCache() {
  if (base_ != nullptr) munmap(base_, size_bytes_);
}

KvCache::KvCache(KvCache&& o) noexcept { *this = std::move(o); }

KvCache& KvCache::operator=(KvCache&& o) noexcept {
  if (this == &o) return *this;
  if (base_ != nullptr) munmap(base_, size_bytes_);
  config_ = o.config_;
  cells_per_seq_ = o.cells_per_seq_;
  k_row_bytes_ = o.k_row_bytes_;
  v_row_bytes_ = o.v_row_bytes_;
  k_bytes_per_layer_ = o.k_bytes_per_layer_;
  layer_stride_ = o.layer_stride_;
  size_bytes_ = o.size_bytes_;
  base_ = o.base_;
  used_ = std::move(o.used_);
  pos_ = std::move(o.pos_);
  o.base_ = nullptr;
  o.size_bytes_ = 0;
  return *this;
}

Result<int64_t> KvCache::append(int32_t seq, int64_t pos) {
  if (seq < 0 || seq >= config_.n_seq) {
    return invalid_argument_error("sequence id {} is out of range (0..{})", seq, config_.n_seq - 1);
  }
  int64_t& n = used_[static_cast<size_t>(seq)];
  if (n >= cells_per_seq_) {
    return resource_exhausted_error("sequence {} is full: its {} cells of context are used", seq, cells_per_seq_);
  }
  pos_[index(seq, n)] = pos;
  return n++;
}

void KvCache::truncate(int32_t seq, int64_t n_cells) {
  int64_t& n = used_[static_cast<size_t>(seq)];
  n = n_cells >= n ? 0 : n - n_cells;
}

void KvCache::clear(int32_t seq) { used_[static_cast<size_t>(seq)] = 0; }

void KvCache::copy(int32_t src, int32_t dst) {
  if (src == dst) return;
  const int64_t n = used(src);
  for (int64_t layer = 0; layer < config_.n_layer; ++layer) {
    std::memcpy(k_row(layer, dst, 0), k_row(layer, src, 0), static_cast<size_t>(n) * k_row_bytes_);
    std::memcpy(v_row(layer, dst, 0), v_row(layer, src, 0), static_cast<size_t>(n) * v_row_bytes_);
  }
  std::memcpy(&pos_[index(dst, 0)], &pos_[index(src, 0)], static_cast<size_t>(n) * sizeof(int64_t));
  used_[static_cast<size_t>(dst)] = n;
}

}  // namespace laneway
