#include "runtime/embedded_lane.h"
#include "model/load_progress.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "runtime/stop_strings.h"

namespace laneway {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::none: return "none";
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::cancelled: return "cancelled";
    case FinishReason::error: return "error";
    case FinishReason::preempted: return "preempted";
  }
  return "none";
}

namespace {
using Clock = std::chrono::steady_clock;

// Everything about one request; it moves from the queue into a slot.
struct ActiveRequest {
  GenerationRequest req;
  GenerationSink sink;
  std::shared_ptr<GenerationHandle> handle;
  Sampler sampler;
  std::optional<StreamingDetokenizer> detok;
  StopStringFilter stops;
  Clock::time_point submitted;
  Clock::time_point first_token;
  int64_t prefilled = 0;      // prompt tokens in the KV cache so far (prefill runs in chunks)
  int64_t n_past = 0;         // tokens in the KV cache
  int32_t next_token = -1;    // sampled, not yet evaluated
  int64_t generated = 0;

  ActiveRequest(GenerationRequest r, GenerationSink s, Sampler smp)
      : req(std::move(r)), sink(std::move(s)), handle(std::make_shared<GenerationHandle>()), sampler(std::move(smp)),
        stops(req.stop), submitted(Clock::now()) {}
};
}  // namespace

struct EmbeddedLane::Impl {
  EmbeddedLaneOptions options;
  std::unique_ptr<Model> model;
  std::unique_ptr<ForwardContext> ctx;
  std::optional<Tokenizer> tokenizer;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<ActiveRequest>> waiting;  // guarded by mu
  int64_t busy = 0;                                    // guarded by mu
  bool stopping = false;                               // guarded by mu
  Status failure;                                      // guarded by mu: what stopped the engine thread
  Clock::time_point deadline;                          // guarded by mu
  LaneStats totals;                                    // guarded by mu (token counters)

  std::vector<std::unique_ptr<ActiveRequest>> slots;  // engine thread only
  std::thread thread;

  // Takes a request out of the queue, if it is still there, and tells its
  // sink it was cancelled. Any thread.
  void drop_waiting(const GenerationHandle* handle);
  static void refuse(ActiveRequest& a, FinishReason reason = FinishReason::cancelled);

  // engine_loop, with a guard: an exception fails the lane's requests and
  // the lane (failure()), never the process.
  void run_engine();
  void engine_loop();
  void step(ForwardBatch& batch);
  void finish(size_t slot, FinishReason reason, Status error = Status::ok());
  void emit_token(size_t slot, int32_t token);
};

EmbeddedLane::EmbeddedLane(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<EmbeddedLane>> EmbeddedLane::start(const EmbeddedLaneOptions& options) {
  auto impl = std::make_shared<Impl>();
  impl->options = options;
  if (options.debug_load_delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options.debug_load_delay_ms));
  }
  // Progress: the weights read (and tiled), then those a GPU copies.
  ModelLoadOptions load = options.load;
  ContextOptions context = options.context;
  relay_load_progress(load, context, options.load.progress);
  LANEWAY_ASSIGN_OR_RETURN(impl->model, Model::load(options.model_path, load));
  LANEWAY_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::from_gguf(impl->model->meta()));
  impl->tokenizer.emplace(std::move(tok));
  LANEWAY_ASSIGN_OR_RETURN(impl->ctx, ForwardContext::create(*impl->model, context));
  impl->slots.resize(static_cast<size_t>(impl->ctx->options().n_seq));
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run_engine(); });
  return std::unique_ptr<EmbeddedLane>(new EmbeddedLane(std::move(impl)));
}

EmbeddedLane::~EmbeddedLane() { shutdown(0); }

const std::string& EmbeddedLane::name() const { return impl_->options.name; }
const Model& EmbeddedLane::model() const { return *impl_->model; }
const Tokenizer& EmbeddedLane::tokenizer() const { return *impl_->tokenizer; }
int64_t EmbeddedLane::context_tokens() const { return impl_->ctx->context_tokens(); }

