// The contract between the server (HTTP, any thread) and an embedded lane's
// engine thread: a request goes in, events come out.
//
// Request state lives in the request (GenerationRequest + its sink), never in
// the slot that happens to run it. Events for one request are delivered in
// order, from the engine thread, except for a request refused while still
// queued (cancelled, or the lane shutting down): its one final event comes
// from the thread that refused it. A sink must not block (post the event to
// your own executor and return).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "sampling/sampler.h"

namespace laneway {

// preempted: a queued request handed back before it started (a pause with
// on_pause: preempt); the server runs it again from scratch, so it never
// reaches a client.
enum class FinishReason { none, stop, length, cancelled, error, preempted };
const char* finish_reason_name(FinishReason r);  // "stop", "length", ...

struct GenerationRequest {
  std::vector<int32_t> prompt_tokens;  // already templated and tokenized (BOS included as wanted)
  SamplingParams sampling;
  int64_t max_tokens = 256;            // generated tokens at most (the lane's context bounds it too)
  std::vector<std::string> stop;       // stop strings: generation ends before them; they never reach the client
  bool ignore_eos = false;
  // Test-only: sleep this long after each generated token (deterministic load tests).
  int64_t debug_token_delay_ms = 0;
};

struct GenerationEvent {
  std::string text;                    // new text (complete UTF-8), may be empty
  std::vector<int32_t> tokens;         // tokens that produced it
  bool done = false;
  FinishReason finish = FinishReason::none;
  Status error;                        // when finish == error
  int64_t prompt_tokens = 0;           // set on the final event
  int64_t completion_tokens = 0;       // set on the final event
  double time_to_first_token_s = 0;    // set on the final event
};

using GenerationSink = std::function<void(GenerationEvent&&)>;

// Handle of an accepted request. cancel(): a request still queued leaves the
// queue at once (its sink gets finish = cancelled, from the cancelling
// thread); a running one frees its slot within one decode step.
// Thread-safe; cancel() may be called any number of times.
class GenerationHandle {
 public:
  void cancel() {
    if (cancelled_.exchange(true, std::memory_order_acq_rel)) return;
    if (on_cancel_) on_cancel_();
  }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }
  // For the lane that accepted the request: what cancel() does besides
  // raising the flag. Set once, before the handle is shared.
  void set_on_cancel(std::function<void()> on_cancel) { on_cancel_ = std::move(on_cancel); }

 private:
  std::atomic<bool> cancelled_{false};
  std::function<void()> on_cancel_;
};

// What a lane reports for /v1/lanes and /metrics.
struct LaneStats {
  int64_t slots = 0;
  int64_t busy_slots = 0;
  int64_t queue_depth = 0;
  int64_t queue_capacity = 0;
  int64_t kv_cells_used = 0;
  int64_t kv_cells_total = 0;
  uint64_t kv_bytes = 0;
  uint64_t weight_bytes = 0;
  int64_t prompt_tokens_total = 0;
  int64_t generated_tokens_total = 0;
  double generation_seconds_total = 0;  // engine time spent in decode steps
  // Prompts being evaluated now (in chunks): tokens of them still to do, of their total.
  int64_t prefill_tokens_pending = 0;
  int64_t prefill_tokens_total = 0;
};

}  // namespace laneway
