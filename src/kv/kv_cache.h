// The KV cache, split by owner:
// - KvCells (here): the bookkeeping, on the host, owned by the engine
//   thread: the context of n_ctx cells split evenly into n_seq partitions,
//   one per sequence (slot); a sequence's tokens fill its cells in arrival
//   order, each cell remembering its position. Attention walks a sequence's
//   cells in cell order, so its reduction order depends only on the
//   sequence itself, never on what else is batched with it.
// - the rows (keys and values per layer and cell, in type_k / type_v: f16,
//   q8_0 or q4_0): stored by the backend that owns each layer
//   (backend/backend.h KvStorageDesc), committed when the context is made, so
//   a context that does not fit fails there, never mid-generation.
// Positions and offsets are 64-bit. Not thread-safe for concurrent mutation.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "backend/backend.h"
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
  // Sliding windows: per layer, the positions its attention sees (0: all).
  // A windowed layer keeps a ring of ring_cells() per sequence instead of
  // the whole context, unless full_windows.
  std::vector<int64_t> layer_window;  // [n_layer], or empty: no windows
  int32_t n_batch = 512;              // most tokens of one sequence in one chunk
  bool full_windows = false;

  int64_t context_tokens() const { return n_seq > 0 ? n_ctx / n_seq : 0; }
  // Cells per sequence of a windowed layer's ring: the widest window and a
  // chunk, rounded up to kRingAlign, and no fewer than the blocks a window
  // touches (the window rounded up, and one block); 0 when that is not less
  // than the context (the layer keeps every cell, as the others do).
  int64_t ring_cells() const;
  bool in_ring(int64_t layer) const;
  int64_t max_window() const;  // the widest layer window (0: none)
};

// Ring sizes are a multiple of this: every backend's attention block (CPU
// 32, Vulkan 64) divides it, so a block of positions is a block of cells.
inline constexpr int64_t kRingAlign = 64;

// Bytes of K plus V for one token over all layers.
Result<uint64_t> kv_bytes_per_token(const KvCacheConfig& config);
// Bytes the KV rows of layers [layer_begin, layer_end) take, rings as rings.
Result<uint64_t> kv_cache_bytes(const KvCacheConfig& config, int32_t layer_begin, int32_t layer_end);
// Whether a type may be used for the KV cache ("f16", "q8_0", "q4_0").
Result<GgmlType> parse_kv_cache_type(std::string_view name);
// Checks the config (types against the head size, cells against sequences).
Status check_kv_config(const KvCacheConfig& config);
// The rows of layers [layer_begin, layer_end) as a backend stores them.
KvStorageDesc kv_storage_desc(const KvCacheConfig& config, int32_t layer_begin, int32_t layer_end);

class KvCells {
 public:
  static Result<KvCells> create(const KvCacheConfig& config);
  KvCells() = default;

  const KvCacheConfig& config() const { return config_; }
  int64_t context_tokens() const { return context_tokens_; }
  int64_t ring_cells() const { return ring_cells_; }
  int64_t max_window() const { return config_.max_window(); }

  int64_t used(int32_t seq) const { return used_[static_cast<size_t>(seq)]; }
  // Position stored in a sequence's cell.
  int64_t pos(int32_t seq, int64_t cell) const { return pos_[index(seq, cell)]; }
  // What attention reads.
  KvCellsView view() const {
    return {pos_.data(), used_.data(), context_tokens_, config_.n_seq, ring_pos_.data(), ring_cells_};
  }

  // Takes the next free cell of `seq` for a token at `pos`; an error when
  // the sequence's cells are all used.
  Result<int64_t> append(int32_t seq, int64_t pos);
  // Tags the ring cell of a token at `pos` of `seq` (with rings): done per
  // chunk, just before the chunk's rows are written there. Returns the cell.
  int64_t place_in_ring(int32_t seq, int64_t pos);
  // Gives back the last n cells of `seq` (e.g. a failed batch).
  void truncate(int32_t seq, int64_t n_cells);
  // Whether giving back the last n cells of `seq` leaves a cache that can
  // go on: with rings, the window before the new end must not have been
  // overwritten by what followed it. A caller that cannot truncate clears.
  bool can_truncate(int32_t seq, int64_t n_cells) const;
  void clear(int32_t seq);
  // Makes dst's cells hold src's positions (the rows are the backends' to copy).
  void copy(int32_t src, int32_t dst);

 private:
  uint64_t index(int32_t seq, int64_t cell) const {
    return static_cast<uint64_t>(seq) * static_cast<uint64_t>(context_tokens_) + static_cast<uint64_t>(cell);
  }
  int64_t* ring_row(int32_t seq) { return ring_pos_.data() + static_cast<size_t>(seq) * static_cast<size_t>(ring_cells_); }
  const int64_t* ring_row(int32_t seq) const {
    return ring_pos_.data() + static_cast<size_t>(seq) * static_cast<size_t>(ring_cells_);
  }

  KvCacheConfig config_;
  int64_t context_tokens_ = 0;
  std::vector<int64_t> used_;
  std::vector<int64_t> pos_;
  int64_t ring_cells_ = 0;  // config_.ring_cells(), read per token
  std::vector<int64_t> ring_pos_;  // [n_seq][ring_cells_], kNoPosition where empty
};

}  // namespace laneway
