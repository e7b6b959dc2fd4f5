// The CPU engine against ../shared/reference: KL(reference || laneway) over
// teacher-forced rows, top-1 agreement, and greedy tokens (README tolerances).
#include <string>

#include <gtest/gtest.h>

#include "model/context.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "fidelity.h"
#include "reference.h"
#include "support/testdata.h"

namespace laneway {
namespace {

using test::Engine;
using test::Overall;
using test::evaluate;
using test::load;


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