Result<std::shared_ptr<GenerationHandle>> EmbeddedLane::submit(GenerationRequest request, GenerationSink sink) {
  if (request.prompt_tokens.empty()) return invalid_argument_error("the prompt is empty");
  const int64_t n_ctx = context_tokens();
  if (static_cast<int64_t>(request.prompt_tokens.size()) >= n_ctx) {
    return invalid_argument_error("the prompt is {} tokens, but lane {} has a context of {} tokens per request",
                                  request.prompt_tokens.size(), impl_->options.name, n_ctx);
  }
  const int64_t n_vocab = impl_->model->hparams().n_vocab;
  for (int32_t t : request.prompt_tokens) {
    if (t < 0 || t >= n_vocab) return invalid_argument_error("token id {} is outside the vocabulary", t);
  }
  if (request.max_tokens < 1) return invalid_argument_error("max_tokens must be at least 1");
  LANEWAY_ASSIGN_OR_RETURN(Sampler sampler, Sampler::create(request.sampling, static_cast<int32_t>(n_vocab)));
  auto active = std::make_unique<ActiveRequest>(std::move(request), std::move(sink), std::move(sampler));
  active->detok.emplace(*impl_->tokenizer);
  for (int32_t t : active->req.prompt_tokens) active->sampler.accept(t);
  auto handle = active->handle;
  // A client that leaves while queued must not keep its place until a slot frees.
  handle->set_on_cancel([weak = std::weak_ptr<Impl>(impl_), h = handle.get()] {
    if (auto impl = weak.lock()) impl->drop_waiting(h);
  });
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->failure.is_ok()) {
      return make_error(StatusCode::unavailable, "lane {} failed: {}", impl_->options.name, impl_->failure.message());
    }
    if (impl_->stopping) return make_error(StatusCode::cancelled, "lane {} is shutting down", impl_->options.name);
    const int64_t n_slots = static_cast<int64_t>(impl_->slots.size());
    if (impl_->busy + static_cast<int64_t>(impl_->waiting.size()) >= n_slots + impl_->options.queue_capacity) {
      return resource_exhausted_error("lane {} is full: {} slots busy and {} requests queued", impl_->options.name,
                                      impl_->busy, impl_->waiting.size());
    }
    impl_->waiting.push_back(std::move(active));
  }
  impl_->cv.notify_one();
  return handle;
}

LaneStats EmbeddedLane::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  LaneStats s = impl_->totals;
  s.slots = static_cast<int64_t>(impl_->slots.size());
  s.busy_slots = impl_->busy;
  s.queue_depth = static_cast<int64_t>(impl_->waiting.size());
  s.queue_capacity = impl_->options.queue_capacity;
  s.kv_cells_total = impl_->ctx->kv().context_tokens() * s.slots;
  s.kv_bytes = impl_->ctx->kv_bytes();
  s.weight_bytes = impl_->model->weight_bytes();
  return s;
}

void EmbeddedLane::begin_shutdown(int64_t grace_ms) {
  std::deque<std::unique_ptr<ActiveRequest>> refused;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->stopping) {
      impl_->stopping = true;
      impl_->deadline = Clock::now() + std::chrono::milliseconds(grace_ms);
      // The grace period is for the running requests; queued ones are told
      // now, while their clients can still retry elsewhere.
      refused.swap(impl_->waiting);
    }
  }
  impl_->cv.notify_all();
  for (auto& a : refused) Impl::refuse(*a);
}

void EmbeddedLane::shutdown(int64_t grace_ms) {
  begin_shutdown(grace_ms);
  if (impl_->thread.joinable()) impl_->thread.join();
}

void EmbeddedLane::preempt_waiting() {
  std::deque<std::unique_ptr<ActiveRequest>> handed_back;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    handed_back.swap(impl_->waiting);
  }
  for (auto& a : handed_back) Impl::refuse(*a, FinishReason::preempted);
}

void EmbeddedLane::Impl::refuse(ActiveRequest& a, FinishReason reason) {
  GenerationEvent ev;
  ev.done = true;
  ev.finish = reason;
  ev.prompt_tokens = static_cast<int64_t>(a.req.prompt_tokens.size());
  GenerationSink sink = std::move(a.sink);
  sink(std::move(ev));
}

