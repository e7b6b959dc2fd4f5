// The architectures beside llama (qwen2, gemma2, granite, llama with
// experts, llama with YaRN rope scaling) on the CPU against
// ../shared/reference: teacher-forced KL and top-1 (README tolerances for
// these files), and greedy tokens for the first 16 steps of every prompt
// on the f16 files.
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
  double kl_sum = 0, kl_all = 0, max_kl = 0, agree = 0;
  int64_t rows = 0, kept = 0;
  std::string flips;
  for (const auto& p : ref) {
    auto ours = teacher_forced_logits(*e.ctx, p.forced_tokens());
    ASSERT_TRUE(ours.is_ok()) << ours.status().to_string();
    const LogitComparison cmp = compare_logits(p.logits, *ours, p.n_vocab);
    ASSERT_EQ(cmp.rows * p.n_vocab, static_cast<int64_t>(p.logits.size()));
    agree += cmp.top1 * static_cast<double>(cmp.rows);
    for (size_t r = 0; r < cmp.row_kl.size(); ++r) {
      const double kl = cmp.row_kl[r];
      kl_all += kl;
      max_kl = std::max(max_kl, kl);
      ++rows;
      if (c.max_routing_flips > 0 && kl > 0.1) {
        flips += " \"" + p.prompt.substr(0, 12) + "...\" row " + std::to_string(r) + " (KL " + std::to_string(kl) + ")";
        continue;
      }
      kl_sum += kl;
      ++kept;
    }
  }
  const double mean_kl = kl_sum / static_cast<double>(kept);
  const double top1 = agree / static_cast<double>(rows);
  std::printf("%s: vs %s mean KL %.3e (all rows %.3e) max %.3e top-1 %.4f over %lld rows\n", c.name, c.reference,
              mean_kl, kl_all / static_cast<double>(rows), max_kl, top1, static_cast<long long>(rows));
  if (!flips.empty()) std::printf("%s: rows routed to other experts:%s\n", c.name, flips.c_str());
  RecordProperty("mean_kl", std::to_string(mean_kl));
  EXPECT_LE(mean_kl, c.max_mean_kl);
  EXPECT_GE(top1, c.min_top1);
  EXPECT_LE(rows - kept, c.max_routing_flips) << flips;
  if (c.greedy) {
    for (const auto& p : ref) expect_greedy_prefix(e, p, c.name);
  }
}

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

}  // namespace
}  // namespace laneway
