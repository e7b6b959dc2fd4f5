// EmbeddedLane on stories260K: continuous batching gives each request the
// output it gets alone; queue limits, cancellation and stop strings.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/embedded_lane.h"
#include "runtime/stop_strings.h"
#include "support/testdata.h"

namespace laneway {
namespace {

struct Collected {
  std::mutex mu;
  std::condition_variable cv;
  std::string text;
  std::vector<int32_t> tokens;
  bool done = false;
  GenerationEvent last;
  GenerationSink sink() {
    return [this](GenerationEvent&& ev) {
      std::lock_guard<std::mutex> lock(mu);
      text += ev.text;
      tokens.insert(tokens.end(), ev.tokens.begin(), ev.tokens.end());
      if (ev.done) {
        done = true;
        last = std::move(ev);
        cv.notify_all();
      }
    };
  }
  bool wait(int ms = 30000) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return done; });
  }
};

std::unique_ptr<EmbeddedLane> start_lane(int32_t slots, int64_t queue, int32_t n_batch = 512) {
  EmbeddedLaneOptions o;
  o.context.n_batch = n_batch;
  o.name = "stories";
  o.model_path = test::testdata_path("models/stories260K.gguf");
  o.context.n_ctx = 512 * slots;
  o.context.n_seq = slots;
  o.context.n_threads = 2;
  o.queue_capacity = queue;
  auto lane = EmbeddedLane::start(o);
  EXPECT_TRUE(lane.is_ok()) << lane.status().to_string();
  return lane.is_ok() ? std::move(lane).value() : nullptr;
}

