// Determinism by design: a sequence's logits are bit-identical alone, batched
// with other sequences, split into chunks, and with 1 or 2 threads.
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "model/context.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "reference.h"
#include "support/testdata.h"

namespace laneway {
namespace {

std::unique_ptr<ForwardContext> make_ctx(const Model& m, int threads, int32_t n_seq) {
  ContextOptions o;
  o.n_ctx = 256 * n_seq;
  o.n_seq = n_seq;
  o.n_threads = threads;
  auto c = ForwardContext::create(m, o);
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return c.is_ok() ? std::move(c).value() : nullptr;
}

// All rows of the target prompt (sequence `target`) when several prompts are
// evaluated in one interleaved batch.
std::vector<float> batched_rows(ForwardContext& ctx, const std::vector<std::vector<int32_t>>& prompts, size_t target) {
  const int64_t V = ctx.model().hparams().n_vocab;
  ForwardBatch b;
  size_t longest = 0;
  for (const auto& p : prompts) longest = std::max(longest, p.size());
  std::vector<std::pair<size_t, size_t>> order;  // (prompt, position) in batch order
  for (size_t i = 0; i < longest; ++i) {
    for (size_t s = 0; s < prompts.size(); ++s) {
      if (i < prompts[s].size()) {
        b.add(prompts[s][i], static_cast<int64_t>(i), static_cast<int32_t>(s), true);
        order.emplace_back(s, i);
      }
    }
  }
  EXPECT_TRUE(ctx.decode(b).is_ok());
  std::vector<float> out(prompts[target].size() * static_cast<size_t>(V));
  for (size_t k = 0; k < order.size(); ++k) {
    if (order[k].first != target) continue;
    auto row = ctx.logits(static_cast<int64_t>(k));
    std::memcpy(out.data() + order[k].second * static_cast<size_t>(V), row.data(), row.size_bytes());
  }
  return out;
}

void check_model(const std::string& path) {
  auto m = Model::load(path);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  auto ref = test::load_reference(test::reference_path("stories260K/llamacpp.jsonl"),
                                  test::reference_path("stories260K/llamacpp.f32"));
  ASSERT_GE(ref.size(), 4u);
  std::vector<std::vector<int32_t>> prompts;
  for (size_t i = 0; i < 4; ++i) prompts.push_back(ref[i].forced_tokens());
  const auto& target = prompts[1];

  auto alone1 = make_ctx(**m, 1, 1);
  auto alone = teacher_forced_logits(*alone1, target);
  ASSERT_TRUE(alone.is_ok());

  auto ctx2 = make_ctx(**m, 2, 1);
  auto two_threads = teacher_forced_logits(*ctx2, target);
  ASSERT_TRUE(two_threads.is_ok());
  EXPECT_EQ(std::memcmp(alone->data(), two_threads->data(), alone->size() * 4), 0) << "1 vs 2 threads";

  const int64_t chunk = static_cast<int64_t>(target.size() + 2) / 3;
  auto chunked = teacher_forced_logits(*ctx2, target, 0, chunk);
  ASSERT_TRUE(chunked.is_ok());
  EXPECT_EQ(std::memcmp(alone->data(), chunked->data(), alone->size() * 4), 0) << "3 chunks";

  auto batch_ctx = make_ctx(**m, 2, 4);
  auto batched = batched_rows(*batch_ctx, prompts, 1);
  ASSERT_EQ(batched.size(), alone->size());
  EXPECT_EQ(std::memcmp(alone->data(), batched.data(), alone->size() * 4), 0) << "batch of 4";

  // A tiny micro-batch size forces the batch through many forward passes.
  ContextOptions o;
  o.n_ctx = 1024;
  o.n_seq = 4;
  o.n_threads = 2;
  o.n_batch = 7;
  auto small = ForwardContext::create(**m, o);
  ASSERT_TRUE(small.is_ok());
  auto small_rows = batched_rows(**small, prompts, 1);
  EXPECT_EQ(std::memcmp(alone->data(), small_rows.data(), alone->size() * 4), 0) << "n_batch 7";
}

TEST(EngineDeterminism, Stories260K) {
  const std::string path = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(path);
  check_model(path);
}

TEST(EngineDeterminism, TinyQ4KM) {
  const std::string path = test::testdata_path("models/synthetic/tiny-Q4_K_M.gguf");
  LANEWAY_REQUIRE_FILE(path);
  check_model(path);
}

// Every architecture: biases, multipliers, soft-capping, sliding windows
// (gemma2's window of 16 is shorter than the prompts) and expert routing
// keep a token's arithmetic independent of its batch.
class EngineDeterminismArch : public ::testing::TestWithParam<const char*> {};

TEST_P(EngineDeterminismArch, BatchChunkAndThreadInvariant) {
  const std::string path = test::testdata_path(std::string("models/synthetic/") + GetParam() + ".gguf");
  LANEWAY_REQUIRE_FILE(path);
  check_model(path);
}

INSTANTIATE_TEST_SUITE_P(Architectures, EngineDeterminismArch,
                         ::testing::Values("arch-qwen2-f16", "arch-qwen2-Q8_0", "arch-gemma2-f16", "arch-gemma2-Q8_0",
                                           "arch-moe-f16", "arch-moe-Q8_0", "arch-granite-f16", "arch-yarn-f16"),
                         [](const auto& p) {
                           std::string n = p.param;
                           for (auto& ch : n) if (ch == '-') ch = '_';
                           return n;
                         });

}  // namespace
}  // namespace laneway
