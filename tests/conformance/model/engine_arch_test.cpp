// The architectures beside llama (qwen2, gemma2, granite, llama with
// experts, llama with YaRN rope scaling) on the CPU against
// ../shared/reference: teacher-forced KL and top-1 (README tolerances for
// these files), and greedy tokens for the first 16 steps of every prompt
// on the f16 files.
#include <cmath>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "fidelity.h"
#include "model/context.h"
#include "model/evaluate.h"
#include "model/model.h"
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
