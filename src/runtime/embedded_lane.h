// EmbeddedLane: one GGUF model served in-process. One engine thread owns the
// model's ForwardContext and runs continuous batching over the lane's slots:
// between decode steps, waiting requests join the running batch (their
// prompts are evaluated in the same forward pass as the others' next tokens).
//
// Thread-safety: submit(), stats() and shutdown() may be called from any
// thread. Everything else belongs to the engine thread. A request's output is
// bit-identical whether it runs alone or batched with others (the engine
// guarantees it; the batcher keeps each request's sampling state in the
// request).
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "model/context.h"
#include "model/model.h"
#include "runtime/generation.h"
#include "tokenizer/tokenizer.h"

namespace laneway {

struct EmbeddedLaneOptions {
  std::string name;                // lane name, for messages
  std::string model_path;
  ModelLoadOptions load;
  ContextOptions context;          // n_ctx is the lane's total context; n_seq = slots
  int64_t queue_capacity = 8;      // waiting requests beyond busy slots
  int64_t debug_load_delay_ms = 0; // test-only: start() takes this much longer
};

class EmbeddedLane {
 public:
  // Loads the model and tokenizer, allocates the KV cache, starts the engine thread.
  static Result<std::unique_ptr<EmbeddedLane>> start(const EmbeddedLaneOptions& options);
  ~EmbeddedLane();  // shutdown(0) then join

  const std::string& name() const;
  const Model& model() const;
  const Tokenizer& tokenizer() const;
  // Tokens of context each request may use (prompt + generated).
  int64_t context_tokens() const;

  // Queues a request. Errors: invalid_argument (empty prompt, prompt longer
  // than context_tokens(), bad sampling params), resource_exhausted (all
  // slots busy and the queue full: the caller answers 429), cancelled (the
  // lane is shutting down). On success the sink receives events from the
  // engine thread until one with done = true.
  Result<std::shared_ptr<GenerationHandle>> submit(GenerationRequest request, GenerationSink sink);

  LaneStats stats() const;
  // Not ok once the engine thread stopped on an error (an exception): its
  // requests got the error, submit() refuses, the lane should be reloaded.
  Status failure() const;

  // Shutdown, step 1 (returns at once): stops accepting, refuses every queued
  // request now (its sink gets finish = cancelled with nothing generated: it
  // never started, so its client can be told to retry), and gives the
  // running ones until grace_ms from now. Later calls change nothing.
  void begin_shutdown(int64_t grace_ms);
  // begin_shutdown(grace_ms), then waits for the running requests to finish,
  // cancels what is left at the deadline (finish = cancelled) and stops the
  // engine thread.
  void shutdown(int64_t grace_ms);
  // Hands back every queued request that has not started (its sink gets
  // finish = preempted with nothing generated) and keeps serving: the lane
  // is about to pause (on_pause: preempt) and the server reruns them when it
  // is back or elsewhere. Running requests are not touched. Any thread.
  void preempt_waiting();

 private:
  struct Impl;
  explicit EmbeddedLane(std::shared_ptr<Impl> impl);
  // Shared with the handles of queued requests (weakly), so a handle that
  // outlives the lane cancels nothing.
  std::shared_ptr<Impl> impl_;
};

}  // namespace laneway