GenerationRequest request(const EmbeddedLane& lane, const std::string& prompt, int64_t max_tokens, uint64_t seed,
                          float temperature) {
  GenerationRequest r;
  r.prompt_tokens = lane.tokenizer().encode(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = temperature;
  r.sampling.seed = seed;
  return r;
}

TEST(EmbeddedLane, BatchedOutputEqualsAloneOutput) {
  LANEWAY_REQUIRE_FILE(test::testdata_path("models/stories260K.gguf"));
  auto lane = start_lane(4, 8);
  ASSERT_TRUE(lane);
  const std::vector<std::string> prompts = {"Once upon a time", "The little dog", "Lily and Tom went", "A big red ball"};
  // Alone, one after the other (sampled, seeded, so the RNG path is covered too).
  std::vector<std::string> alone;
  for (size_t i = 0; i < prompts.size(); ++i) {
    Collected c;
    ASSERT_TRUE(lane->submit(request(*lane, prompts[i], 40, 100 + i, 0.8f), c.sink()).is_ok());
    ASSERT_TRUE(c.wait());
    alone.push_back(c.text);
    EXPECT_EQ(c.last.finish == FinishReason::length || c.last.finish == FinishReason::stop, true);
  }
  // All at once: they share forward passes.
  std::vector<std::unique_ptr<Collected>> together(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    together[i] = std::make_unique<Collected>();
    ASSERT_TRUE(lane->submit(request(*lane, prompts[i], 40, 100 + i, 0.8f), together[i]->sink()).is_ok());
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(together[i]->wait());
    EXPECT_EQ(together[i]->text, alone[i]) << "prompt " << i;
    EXPECT_FALSE(alone[i].empty());
  }
  auto s = lane->stats();
  EXPECT_EQ(s.busy_slots, 0);
  EXPECT_GT(s.generated_tokens_total, 100);
}

TEST(EmbeddedLane, GreedyMatchesReferenceText) {
  LANEWAY_REQUIRE_FILE(test::testdata_path("models/stories260K.gguf"));
  auto lane = start_lane(1, 1);
  ASSERT_TRUE(lane);
  Collected c;
  ASSERT_TRUE(lane->submit(request(*lane, "Once upon a time", 48, 0, 0.0f), c.sink()).is_ok());
  ASSERT_TRUE(c.wait());
  EXPECT_EQ(c.text.rfind(", there was a little girl named Lily.", 0), 0u) << c.text;
  EXPECT_EQ(c.last.completion_tokens, 48);
  EXPECT_EQ(c.last.prompt_tokens, 5);
  EXPECT_EQ(c.last.finish, FinishReason::length);
}

TEST(EmbeddedLane, StopStringsNeverLeak) {
  LANEWAY_REQUIRE_FILE(test::testdata_path("models/stories260K.gguf"));
  auto lane = start_lane(1, 1);
  ASSERT_TRUE(lane);
  auto r = request(*lane, "Once upon a time", 48, 0, 0.0f);
  r.stop = {"Lily"};
  Collected c;
  ASSERT_TRUE(lane->submit(std::move(r), c.sink()).is_ok());
  ASSERT_TRUE(c.wait());
  EXPECT_EQ(c.text, ", there was a little girl named ");
  EXPECT_EQ(c.last.finish, FinishReason::stop);
}

TEST(EmbeddedLane, QueueFullAndCancel) {
  LANEWAY_REQUIRE_FILE(test::testdata_path("models/stories260K.gguf"));
  auto lane = start_lane(1, 1);
  ASSERT_TRUE(lane);
  auto slow = [&](Collected& c) {
    auto r = request(*lane, "Once upon a time", 400, 0, 0.0f);
    r.debug_token_delay_ms = 20;
    r.ignore_eos = true;
    return lane->submit(std::move(r), c.sink());
  };
  Collected a, b, c;
  auto ha = slow(a);
  ASSERT_TRUE(ha.is_ok());
  auto hb = slow(b);
  ASSERT_TRUE(hb.is_ok());
  auto hc = slow(c);  // 1 slot + 1 queued: the third is refused
  ASSERT_FALSE(hc.is_ok());
  EXPECT_EQ(hc.status().code(), StatusCode::resource_exhausted);
  (*ha)->cancel();
  ASSERT_TRUE(a.wait(5000));
  EXPECT_EQ(a.last.finish, FinishReason::cancelled);
  (*hb)->cancel();
  ASSERT_TRUE(b.wait(5000));
  EXPECT_EQ(b.last.finish, FinishReason::cancelled);
}

TEST(EmbeddedLane, PromptLongerThanContextIsRefused) {
  LANEWAY_REQUIRE_FILE(test::testdata_path("models/stories260K.gguf"));
  auto lane = start_lane(1, 1);
  ASSERT_TRUE(lane);
  GenerationRequest r;
  r.prompt_tokens.assign(600, 300);
  Collected c;
  auto h = lane->submit(std::move(r), c.sink());
  ASSERT_FALSE(h.is_ok());
  EXPECT_EQ(h.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(h.status().message().find("context"), std::string::npos);
}

TEST(StopStringFilter, HoldsBackPossibleStarts) {
  StopStringFilter f({"</end>", "STOP"});
  EXPECT_EQ(f.push("hello <"), "hello ");
  EXPECT_EQ(f.push("/e"), "");
  EXPECT_EQ(f.push("x"), "</ex");
  EXPECT_EQ(f.push(" ST"), " ");
  EXPECT_EQ(f.push("OP and more"), "");
  EXPECT_TRUE(f.stopped());
  EXPECT_EQ(f.push("later"), "");
  StopStringFilter g({"abc"});
  EXPECT_EQ(g.push("xab"), "x");
  EXPECT_EQ(g.flush(), "ab");
}


// A long prompt is evaluated in chunks of n_batch tokens, interleaved with
// the other slots' decode steps: the output is the same as in one piece.
TEST(EmbeddedLane, ChunkedPrefillGivesTheSameOutput) {
  LANEWAY_REQUIRE_FILE(test::testdata_path("models/stories260K.gguf"));
  std::string prompt;
  for (int i = 0; i < 12; ++i) prompt += "Once upon a time, there was a little girl named Lily. ";
  auto whole = start_lane(2, 4, 512);
  auto chunked = start_lane(2, 4, 7);
  ASSERT_TRUE(whole && chunked);
  ASSERT_GT(whole->tokenizer().encode(prompt).size(), 100u);
  Collected a, b, running;
  ASSERT_TRUE(whole->submit(request(*whole, prompt, 24, 1, 0), a.sink()).is_ok());
  // On the chunked lane another request is decoding while the long prompt arrives.
  ASSERT_TRUE(chunked->submit(request(*chunked, "The cat", 40, 1, 0), running.sink()).is_ok());
  ASSERT_TRUE(chunked->submit(request(*chunked, prompt, 24, 1, 0), b.sink()).is_ok());
  ASSERT_TRUE(a.wait() && b.wait() && running.wait());
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.text, b.text);
  EXPECT_EQ(b.last.prompt_tokens, a.last.prompt_tokens);
  EXPECT_EQ(running.last.finish, FinishReason::length);
}

// Cancellation is noticed between prefill chunks, and /v1/lanes' figures
// show the prefill's progress meanwhile.
TEST(EmbeddedLane, ALongPrefillReportsProgressAndCanBeCancelled) {
  LANEWAY_REQUIRE_FILE(test::testdata_path("models/stories260K.gguf"));
  auto lane = start_lane(1, 1, 1);  // one prompt token per step
  ASSERT_TRUE(lane);
  std::string prompt;
  for (int i = 0; i < 30; ++i) prompt += "Once upon a time, there was a little girl named Lily. ";
  GenerationRequest r = request(*lane, prompt, 8, 1, 0);
  r.debug_token_delay_ms = 2;  // each one-token step sleeps a little: the prefill takes a while
  const auto n_prompt = static_cast<int64_t>(r.prompt_tokens.size());
  ASSERT_LT(n_prompt, 512);
  Collected c;
  auto handle = lane->submit(std::move(r), c.sink());
  ASSERT_TRUE(handle.is_ok());
  LaneStats mid;
  for (int i = 0; i < 2000; ++i) {
    mid = lane->stats();
    if (mid.prefill_tokens_total > 0 && mid.prefill_tokens_pending < mid.prefill_tokens_total) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(mid.prefill_tokens_total, n_prompt);
  EXPECT_GT(mid.prefill_tokens_pending, 0);
  EXPECT_LT(mid.prefill_tokens_pending, n_prompt);
  (*handle)->cancel();
  ASSERT_TRUE(c.wait(5000)) << "cancelled between chunks, not after the whole prompt";
  EXPECT_EQ(c.last.finish, FinishReason::cancelled);
  EXPECT_EQ(c.last.completion_tokens, 0);
}

}  // namespace
}  // namespace laneway