void EmbeddedLane::Impl::drop_waiting(const GenerationHandle* handle) {
  std::unique_ptr<ActiveRequest> dropped;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = std::find_if(waiting.begin(), waiting.end(), [&](const auto& a) { return a->handle.get() == handle; });
    if (it == waiting.end()) return;  // running (the next step frees its slot) or finished
    dropped = std::move(*it);
    waiting.erase(it);
  }
  refuse(*dropped);
}

// ---- engine thread ------------------------------------------------------------

void EmbeddedLane::Impl::finish(size_t slot, FinishReason reason, Status error) {
  auto& a = slots[slot];
  GenerationEvent ev;
  if (reason != FinishReason::error && reason != FinishReason::cancelled) {
    ev.text = a->stops.push(a->detok->flush());
    ev.text += a->stops.flush();
  }
  ev.done = true;
  ev.finish = reason;
  ev.error = std::move(error);
  ev.prompt_tokens = static_cast<int64_t>(a->req.prompt_tokens.size());
  ev.completion_tokens = a->generated;
  if (a->generated > 0) ev.time_to_first_token_s = std::chrono::duration<double>(a->first_token - a->submitted).count();
  // Free the slot before the final event, so a client that sees "done"
  // never sees its slot still busy.
  GenerationSink sink = std::move(a->sink);
  ctx->kv().clear(static_cast<int32_t>(slot));
  a.reset();
  {
    std::lock_guard<std::mutex> lock(mu);
    --busy;
  }
  sink(std::move(ev));
}

void EmbeddedLane::Impl::emit_token(size_t slot, int32_t token) {
  auto& a = slots[slot];
  ++a->generated;
  if (a->generated == 1) a->first_token = Clock::now();
  a->sampler.accept(token);
  if (!a->req.ignore_eos && tokenizer->is_end_of_generation(token)) {
    finish(slot, FinishReason::stop);
    return;
  }
  GenerationEvent ev;
  ev.tokens.push_back(token);
  ev.text = a->stops.push(a->detok->push(token));
  const bool stopped = a->stops.stopped();
  if (!ev.text.empty() || !stopped) a->sink(std::move(ev));
  if (stopped) {
    finish(slot, FinishReason::stop);
    return;
  }
  if (a->generated >= a->req.max_tokens || a->n_past + 1 >= ctx->context_tokens()) {
    finish(slot, FinishReason::length);
    return;
  }
  a->next_token = token;
}

void EmbeddedLane::Impl::step(ForwardBatch& batch) {
  batch.clear();
  std::vector<size_t> out_slot;  // which slot each output row belongs to
  std::vector<size_t> in_batch;  // every slot with tokens in this step
  int64_t delay_ms = 0;
  // Prompts are evaluated in chunks of at most n_batch tokens per step, so a
  // long prompt never stalls the other slots' next tokens for long, and a
  // client that leaves (or a shutdown) is noticed between chunks. Results do
  // not depend on the chunking (the engine is chunk-invariant).
  int64_t prefill_budget = std::max<int64_t>(1, ctx->options().n_batch);
  int64_t pending_prefill = 0, total_prefill = 0;
  for (size_t s = 0; s < slots.size(); ++s) {
    auto& a = slots[s];
    if (!a) continue;
    if (a->handle->cancelled()) {
      finish(s, FinishReason::cancelled);
      continue;
    }
    const auto seq = static_cast<int32_t>(s);
    const auto& p = a->req.prompt_tokens;
    const auto n_prompt = static_cast<int64_t>(p.size());
    if (a->prefilled < n_prompt) {
      if (prefill_budget > 0) {
        const int64_t end = std::min(n_prompt, a->prefilled + prefill_budget);
        for (int64_t i = a->prefilled; i < end; ++i) batch.add(p[static_cast<size_t>(i)], i, seq, i + 1 == n_prompt);
        prefill_budget -= end - a->prefilled;
        a->prefilled = end;
        a->n_past = end;
        in_batch.push_back(s);
        if (end == n_prompt) out_slot.push_back(s);
      }
      pending_prefill += n_prompt - a->prefilled;
      total_prefill += n_prompt;
    } else {
      batch.add(a->next_token, a->n_past++, seq, true);
      in_batch.push_back(s);
      out_slot.push_back(s);
    }
    delay_ms = std::max(delay_ms, a->req.debug_token_delay_ms);
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    totals.prefill_tokens_pending = pending_prefill;
    totals.prefill_tokens_total = total_prefill;
  }
  if (batch.size() == 0) return;
  const auto t0 = Clock::now();
  Status st = ctx->decode(batch);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!st.is_ok()) {
    for (size_t s : in_batch) finish(s, FinishReason::error, st);
    return;
  }
  int64_t prompt_tokens = 0;
  for (size_t i = 0; i < out_slot.size(); ++i) {
    const size_t s = out_slot[i];
    if (slots[s]->generated == 0) prompt_tokens += static_cast<int64_t>(slots[s]->req.prompt_tokens.size());
    auto tok = slots[s]->sampler.sample(ctx->logits(static_cast<int64_t>(i)));
    if (!tok.is_ok()) {
      finish(s, FinishReason::error, tok.status());
      continue;
    }
    emit_token(s, *tok);
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    totals.prompt_tokens_total += prompt_tokens;
    totals.generated_tokens_total += static_cast<int64_t>(out_slot.size());
    totals.generation_seconds_total += secs;
    int64_t used = 0;
    for (size_t s = 0; s < slots.size(); ++s) used += ctx->kv().used(static_cast<int32_t>(s));
    totals.kv_cells_used = used;
  }
  if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
}

