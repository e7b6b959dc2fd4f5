// long/: one 4096-token teacher-forced pass on arch-llama31-f16 per KV cache
// setting, last 16 rows against llama.cpp with the same setting.
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "kv/kv_cache.h"
#include "model/context.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "reference.h"
#include "support/testdata.h"

namespace laneway {
namespace {

struct LongCase {
  const char* k;
  const char* v;
  double max_mean_kl;
};

class EngineLong : public ::testing::TestWithParam<LongCase> {};

TEST_P(EngineLong, MatchesLlamaCppWithSameKvTypes) {
  const LongCase& c = GetParam();
  const std::string model_path = test::testdata_path("models/synthetic/arch-llama31-f16.gguf");
  LANEWAY_REQUIRE_FILE(model_path);
  std::vector<int32_t> tokens;
  {
    std::ifstream in(test::reference_path("long/long4096.tokens.txt"));
    int32_t t;
    while (in >> t) tokens.push_back(t);
  }
  ASSERT_EQ(tokens.size(), 4096u);
  const auto ref = test::load_f32(test::reference_path(std::string("long/long4096-llama31-k") + c.k + "-v" + c.v +
                                                       ".f32"));
  auto m = Model::load(model_path);
  ASSERT_TRUE(m.is_ok());
  ContextOptions o;
  o.n_ctx = 4096;
  o.n_threads = 2;
  o.type_k = *parse_kv_cache_type(c.k);
  o.type_v = *parse_kv_cache_type(c.v);
  auto ctx = ForwardContext::create(**m, o);
  ASSERT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  auto ours = teacher_forced_logits(**ctx, tokens, 0, 512, 16);
  ASSERT_TRUE(ours.is_ok()) << ours.status().to_string();
  auto cmp = compare_logits(ref, *ours, (*m)->hparams().n_vocab);
  EXPECT_EQ(cmp.rows, 16);
  std::printf("long4096 K %s V %s: mean KL %.3e max %.3e top-1 %.3f\n", c.k, c.v, cmp.mean_kl, cmp.max_kl, cmp.top1);
  EXPECT_LE(cmp.mean_kl, c.max_mean_kl);
}

INSTANTIATE_TEST_SUITE_P(KvTypes, EngineLong,
                         ::testing::Values(LongCase{"f16", "f16", 1e-4}, LongCase{"q8_0", "f16", 1e-4},
                                           LongCase{"q8_0", "q8_0", 1e-3}, LongCase{"q4_0", "q4_0", 1e-2}),
                         [](const auto& p) { return std::string("k_") + p.param.k + "_v_" + p.param.v; });

}  // namespace
}  // namespace laneway
