// ForwardContext: the mutable state for running one model: the KV cache's
// bookkeeping, the backends (each holding its activations and its layers'
// KV rows), the forward graph and the output logits. Owned by one engine
// thread; not thread-safe. Several contexts may share one Model.
//
// decode() evaluates a batch of tokens from any number of sequences at once
// (continuous batching). A sequence's logits are bit-identical whether it is
// evaluated alone or batched with others, however its prompt is split into
// calls, and for any thread count.
//
// Placement: the model's first_gpu_layer() splits the graph (graph.h) into
// at most two ranges of consecutive ops, the embedding and the first blocks
// on the CPU, the last blocks and the output head on the GPU; each range
// runs in one call to its backend, and only the activations a range reads
// from the other backend cross over (the residual stream).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "backend/graph.h"
#include "core/status.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "model/rope.h"

namespace laneway {

// Tokens to evaluate: each with its sequence, its position, and whether its
// logits are wanted. Tokens of one sequence must come in position order.
struct ForwardBatch {
  std::vector<int32_t> tokens;
  std::vector<int64_t> positions;
  std::vector<int32_t> seq_ids;
  std::vector<uint8_t> want_logits;

  void clear();
  void add(int32_t token, int64_t pos, int32_t seq, bool logits);
  int64_t size() const { return static_cast<int64_t>(tokens.size()); }
};

struct ContextOptions {
  int64_t n_ctx = 0;       // total context cells over all sequences; 0 = the model's trained context
  int32_t n_seq = 1;       // sequences (slots); each gets n_ctx / n_seq cells
  int32_t n_batch = 512;   // most tokens per forward pass (bigger batches are split)
  GgmlType type_k = GgmlType::f16;
  GgmlType type_v = GgmlType::f16;
  int n_threads = 0;       // 0 = all hardware threads
  // Pin the KV rows in RAM (--mlock, a lane's `mlock: true`; the weights are
  // pinned by ModelLoadOptions::mlock). Admission checks the memlock limit first.
  bool mlock = false;
  // Sliding-window layers (gemma2's even blocks) keep the whole context
  // too, not a ring of their window and a batch (--swa-full: more memory;
  // a chat can then rewind any number of tokens without reading its prompt again).
  bool swa_full = false;
  // Makes the backend for the model's GPU layers; empty = the device the
  // model names (Model::device()). Tests put a second CPU backend there.
  std::function<Result<std::unique_ptr<Backend>>()> make_gpu_backend;
  // Called with the bytes of each weight a GPU backend has copied while the
  // context is created (only then: options() no longer holds it): the rest
  // of a load's progress (ModelLoadOptions::progress).
  std::function<void(uint64_t bytes)> weight_uploaded;
};

class ForwardContext {
 public:
  static Result<std::unique_ptr<ForwardContext>> create(const Model& model, const ContextOptions& options);

  // Bytes of buffers (activations, backend scratch, cell positions, rope
  // table, logits for n_outputs rows) a CPU context with these options
  // allocates besides its KV rows. The memory planner uses this same
  // function, so its bill and the real allocation cannot drift apart.
  static uint64_t compute_bytes(const ModelHparams& hp, const ContextOptions& options, int64_t n_outputs = 1);
  // Bytes a GPU backend allocates besides weights and KV rows: every
  // activation buffer (the logits included) for n_batch rows, and the chunk's
  // inputs (token ids, slots, rope table, output rows, cell positions).
  static uint64_t device_compute_bytes(const ModelHparams& hp, const ContextOptions& options);
  // The KV cache a context with these options keeps (options.n_ctx set):
  // its layers, types, and which layers keep a sliding window's ring.
  static KvCacheConfig kv_cache_config(const ModelHparams& hp, const ContextOptions& options);
  ~ForwardContext();

  // Evaluates the batch. On error nothing of the batch stays in the cache
  // (with sliding-window rings, the batch's sequences are cleared: kv().used()).
  Status decode(const ForwardBatch& batch);
  // Logits of the i-th token that asked for them in the last decode(): n_vocab floats.
  std::span<const float> logits(int64_t i) const;
  int64_t n_outputs() const { return n_outputs_; }

  const Model& model() const { return model_; }
  const ContextOptions& options() const { return options_; }
  // The cache's bookkeeping (cells and positions per sequence).
  KvCells& kv() { return cells_; }
  const KvCells& kv() const { return cells_; }
  int64_t context_tokens() const { return cells_.context_tokens(); }
  // Makes sequence dst hold exactly what src holds (prompt-prefix reuse).
  Status copy_sequence(int32_t src, int32_t dst);
  // Bytes of KV rows over all backends.
  uint64_t kv_bytes() const;

  const ForwardGraph& graph() const { return graph_; }
  // The backends and the ranges of the graph they run, one line each.
  std::string describe_placement() const;
  // The devices in use, first to last ("llvmpipe (cpu, ...) + cpu avx512, 2 threads").
  std::string describe_devices() const;

 private:
  ForwardContext(const Model& model, const ContextOptions& options) : model_(model), options_(options) {}
  Status place(const ModelHparams& hp);
  Status run_chunk(const PassInputs& in);
  void compute_rope(const TokenSlot* slots, int64_t n_tokens);

  // An activation a range reads that another range (another backend) wrote last.
  struct Transfer {
    ActId act = kNoAct;
    OpRows rows = OpRows::tokens;
    size_t from = 0;  // the writing range, and so its backend
  };
  // Ranges of the graph in order; range i runs on backends_[i].
  struct Range {
    size_t op_begin = 0;
    size_t op_end = 0;
    std::vector<Transfer> inputs;
  };

  const Model& model_;
  ContextOptions options_;
  KvCells cells_;
  ForwardGraph graph_;
  std::vector<std::unique_ptr<Backend>> backends_;
  std::vector<Range> ranges_;
  // Host buffers for the chunk's inputs and hand-overs.
  std::vector<float> rope_cos_sin_;  // [n_batch][rope_dim / 2][2]
  std::vector<TokenSlot> slots_;     // [whole batch]
  std::vector<int32_t> output_rows_; // [n_batch]
  std::vector<float> stage_;         // one activation crossing between backends
  std::vector<float> logits_;
  int64_t n_outputs_ = 0;
  RopeFrequencies rope_;
};

}  // namespace laneway
