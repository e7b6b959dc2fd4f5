// ForwardContext: the mutable state for running one model: KV cache,
// backend(s), scratch buffers and output logits. Owned by one engine
// thread; not thread-safe. Several contexts may share one Model.
//
// decode() evaluates a batch of tokens from any number of sequences at once
// (continuous batching). A sequence's logits are bit-identical whether it is
// evaluated alone or batched with others, however its prompt is split into
// calls, and for any thread count.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "backend/backend.h"
#include "core/status.h"
#include "kv/kv_cache.h"
#include "model/model.h"

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

// Part of a batch handed to an architecture's forward pass.
struct ForwardChunk {
  const int32_t* tokens = nullptr;
  const uint8_t* want_logits = nullptr;
  const TokenSlot* slots = nullptr;  // seq, cell and position of each token
  int64_t n_tokens = 0;
  float* logits = nullptr;           // [outputs in this chunk][n_vocab]
};

struct ContextOptions {
  int64_t n_ctx = 0;       // total context cells over all sequences; 0 = the model's trained context
  int32_t n_seq = 1;       // sequences (slots); each gets n_ctx / n_seq cells
  int32_t n_batch = 512;   // most tokens per forward pass (bigger batches are split)
  GgmlType type_k = GgmlType::f16;
  GgmlType type_v = GgmlType::f16;
  int n_threads = 0;       // 0 = all hardware threads
};

class ForwardContext {
 public:
  static Result<std::unique_ptr<ForwardContext>> create(const Model& model, const ContextOptions& options);

  // Bytes of scratch buffers (activations, backend tiles, cell positions)
  // a context with these options allocates besides its KV cache, for
  // n_outputs rows of logits at once. The memory planner uses this same
  // function, so its bill and the real allocation cannot drift apart.
  static uint64_t compute_bytes(const ModelHparams& hp, const ContextOptions& options, int64_t n_outputs = 1);
  ~ForwardContext();

  // Evaluates the batch. On error nothing of the batch stays in the cache.
  Status decode(const ForwardBatch& batch);
  // Logits of the i-th token that asked for them in the last decode(): n_vocab floats.
  std::span<const float> logits(int64_t i) const;
  int64_t n_outputs() const { return n_outputs_; }

  const Model& model() const { return model_; }
  const ContextOptions& options() const { return options_; }
  KvCache& kv() { return kv_; }
  const KvCache& kv() const { return kv_; }
  int64_t n_ctx_per_seq() const { return kv_.cells_per_seq(); }

  // --- for architectures' forward passes -----------------------------------
  Backend& backend(int64_t layer) { return *layer_backends_[static_cast<size_t>(layer)]; }
  Backend& output_backend() { return *backends_.front(); }
  struct Scratch {
    std::vector<float> x, h, q, k, v, attn, gate, up, out_rows;
    std::vector<float> rope_cos_sin;  // [n_batch][rope_dim / 2][2]
    std::vector<TokenSlot> slots;     // [whole batch]
    std::vector<int32_t> out_index;   // chunk index of each output row
  };
  Scratch& scratch() { return scratch_; }
  // Fills scratch().rope_cos_sin for the given positions (angles in double precision).
  void compute_rope(const TokenSlot* slots, int64_t n_tokens);

 private:
  ForwardContext(const Model& model, const ContextOptions& options) : model_(model), options_(options) {}

  const Model& model_;
  ContextOptions options_;
  KvCache kv_;
  std::vector<std::unique_ptr<Backend>> backends_;
  std::vector<Backend*> layer_backends_;
  Scratch scratch_;
  std::vector<float> logits_;
  int64_t n_outputs_ = 0;
  std::vector<double> rope_inv_freq_;  // [rope_dim / 2]
};

}  // namespace laneway