void EmbeddedLane::Impl::run_engine() {
  try {
    engine_loop();
    return;
  } catch (const std::exception& e) {
    std::lock_guard<std::mutex> lock(mu);
    failure = internal_error("the engine thread stopped: {}", e.what());
  } catch (...) {
    std::lock_guard<std::mutex> lock(mu);
    failure = internal_error("the engine thread stopped on an unknown exception");
  }
  // Every request still here gets the error; nothing waits for this thread.
  std::deque<std::unique_ptr<ActiveRequest>> rest;
  Status why;
  {
    std::lock_guard<std::mutex> lock(mu);
    rest.swap(waiting);
    stopping = true;
    why = failure;
  }
  for (auto& a : slots) {
    if (!a) continue;
    GenerationEvent ev;
    ev.done = true;
    ev.finish = FinishReason::error;
    ev.error = why;
    ev.prompt_tokens = static_cast<int64_t>(a->req.prompt_tokens.size());
    ev.completion_tokens = a->generated;
    GenerationSink sink = std::move(a->sink);
    a.reset();
    if (sink) sink(std::move(ev));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    busy = 0;
  }
  for (auto& a : rest) {
    GenerationEvent ev;
    ev.done = true;
    ev.finish = FinishReason::error;
    ev.error = why;
    ev.prompt_tokens = static_cast<int64_t>(a->req.prompt_tokens.size());
    GenerationSink sink = std::move(a->sink);
    if (sink) sink(std::move(ev));
  }
}

Status EmbeddedLane::failure() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->failure;
}

void EmbeddedLane::Impl::engine_loop() {
  ForwardBatch batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu);
      auto has_free_slot = [&] { return busy < static_cast<int64_t>(slots.size()); };
      cv.wait(lock, [&] { return stopping || busy > 0 || !waiting.empty(); });
      if (stopping && Clock::now() >= deadline) {
        // Out of grace: cancel what is left.
        std::deque<std::unique_ptr<ActiveRequest>> rest;
        rest.swap(waiting);
        lock.unlock();
        for (auto& a : rest) refuse(*a);
        for (size_t s = 0; s < slots.size(); ++s) {
          if (slots[s]) finish(s, FinishReason::cancelled);
        }
        return;
      }
      if (stopping && busy == 0 && waiting.empty()) return;
      // Admit waiting requests into free slots; they join the next forward pass.
      for (size_t s = 0; s < slots.size() && !waiting.empty() && has_free_slot(); ++s) {
        if (slots[s]) continue;
        slots[s] = std::move(waiting.front());
        waiting.pop_front();
        ++busy;
        ctx->kv().clear(static_cast<int32_t>(s));
      }
    }
    step(batch);
  }
}

}  // namespace laneway
