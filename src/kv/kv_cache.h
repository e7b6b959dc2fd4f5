// KvCache: keys and values of every layer for every cell of the context.
//
// The context of n_ctx cells is split evenly into n_seq partitions, one per
// sequence (slot); a sequence's tokens fill its cells in arrival order, each
// cell remembering its position. Attention walks a sequence's cells in cell
// order, so its reduction order depends only on the sequence itself, never
// on what else is batched with it.
//
// All memory is allocated and committed at create(): a context that does
// not fit fails there, never mid-generation. Rows are stored in type_k /
// type_v (f16, q8_0 or q4_0), one row of n_embd_k / n_embd_v elements per
// cell and layer. Positions and offsets are 64-bit.
// Owned by one engine thread; not thread-safe for concurrent mutation.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "gguf/types.h"

namespace laneway {

struct KvCacheConfig {
  int64_t n_layer = 0;
  int64_t n_embd_k = 0;  // n_head_kv * head_dim
  int64_t n_embd_v = 0;
  int64_t head_dim = 0;  // quantized rows must hold whole blocks per head
  int64_t n_ctx = 0;     // total cells over all sequences
  int32_t n_seq = 1;
  GgmlType type_k = GgmlType::f16;
  GgmlType type_v = GgmlType::f16;
};

// Bytes of K plus V for one token over all layers.
Result<uint64_t> kv_bytes_per_token(const KvCacheConfig& config);
// Whether a type may be used for the KV cache ("f16", "q8_0", "q4_0").
Result<GgmlType> parse_kv_cache_type(std::string_view name);

class KvCache {
 public:
  static Result<KvCache> create(const KvCacheConfig& config);
  KvCache() = default;
  ~KvCache();
  KvCache(KvCache&& other) noexcept;
  KvCache& operator=(KvCache&& other) noexcept;
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  const KvCacheConfig& config() const { return config_; }
  int64_t cells_per_seq() const { return cells_per_seq_; }
  uint64_t size_bytes() const { return size_bytes_; }
  uint64_t k_row_bytes() const { return k_row_bytes_; }
  uint64_t v_row_bytes() const { return v_row_bytes_; }

  int64_t used(int32_t seq) const { return used_[static_cast<size_t>(seq)]; }
  // Position stored in a sequence's cell.
  int64_t pos(int32_t seq, int64_t cell) const { return pos_[index(seq, cell)]; }
  const int64_t* positions(int32_t seq) const { return &pos_[index(seq, 0)]; }

  // Takes the next free cell of `seq` for a token at `pos`; an error when
  // the sequence's cells are all used.
  Result<int64_t> append(int32_t seq, int64_t pos);
  // Gives back the last n cells of `seq` (e.g. a failed batch).
  void truncate(int32_t seq, int64_t n_cells);
  void clear(int32_t seq);
  // Makes dst hold exactly what src holds (prompt-prefix reuse).
  void copy(int32_t src, int32_t dst);

  uint8_t* k_row(int64_t layer, int32_t seq, int64_t cell) {
    return base_ + layer * layer_stride_ + index(seq, cell) * k_row_bytes_;
  }
  uint8_t* v_row(int64_t layer, int32_t seq, int64_t cell) {
    return base_ + layer * layer_stride_ + k_bytes_per_layer_ + index(seq, cell) * v_row_bytes_;
  }
  const uint8_t* k_row(int64_t layer, int32_t seq, int64_t cell) const {
    return const_cast<KvCache*>(this)->k_row(layer, seq, cell);
  }
  const uint8_t* v_row(int64_t layer, int32_t seq, int64_t cell) const {
    return const_cast<KvCache*>(this)->v_row(layer, seq, cell);
  }

 private:
  uint64_t index(int32_t seq, int64_t cell) const {
    return static_cast<uint64_t>(seq) * static_cast<uint64_t>(cells_per_seq_) + static_cast<uint64_t>(cell);
  }

  KvCacheConfig config_;
  int64_t cells_per_seq_ = 0;
  uint64_t k_row_bytes_ = 0;
  uint64_t v_row_bytes_ = 0;
  uint64_t k_bytes_per_layer_ = 0;
  uint64_t layer_stride_ = 0;
  uint64_t size_bytes_ = 0;
  uint8_t* base_ = nullptr;
  std::vector<int64_t> used_;
  std::vector<int64_t> pos_;
};

}  // namespace laneway
