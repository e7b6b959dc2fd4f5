// The memory planner: what a model, a context length and KV cache types cost
// before anything is loaded. Pure functions: metadata and settings in, a
// bill (with reasons) out; the same numbers answer `laneway plan`, admission
// control and burst decisions.
//
// Model of a `laneway run` process's peak resident memory:
//   weights   the GGUF file(s): mapped, prefaulted, every page resident (the
//             matrices the CPU tiles move to anonymous memory, their file
//             pages released, except about a page per matrix where it shares
//             pages with its neighbours: kTiledMatrixResidueBytes)
//   kv        K and V rows for every cell of the context, committed at load
//   compute   scratch buffers: ForwardContext::compute_bytes (the function
//             the engine allocates with, so the two cannot drift apart)
//   overhead  the process itself (a serve lane: see kServeBaseBytes): kOverheadBaseBytes (binary, libraries,
//             heap, stacks) + kOverheadPerVocabBytes per vocabulary entry
//             (tokenizer tables, sampler buffers). Measured on this runtime
//             (stories260K, the synthetic files of every architecture and
//             TinyLlama-1.1B, see tests/conformance/plan), the same for every
//             model: no per-model constants. The base grows with the binary
//             (10 MiB since TLS, upstream replicas and the model rescan: the
//             16 runs of plan_accuracy_test were 0.39-1.12 MB above the old
//             9.25 MiB, median 0.75; `laneway help` alone is 7.3 MiB resident).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/context.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/shapes.h"

namespace laneway {

inline constexpr uint64_t kOverheadBaseBytes = 10240ull << 10;  // 10 MiB
inline constexpr uint64_t kOverheadPerVocabBytes = 136;
// A `laneway serve` process holds its own base once (the binary and its
// libraries, the HTTP and worker threads, the pool's loader: kServeBaseBytes)
// and each embedded lane kServeLaneBytes beyond the lane's weights, KV,
// compute and tokenizer (its engine threads' stacks and malloc arenas, its
// routing tokenizer). Measured (VmHWM after a request on every lane) on
// single-lane serves of stories260K and five synthetic files (base + one
// lane: 16.3-17.0 MB, median 16.49) and a three-lane serve (17.55 MB),
// checked on two-lane serves in tests/conformance/plan/serve_plan_test.cpp.
inline constexpr uint64_t kServeBaseBytes = 15584ull << 10;  // 15.2 MiB
inline constexpr uint64_t kServeLaneBytes = 512ull << 10;
inline constexpr uint64_t kTiledMatrixResidueBytes = 4096;

// What the planner needs to know about a model (from metadata or a shape).
struct PlanModel {
  std::string name;
  ModelHparams hp;
  uint64_t file_bytes = 0;     // resident when loaded: tensor data + metadata + padding
  uint64_t weight_bytes = 0;   // tensor data alone
  std::vector<uint64_t> layer_weight_bytes;  // per block
  uint64_t output_weight_bytes = 0;          // output head (+ embeddings), outside the blocks
  uint64_t embedding_bytes = 0;              // token_embd.weight alone
  uint64_t expert_bytes = 0;                 // stacked expert matrices (ffn_*_exps), all experts
  std::vector<int64_t> layer_tiled_matrices;  // per block: matrices the CPU tiles at load
  int64_t output_tiled_matrices = 0;          // the output head, when the CPU tiles it
};

// Weight bytes one decoded token reads: every tensor, except that only one
// row of the token embeddings is read (all of it when it is also the output
// head) and only the experts a token is routed to (n_expert_used of n_expert).
uint64_t weight_bytes_read_per_token(const PlanModel& model);

// From a GGUF's metadata and tensor infos (no tensor data is read).
Result<PlanModel> plan_model_from_gguf(const GgufModel& gguf);
// From a named shape and a type ("Q4_K_M", "F16", ...), as `laneway synth` would write it.
Result<PlanModel> plan_model_from_shape(const ModelShape& shape, const std::string& type);

// The planner's settings: a context's own options (the one settings type
// the CLI, the lanes and the engine fill; n_ctx is the total over the n_seq
// slots, 0 = the model's trained context; n_threads 0 = this machine's
// hardware threads; with mlock, admission also checks the weights and KV
// against RLIMIT_MEMLOCK, plan/pinning.h), and what only the plan needs.
struct PlanSettings : ContextOptions {
  int64_t gpu_layers = 0;  // the last N blocks and the output head on a GPU; negative: all
  // A lane of `laneway serve`: its overhead is kServeLaneBytes plus its
  // tokenizer; the process's base (kServeBaseBytes) is counted once for all
  // lanes by the caller. Otherwise the bill is a whole `laneway run`.
  bool serve_lane = false;
};

// What the GPU layers hold in device memory (heaps the device reports; on
// an APU or through Venus that is the same RAM, counted in GTT).
struct DeviceBill {
  int64_t n_blocks = 0;         // blocks on the device (the output head goes with them)
  uint64_t weights_bytes = 0;   // their tensors, and the output head's (the embeddings too when every block is there)
  uint64_t kv_bytes = 0;        // their KV rows
  uint64_t compute_bytes = 0;   // activation and input buffers (ForwardContext::device_compute_bytes)
  uint64_t total_bytes = 0;
};

struct MemoryBill {
  int64_t n_ctx = 0;
  uint64_t weights_bytes = 0;
  uint64_t kv_bytes = 0;
  uint64_t kv_bytes_per_token = 0;  // a cell of every layer (the whole-context layout)
  // Sliding-window blocks that keep a ring, and its cells per slot (0: none).
  int64_t kv_ring_layers = 0;
  int64_t kv_ring_cells = 0;
  uint64_t compute_bytes = 0;
  uint64_t overhead_bytes = 0;
  uint64_t total_bytes = 0;  // predicted peak resident bytes of `laneway run`
  // Host memory stays as above: the file's pages are read to upload the GPU
  // layers and stay mapped.
  DeviceBill device;
  std::vector<std::string> warnings;  // e.g. context beyond the trained length
};

// "f16", "q8_0", "q4_0": a KV cache type as --cache-type-k and lanes.yaml spell it.
std::string kv_cache_type_name(GgmlType type);

Result<MemoryBill> plan_memory(const PlanModel& model, const PlanSettings& settings);

// The largest context (a multiple of 256 tokens, at least 256) whose bill
// fits in usable_bytes; 0 when even the weights do not fit.
int64_t max_context_that_fits(const PlanModel& model, PlanSettings settings, uint64_t usable_bytes);

// The admission check run before loading: ok when bill.total_bytes fits in
// usable_bytes; otherwise resource_exhausted with a message that says what
// the model needs (and of what), what is usable (usable_source says why), and
// what to change: the largest context that fits with these KV types and with
// smaller ones. Contexts in the message are per slot (what --ctx and a lane's
// `context` mean when there is one slot / per request).
Status check_memory_fits(const PlanModel& model, const PlanSettings& settings, const MemoryBill& bill,
                         uint64_t usable_bytes, std::string_view usable_source);

}  // namespace laneway
