// Backend: the seam between the model's forward pass and the hardware that
// runs it. The CPU backend (backend/cpu) is the reference; a GPU backend
// implements the same ops and is checked op by op against it.
//
// A backend owns what it computes with: the activation buffers of the ops
// placed on it and the KV rows of its layers (both sized once, at
// allocate()). ForwardContext hands it a range of the graph (graph.h) per
// chunk; host memory is touched only at the edges: the chunk's inputs
// (PassInputs: token ids, cache slots, rope table, output rows), the
// logits, and activations copied where one backend's range hands over to
// another's (read_activation / write_activation).
//
// Determinism contract: for every op, each output row of a token is
// computed from that token's inputs alone, by the same code, in the same
// order, whatever the token count and the thread count: batching never
// changes a result bit (on one backend, in one build).
//
// Errors: every call returns Status (a device can be lost or run out of
// memory); after an error the backend's buffers hold undefined values and
// the KV rows written by the failed chunk are discarded by the caller.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backend/graph.h"
#include "core/status.h"
#include "gguf/types.h"

namespace laneway {

// Per-token placement in the KV cache for one chunk.
struct TokenSlot {
  int32_t seq = 0;
  int64_t cell = 0;       // cell of this token within its sequence
  int64_t pos = 0;
  int64_t ring_cell = 0;  // its cell in the windowed layers' rings (pos % ring_cells), when they have rings
};

// The KV cache's bookkeeping (host, owned by the engine thread): which
// cells each sequence uses and the position each holds. Attention reads it.
//
// Layers with a sliding window may keep a ring instead (KvStorageDesc):
// ring_cells cells per sequence, position p in cell p % ring_cells, each
// cell tagged with the position it holds (kNoPosition when none). A ring
// holds a window and a chunk (KvCacheConfig::ring_cells), so a chunk's
// writes never evict what its own tokens still see. Attention walks a ring
// in blocks of positions aligned to 0, oldest first: the cells, blocks and
// order the whole-context layout gives the same positions, so the same
// arithmetic (ring_cells is a multiple of every backend's block).
inline constexpr int64_t kNoPosition = INT64_MAX;
struct KvCellsView {
  const int64_t* positions = nullptr;  // [n_seq][context_tokens]
  const int64_t* used = nullptr;       // [n_seq] cells in use
  int64_t context_tokens = 0;
  int32_t n_seq = 0;
  const int64_t* ring_positions = nullptr;  // [n_seq][ring_cells]: the position each ring cell holds
  int64_t ring_cells = 0;                   // 0: no layer keeps a ring
};

// The KV rows a backend stores: one K and one V row per cell for each of
// its layers [layer_begin, layer_end), cells of all sequences; a windowed
// layer with a ring (ring_cells > 0) stores ring_cells per sequence.
struct KvStorageDesc {
  int32_t layer_begin = 0;
  int32_t layer_end = 0;
  int64_t context_tokens = 0;
  int32_t n_seq = 1;
  int64_t n_embd_k = 0;  // n_head_kv * head_dim
  int64_t n_embd_v = 0;
  GgmlType type_k = GgmlType::f16;
  GgmlType type_v = GgmlType::f16;
  int64_t ring_cells = 0;        // cells per sequence of a ring layer (0: none)
  std::vector<uint8_t> in_ring;  // [layer - layer_begin]: 1 for the layers that keep a ring

  int32_t n_layers() const { return layer_end - layer_begin; }
  bool ring(int64_t layer) const {
    const int64_t i = layer - layer_begin;
    return ring_cells > 0 && i >= 0 && i < static_cast<int64_t>(in_ring.size()) && in_ring[static_cast<size_t>(i)] != 0;
  }
  // Cells per sequence a layer stores.
  int64_t cells_per_seq(int64_t layer) const { return ring(layer) ? ring_cells : context_tokens; }
  int64_t n_cells() const { return context_tokens * n_seq; }
};

// Bytes of the rows described (an error for a type that cannot store the widths).
Result<uint64_t> kv_storage_bytes(const KvStorageDesc& kv);

// What a backend allocates for a context.
struct BackendSetup {
  // Indexed by ActId, as in the graph; width 0 for activations the backend's ops never touch.
  std::vector<ActivationDesc> activations;
  int64_t max_tokens = 0;   // rows per activation buffer (the context's batch size)
  std::span<const Op> ops;  // every op this backend will run
  KvStorageDesc kv;         // empty layer range when it stores no KV rows
  // Pin the KV rows in RAM (--mlock): a backend that keeps them in host
  // memory locks them at allocate() and fails there when the kernel refuses.
  bool lock_kv = false;
  // Called (if set) for each weight once a backend holds its own copy of
  // it (a GPU's upload), so the owner can drop the host's pages at once
  // and the weights are never resident twice, even at the peak of a load.
  std::function<void(const WeightView&)> weight_uploaded;
};

// Inputs of one chunk, in host memory, valid during run().
struct PassInputs {
  const int32_t* tokens = nullptr;  // [n_tokens]
  const TokenSlot* slots = nullptr; // [n_tokens]
  int64_t n_tokens = 0;
  const float* rope_cos_sin = nullptr;  // [n_tokens][rope_pairs][2] (cos, sin)
  int64_t rope_pairs = 0;                // the model's rope_dim / 2
  const int32_t* output_rows = nullptr; // [n_outputs] chunk rows whose logits are wanted, ascending
  int64_t n_outputs = 0;
  KvCellsView cells;
  float* logits = nullptr;  // [n_outputs][n_vocab]: where host_output rows go
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  // The device for people ("llvmpipe (cpu, Mesa 22.3.6)", "cpu avx512, 2 threads").
  virtual std::string describe() const { return std::string(name()); }
  virtual bool supports_weight_type(GgmlType type) const = 0;

  // Sizes and allocates the activation buffers and KV rows once.
  virtual Status allocate(const BackendSetup& setup) = 0;
  // Runs ops (a range of the graph placed on this backend) for one chunk;
  // returns when the results are readable.
  virtual Status run(std::span<const Op> ops, const PassInputs& in) = 0;
  // Rows [0, n_rows) of an activation, to or from host memory (range hand-over).
  virtual Status read_activation(ActId act, int64_t n_rows, float* host) = 0;
  virtual Status write_activation(ActId act, int64_t n_rows, const float* host) = 0;
  // Makes dst_seq's first n_cells KV rows equal src_seq's (every stored layer).
  virtual Status copy_kv_cells(int32_t src_seq, int32_t dst_seq, int64_t n_cells) = 0;
  // Bytes of KV rows and of everything else allocated (activations, scratch).
  virtual uint64_t kv_bytes() const = 0;
  virtual uint64_t compute_bytes() const = 0;
};

}  // namespace laneway
