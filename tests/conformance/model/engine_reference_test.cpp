// The CPU engine against ../shared/reference: KL(reference || laneway) over
// teacher-forced rows, top-1 agreement, and greedy tokens (README tolerances).
#include <string>

#include <gtest/gtest.h>

#include "model/context.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "reference.h"
#include "support/testdata.h"

namespace laneway {
namespace {

struct Engine {
  std::unique_ptr<Model> model;
  std::unique_ptr<ForwardContext> ctx;
};

Engine load(const std::string& path, ContextOptions opts = {}) {
  Engine e;
  auto m = Model::load(path);
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  if (!m.is_ok()) return e;
  e.model = std::move(m).value();
  if (opts.n_ctx == 0) opts.n_ctx = 2048;
  if (opts.n_threads == 0) opts.n_threads = 2;
  auto c = ForwardContext::create(*e.model, opts);
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  if (c.is_ok()) e.ctx = std::move(c).value();
  return e;
}

struct Overall {
  double mean_kl = 0, max_kl = 0, top1 = 0;
  int64_t rows = 0;
  bool greedy_match = true;
};

Overall evaluate(Engine& e, const std::vector<test::ReferencePrompt>& ref_llamacpp,
                 const std::vector<float>* exact_rows, Overall* vs_exact, bool check_greedy) {
  Overall o;
  Overall x;
  size_t exact_offset = 0;
  const int64_t n_vocab = e.model->hparams().n_vocab;
  int64_t agree = 0, agree_x = 0;
  for (const auto& p : ref_llamacpp) {
    auto ours = teacher_forced_logits(*e.ctx, p.forced_tokens());
    EXPECT_TRUE(ours.is_ok()) << ours.status().to_string();
    if (!ours.is_ok()) return o;
    auto c = compare_logits(p.logits, *ours, n_vocab);
    EXPECT_EQ(c.rows * n_vocab, static_cast<int64_t>(p.logits.size()));
    o.mean_kl += c.mean_kl * double(c.rows);
    o.max_kl = std::max(o.max_kl, c.max_kl);
    agree += static_cast<int64_t>(c.top1 * double(c.rows) + 0.5);
    o.rows += c.rows;
    if (exact_rows != nullptr) {
      std::span<const float> ex(exact_rows->data() + exact_offset, p.logits.size());
      exact_offset += p.logits.size();
      auto cx = compare_logits(ex, *ours, n_vocab);
      x.mean_kl += cx.mean_kl * double(cx.rows);
      x.max_kl = std::max(x.max_kl, cx.max_kl);
      agree_x += static_cast<int64_t>(cx.top1 * double(cx.rows) + 0.5);
      x.rows += cx.rows;
    }
    if (check_greedy) {
      auto gen = greedy_generate(*e.ctx, p.prompt_tokens, static_cast<int64_t>(p.greedy_tokens.size()), {{2}});
      EXPECT_TRUE(gen.is_ok());
      if (!gen.is_ok() || *gen != p.greedy_tokens) {
        o.greedy_match = false;
        ADD_FAILURE() << "greedy tokens differ for prompt \"" << p.prompt << "\"";
      }
    }
  }
  o.mean_kl /= double(o.rows);
  o.top1 = double(agree) / double(o.rows);
  if (vs_exact != nullptr && x.rows > 0) {
    x.mean_kl /= double(x.rows);
    x.top1 = double(agree_x) / double(x.rows);
    *vs_exact = x;
  }
  return o;
}

TEST(EngineReference, Stories260KGreedyAndKl) {
  const std::string model = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(model);
  auto ref = test::load_reference(test::reference_path("stories260K/llamacpp.jsonl"),
                                  test::reference_path("stories260K/llamacpp.f32"));
  ASSERT_EQ(ref.size(), 8u);
  Engine e = load(model);
  ASSERT_TRUE(e.ctx);
  Overall o = evaluate(e, ref, nullptr, nullptr, /*check_greedy=*/true);
  EXPECT_TRUE(o.greedy_match);
  EXPECT_LE(o.mean_kl, 1e-5) << "max KL " << o.max_kl;
  RecordProperty("mean_kl", std::to_string(o.mean_kl));
  std::printf("stories260K: rows %lld mean KL %.3e max KL %.3e top-1 %.4f\n", (long long)o.rows, o.mean_kl, o.max_kl,
              o.top1);
}

struct SyntheticCase {
  const char* name;
  double max_mean_kl;
  double min_top1;
};

class EngineSynthetic : public ::testing::TestWithParam<SyntheticCase> {};

TEST_P(EngineSynthetic, MatchesBothReferences) {
  const SyntheticCase& c = GetParam();
  const std::string model = test::testdata_path(std::string("models/synthetic/") + c.name + ".gguf");
  LANEWAY_REQUIRE_FILE(model);
  const std::string base = test::reference_path(std::string("synthetic/") + c.name);
  auto ref = test::load_reference(base + ".llamacpp.jsonl", base + ".llamacpp.f32");
  auto exact = test::load_f32(base + ".exact.f32");
  Engine e = load(model);
  ASSERT_TRUE(e.ctx);
  Overall x;
  Overall o = evaluate(e, ref, &exact, &x, /*check_greedy=*/false);
  std::printf("%s: vs llama.cpp mean KL %.3e max %.3e top-1 %.4f | vs exact mean KL %.3e max %.3e top-1 %.4f\n",
              c.name, o.mean_kl, o.max_kl, o.top1, x.mean_kl, x.max_kl, x.top1);
  EXPECT_LE(o.mean_kl, c.max_mean_kl);
  EXPECT_LE(x.mean_kl, c.max_mean_kl);
  EXPECT_GE(o.top1, c.min_top1);
  EXPECT_GE(x.top1, c.min_top1);
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, EngineSynthetic,
    ::testing::Values(SyntheticCase{"tiny-f16", 1e-4, 0.90}, SyntheticCase{"tiny-Q8_0", 6e-3, 0.90},
                      SyntheticCase{"tiny-Q4_0", 6e-3, 0.90}, SyntheticCase{"tiny-Q4_1", 6e-3, 0.90},
                      SyntheticCase{"tiny-Q5_0", 6e-3, 0.90}, SyntheticCase{"tiny-Q5_1", 6e-3, 0.90},
                      SyntheticCase{"tiny-Q2_K", 6e-3, 0.90}, SyntheticCase{"tiny-Q3_K_M", 6e-3, 0.90},
                      SyntheticCase{"tiny-Q4_K_M", 6e-3, 0.90}, SyntheticCase{"tiny-Q5_K_M", 6e-3, 0.90},
                      SyntheticCase{"tiny-Q6_K", 6e-3, 0.90}, SyntheticCase{"arch-llama31-f16", 1e-4, 0.90},
                      SyntheticCase{"arch-llama31-Q8_0", 6e-3, 0.90}),
    [](const auto& p) {
      std::string n = p.param.name;
      for (auto& ch : n) if (ch == '-') ch = '_';
      return n;
    });

// A reference shifted by one row, or another model's logits, must be far off:
// the comparison can fail.
TEST(EngineReference, ComparisonDetectsWrongReferences) {
  const std::string model = test::testdata_path("models/synthetic/tiny-f16.gguf");
  LANEWAY_REQUIRE_FILE(model);
  const std::string base = test::reference_path("synthetic/tiny-f16");
  auto ref = test::load_reference(base + ".llamacpp.jsonl", base + ".llamacpp.f32");
  // stories260K has the same 512-token vocabulary but is another model.
  auto other = test::load_reference(test::reference_path("stories260K/llamacpp.jsonl"),
                                    test::reference_path("stories260K/llamacpp.f32"));
  Engine e = load(model);
  ASSERT_TRUE(e.ctx);
  const auto& p = ref[0];
  auto ours = teacher_forced_logits(*e.ctx, p.forced_tokens());
  ASSERT_TRUE(ours.is_ok());
  const int64_t V = p.n_vocab;
  std::vector<float> shifted(p.logits.begin() + V, p.logits.end());
  auto c_shift = compare_logits(shifted, std::span<const float>(*ours).first(shifted.size()), V);
  EXPECT_GT(c_shift.mean_kl, 1e-1);
  auto c_same = compare_logits(p.logits, *ours, V);
  EXPECT_LT(c_same.mean_kl, 1e-4);
  const size_t n = std::min(other[0].logits.size(), ours->size());
  auto c_other = compare_logits(std::span<const float>(other[0].logits).first(n),
                                std::span<const float>(*ours).first(n), V);
  EXPECT_GT(c_other.mean_kl, 1e-1);
  EXPECT_LT(c_other.top1, 0.5);
}

}  // namespace
}  // namespace laneway
