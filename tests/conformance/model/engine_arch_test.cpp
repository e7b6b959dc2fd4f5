// The architectures beside llama (qwen2, gemma2, granite, llama with
// experts, llama with YaRN rope scaling) on the CPU against
// ../shared/reference: teacher-forced KL and top-1 (README tolerances for
// these files), and greedy tokens for the first 16 steps of every prompt
// on the f16 files.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fidelity.h"
#include "model/context.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "plan/memory_plan.h"
#include "reference.h"
#include "support/testdata.h"

namespace laneway {
namespace {

using test::Engine;

struct ArchCase {
  const char* name;       // models/synthetic/<name>.gguf
  const char* reference;  // "llamacpp" or "ikllama"
  double max_mean_kl;
  double min_top1;
  bool greedy;            // f16 files: greedy tokens for 16 steps
  // Mixtures of experts: rows where a token went to another expert than in
  // the reference (a router near-tie broken the other way by rounding; KL
  // above 0.1) are counted, at most this many, and left out of the mean.
  int max_routing_flips = 0;
};

class EngineArch : public ::testing::TestWithParam<ArchCase> {};

// Greedy tokens against the reference's for the first 16 steps. A step may
// differ where the reference's two best logits are within 1e-4 (a tie
// either side may break); the rest of that prompt is then not compared.
void expect_greedy_prefix(Engine& e, const test::ReferencePrompt& p, const char* name) {
  constexpr int64_t kSteps = 16;
  const int64_t steps = std::min<int64_t>(kSteps, static_cast<int64_t>(p.greedy_tokens.size()));
  auto gen = greedy_generate(*e.ctx, p.prompt_tokens, steps, {});
  ASSERT_TRUE(gen.is_ok()) << gen.status().to_string();
  for (int64_t s = 0; s < steps && s < static_cast<int64_t>(gen->size()); ++s) {
    if ((*gen)[s] == p.greedy_tokens[s]) continue;
    const int64_t row = static_cast<int64_t>(p.prompt_tokens.size()) - 1 + s;
    std::vector<float> r(p.logits.begin() + row * p.n_vocab, p.logits.begin() + (row + 1) * p.n_vocab);
    std::partial_sort(r.begin(), r.begin() + 2, r.end(), std::greater<>());
    const float gap = r[0] - r[1];
    std::printf("%s: prompt \"%s\" step %lld: laneway %d, reference %d (reference's top-2 gap %.2e)\n", name,
                p.prompt.c_str(), static_cast<long long>(s), (*gen)[s], p.greedy_tokens[s], gap);
    EXPECT_LT(gap, 1e-4) << name << ": greedy token differs at step " << s << " of \"" << p.prompt << "\"";
    return;
  }
}

TEST_P(EngineArch, MatchesReference) {
  const ArchCase& c = GetParam();
  const std::string model = test::testdata_path(std::string("models/synthetic/") + c.name + ".gguf");
  LANEWAY_REQUIRE_FILE(model);
  const std::string base = test::reference_path(std::string("synthetic/") + c.name + "." + c.reference);
  auto ref = test::load_reference(base + ".jsonl", base + ".f32");
  ASSERT_FALSE(ref.empty());
  Engine e = test::load(model);
  ASSERT_TRUE(e.ctx);
  const test::RoutedFidelity f = test::evaluate_with_routing_flips(e, ref, c.max_routing_flips > 0);
  std::printf("%s: vs %s mean KL %.3e (all rows %.3e) max %.3e top-1 %.4f over %lld rows\n", c.name,
              c.reference, f.mean_kl, f.mean_kl_all, f.max_kl, f.top1, static_cast<long long>(f.rows));
  if (!f.flips.empty()) std::printf("%s: rows routed to other experts:%s\n", c.name, f.flips.c_str());
  RecordProperty("mean_kl", std::to_string(f.mean_kl));
  EXPECT_LE(f.mean_kl, c.max_mean_kl);
  EXPECT_GE(f.top1, c.min_top1);
  EXPECT_LE(f.flipped, c.max_routing_flips) << f.flips;
  if (c.greedy) {
    for (const auto& p : ref) expect_greedy_prefix(e, p, c.name);
  }
}

// arch-granite-f16 is not in this list: its ik_llama.cpp reference does not
// follow from the file's block weights. Its logits are exactly W_out h for
// some h (least squares over the 512 logits leaves no residual, and |h| is
// the 1/8 the logit scale predicts), but the residual stream recovered from
// h is uncorrelated (|cos| < 0.04) with every forward pass over the file's
// blocks at row 0, where attention and rope play no part: with the four
// multipliers on, off or inverted, the FFN's gate and up swapped, or a tied
// output. Laneway's follows the model card (x 12 embeddings, so its final
// state is 0.96 the token's embedding). The yarn file, from the same
// generator and the same ik_llama.cpp build, agrees to 3.8e-6.
// GraniteGraph below checks where the multipliers go.
INSTANTIATE_TEST_SUITE_P(
    Architectures, EngineArch,
    ::testing::Values(ArchCase{"arch-qwen2-f16", "llamacpp", 1e-4, 0.97, true},
                      ArchCase{"arch-qwen2-Q8_0", "llamacpp", 3e-3, 0.97, false},
                      ArchCase{"arch-gemma2-f16", "llamacpp", 1e-4, 0.97, true},
                      ArchCase{"arch-gemma2-Q8_0", "llamacpp", 3e-3, 0.97, false},
                      ArchCase{"arch-moe-f16", "llamacpp", 1e-4, 0.97, true},
                      // Q8_0 with experts: ~1% of rows route differently (see
                      // max_routing_flips); top-1 against llama.cpp is 0.95-0.97 for
                      // every Q8_0 file, llama's included (engine_reference_test).
                      ArchCase{"arch-moe-Q8_0", "llamacpp", 3e-3, 0.95, false, 4},
                      ArchCase{"arch-yarn-f16", "ikllama", 1e-4, 0.97, true}),
    [](const auto& p) {
      std::string n = p.param.name;
      for (auto& ch : n) if (ch == '-') ch = '_';
      return n;
    });

TEST(GraniteGraph, FourMultipliersWhereTheModelCardPutsThem) {
  const std::string model = test::testdata_path("models/synthetic/arch-granite-f16.gguf");
  LANEWAY_REQUIRE_FILE(model);
  Engine e = test::load(model);
  ASSERT_TRUE(e.ctx);
  const ModelHparams& hp = e.model->hparams();
  EXPECT_FLOAT_EQ(hp.embedding_scale, 12.0f);
  EXPECT_FLOAT_EQ(hp.residual_scale, 0.22f);
  EXPECT_FLOAT_EQ(hp.attention_scale, 0.03125f);
  EXPECT_FLOAT_EQ(hp.logit_scale, 8.0f);
  int embedding = 0, residual = 0, logit = 0, attention = 0;
  for (const Op& op : e.ctx->graph().ops()) {
    if (op.kind == OpKind::scale && op.layer == kInputLayer && op.value == 12.0f) ++embedding;
    if (op.kind == OpKind::scale && op.layer >= 0 && op.layer < hp.n_layer && op.value == 0.22f) ++residual;
    if (op.kind == OpKind::scale && op.layer == hp.n_layer && op.value == 0.125f) ++logit;
    if (op.kind == OpKind::attention && op.attn.scale == 0.03125f) ++attention;
  }
  EXPECT_EQ(embedding, 1);
  EXPECT_EQ(residual, 2 * hp.n_layer);  // each block's attention and feed-forward branch
  EXPECT_EQ(logit, 1);
  EXPECT_EQ(attention, hp.n_layer);
}

// gemma2's sliding-window blocks keep a ring of their window and a chunk
// (window 16, n_batch 8: 128 cells per sequence), not the whole context: the
// logits of 300 tokens (past the ring's end twice) are bit-identical to
// the whole-context layout's (--swa-full), alone, in chunks of 5, and
// batched with another sequence; the KV rows shrink by what the 13 windowed
// blocks no longer keep; a chat may rewind within the ring and gets the
// same logits again, and not beyond it.
TEST(Gemma2Window, RingGivesTheWholeContextsLogitsInLessMemory) {
  const std::string path = test::testdata_path("models/synthetic/arch-gemma2-f16.gguf");
  LANEWAY_REQUIRE_FILE(path);
  auto m = Model::load(path);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  ASSERT_EQ((*m)->hparams().sliding_window, 16);
  ASSERT_EQ((*m)->hparams().n_layer, 26);
  auto make = [&](bool swa_full) {
    ContextOptions o;
    o.n_ctx = 2 * 512;
    o.n_seq = 2;
    o.n_batch = 8;
    o.n_threads = 2;
    o.swa_full = swa_full;
    auto c = ForwardContext::create(**m, o);
    EXPECT_TRUE(c.is_ok()) << c.status().to_string();
    return c.is_ok() ? std::move(c).value() : nullptr;
  };
  auto ring = make(false);
  auto whole = make(true);
  ASSERT_TRUE(ring && whole);
  EXPECT_EQ(ring->kv().ring_cells(), 128);
  EXPECT_EQ(whole->kv().ring_cells(), 0);
  // 13 blocks of 512 cells and 13 of 128, against 26 of 512: 5/8.
  EXPECT_EQ(ring->kv_bytes() * 8, whole->kv_bytes() * 5);
  // The planner bills what each layer keeps.
  auto gguf = GgufModel::open(path);
  ASSERT_TRUE(gguf.is_ok());
  auto planned = plan_model_from_gguf(*gguf);
  ASSERT_TRUE(planned.is_ok()) << planned.status().to_string();
  PlanSettings settings;
  static_cast<ContextOptions&>(settings) = ring->options();
  EXPECT_EQ(plan_memory(*planned, settings)->kv_bytes, ring->kv_bytes());
  settings.swa_full = true;
  EXPECT_EQ(plan_memory(*planned, settings)->kv_bytes, whole->kv_bytes());

  const int64_t V = (*m)->hparams().n_vocab;
  std::vector<int32_t> tokens(300), other(300);
  for (size_t i = 0; i < tokens.size(); ++i) {
    tokens[i] = static_cast<int32_t>(3 + (i * 7919) % 509);
    other[i] = static_cast<int32_t>(3 + (i * 104729 + 11) % 509);
  }
  auto expected = teacher_forced_logits(*whole, tokens);
  ASSERT_TRUE(expected.is_ok()) << expected.status().to_string();
  auto alone = teacher_forced_logits(*ring, tokens);
  ASSERT_TRUE(alone.is_ok()) << alone.status().to_string();
  EXPECT_EQ(std::memcmp(expected->data(), alone->data(), expected->size() * 4), 0) << "ring, alone";
  auto chunked = teacher_forced_logits(*ring, tokens, /*seq=*/1, /*chunk_tokens=*/5);
  ASSERT_TRUE(chunked.is_ok()) << chunked.status().to_string();
  EXPECT_EQ(std::memcmp(expected->data(), chunked->data(), expected->size() * 4), 0) << "ring, chunks of 5";

  ring->kv().clear(0);
  ring->kv().clear(1);
  ForwardBatch b;
  for (size_t i = 0; i < tokens.size(); ++i) {
    b.add(other[i], static_cast<int64_t>(i), 0, false);
    b.add(tokens[i], static_cast<int64_t>(i), 1, true);
  }
  ASSERT_TRUE(ring->decode(b).is_ok());
  std::vector<float> batched(expected->size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::memcpy(batched.data() + i * static_cast<size_t>(V), ring->logits(static_cast<int64_t>(i)).data(),
                static_cast<size_t>(V) * 4);
  }
  EXPECT_EQ(std::memcmp(expected->data(), batched.data(), expected->size() * 4), 0) << "ring, batched";

  // Positions that spread wider in one pass than a ring holds are refused
  // (a window of 16 and 8 positions fit in 128 cells: 300 and 500 do not).
  ForwardBatch spread;
  spread.add(tokens[0], 300, 0, true);
  spread.add(tokens[1], 500, 0, true);
  const Status refused = ring->decode(spread);
  EXPECT_FALSE(refused.is_ok());
  EXPECT_NE(refused.message().find("--swa-full"), std::string::npos) << refused.to_string();
  EXPECT_EQ(ring->kv().used(0), 300);  // nothing of the refused batch stayed

  // Sequence 1 holds 0..299; its ring 172..299. Rewinding 113 tokens (to
  // an end at 186: the next token's window starts at 172) is possible, 114 not.
  EXPECT_TRUE(ring->kv().can_truncate(1, 113));
  EXPECT_FALSE(ring->kv().can_truncate(1, 114));
  EXPECT_TRUE(whole->kv().can_truncate(0, 290));
  ring->kv().truncate(1, 40);
  ForwardBatch again;
  for (size_t i = 260; i < tokens.size(); ++i) again.add(tokens[i], static_cast<int64_t>(i), 1, true);
  ASSERT_TRUE(ring->decode(again).is_ok());
  for (size_t i = 260; i < tokens.size(); ++i) {
    ASSERT_EQ(std::memcmp(expected->data() + i * static_cast<size_t>(V), ring->logits(static_cast<int64_t>(i - 260)).data(),
                          static_cast<size_t>(V) * 4),
              0)
        << "after the rewind, position " << i;
  }
}

// A llama file declaring YaRN (factor 4 over 1024) runs past its original
// context: a prompt of 1,500 tokens, then tokens at positions up to its
// trained 4,096, all logits finite.
TEST(YarnModel, RunsBeyondItsOriginalContext) {
  const std::string model = test::testdata_path("models/synthetic/arch-yarn-f16.gguf");
  LANEWAY_REQUIRE_FILE(model);
  ContextOptions o;
  o.n_ctx = 4096;
  Engine e = test::load(model, o);
  ASSERT_TRUE(e.ctx);
  EXPECT_EQ(e.model->hparams().rope_scaling, RopeScaling::yarn);
  std::vector<int32_t> tokens(1500);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(3 + (i * 7919) % 509);
  auto rows = teacher_forced_logits(*e.ctx, tokens, 0, 0, /*last_k=*/8);
  ASSERT_TRUE(rows.is_ok()) << rows.status().to_string();
  for (float v : *rows) ASSERT_TRUE(std::isfinite(v));
  ForwardBatch b;
  for (int64_t pos : {2047, 3000, 4095}) b.add(42, pos, 0, true);
  ASSERT_TRUE(e.ctx->decode(b).is_ok());
  for (int64_t i = 0; i < 3; ++i) {
    for (float v : e.ctx->logits(i)) ASSERT_TRUE(std::isfinite(v));
  }
}

}  // namespace
}  // namespace laneway
