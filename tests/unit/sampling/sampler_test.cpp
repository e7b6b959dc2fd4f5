// Sampler: parameter checks, chains, seeded reproducibility and the
// statistics of many draws.
#include "sampling/sampler.h"

#include <algorithm>

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "sampling/stages.h"

namespace laneway {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Every truncating stage off: plain softmax(logits / T).
SamplingParams plain(float temperature, uint64_t seed = 1) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

Sampler make(const SamplingParams& params, int32_t n_vocab,
             std::span<const SamplerStage> chain = kDefaultSamplerChain) {
  Result<Sampler> s = Sampler::create(params, n_vocab, chain);
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return std::move(s).value();
}

int32_t sample_ok(Sampler& s, std::span<const float> logits) {
  Result<int32_t> t = s.sample(logits);
  EXPECT_TRUE(t.is_ok()) << t.status().to_string();
  return t.value_or(-1);
}

std::vector<double> frequencies(Sampler& s, const std::vector<float>& logits, int draws) {
  std::vector<double> freq(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) freq[static_cast<size_t>(sample_ok(s, logits))] += 1.0;
  for (double& f : freq) f /= draws;
  return freq;
}

std::vector<float> wide_logits(size_t n) {
  std::vector<float> logits(n);
  for (size_t i = 0; i < n; ++i) logits[i] = std::sin(static_cast<float>(i) * 0.37f) * 1.5f;
  return logits;
}

std::vector<int32_t> generate(Sampler& s, const std::vector<float>& logits, int n) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(sample_ok(s, logits));
    s.accept(out.back());
  }
  return out;
}

// ---- validation -------------------------------------------------------------

TEST(SamplerParams, DefaultsAreValid) {
  EXPECT_TRUE(validate_sampling_params(SamplingParams{}).is_ok());
}

TEST(SamplerParams, ErrorsNameTheField) {
  struct Case {
    void (*mutate)(SamplingParams&);
    const char* field;
  };
  const Case cases[] = {
      {[](SamplingParams& p) { p.temperature = -0.1f; }, "temperature"},
      {[](SamplingParams& p) { p.temperature = kNaN; }, "temperature"},
      {[](SamplingParams& p) { p.temperature = kInf; }, "temperature"},
      {[](SamplingParams& p) { p.top_k = -1; }, "top_k"},
      {[](SamplingParams& p) { p.top_p = 0.0f; }, "top_p"},
      {[](SamplingParams& p) { p.top_p = 1.5f; }, "top_p"},
      {[](SamplingParams& p) { p.top_p = kNaN; }, "top_p"},
      {[](SamplingParams& p) { p.min_p = -0.01f; }, "min_p"},
      {[](SamplingParams& p) { p.min_p = 1.01f; }, "min_p"},
      {[](SamplingParams& p) { p.repeat_penalty = 0.0f; }, "repeat_penalty"},
      {[](SamplingParams& p) { p.repeat_penalty = kInf; }, "repeat_penalty"},
      {[](SamplingParams& p) { p.presence_penalty = kNaN; }, "presence_penalty"},
      {[](SamplingParams& p) { p.frequency_penalty = -kInf; }, "frequency_penalty"},
      {[](SamplingParams& p) { p.penalty_last_n = -2; }, "penalty_last_n"},
  };
  for (const Case& c : cases) {
    SamplingParams p;
    c.mutate(p);
    Result<Sampler> s = Sampler::create(p, 10);
    ASSERT_FALSE(s.is_ok()) << c.field;
    EXPECT_EQ(s.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(s.status().message().find(c.field), std::string::npos) << s.status().message();
  }
}

TEST(SamplerParams, BoundaryValuesAreAccepted) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.top_p = 1.0f;
  p.min_p = 1.0f;
  p.top_k = 0;
  p.penalty_last_n = -1;
  p.presence_penalty = -2.0f;
  EXPECT_TRUE(Sampler::create(p, 1).is_ok());
}

TEST(SamplerParams, RejectsBadVocabAndChain) {
  EXPECT_EQ(Sampler::create(SamplingParams{}, 0).status().code(), StatusCode::invalid_argument);
  const SamplerStage twice[] = {SamplerStage::top_k, SamplerStage::temperature, SamplerStage::top_k};
  Result<Sampler> s = Sampler::create(SamplingParams{}, 10, twice);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("top_k"), std::string::npos);
}

TEST(Sampler, RejectsWrongLogitCount) {
  Sampler s = make(SamplingParams{}, 4);
  const std::vector<float> three = {1, 2, 3};
  EXPECT_EQ(s.sample(three).status().code(), StatusCode::invalid_argument);
}

// ---- greedy -----------------------------------------------------------------

TEST(Sampler, TemperatureZeroIsArgmaxWithTiesToLowestId) {
  const std::vector<float> logits = {1, 3, 3, 2};
  for (uint64_t seed : {1ull, 2ull, 12345ull}) {
    Sampler s = make(plain(0.0f, seed), 4);
    EXPECT_TRUE(s.is_greedy());
    for (int i = 0; i < 5; ++i) EXPECT_EQ(sample_ok(s, logits), 1);
  }
}

TEST(Sampler, GreedyIgnoresTruncationParamsButAppliesPenalties) {
  SamplingParams p = SamplingParams{};
  p.temperature = 0.0f;
  p.presence_penalty = 0.5f;
  Sampler s = make(p, 2);
  const std::vector<float> logits = {3.0f, 2.8f};
  EXPECT_EQ(sample_ok(s, logits), 0);
  s.accept(0);  // 3 - 0.5 = 2.5 < 2.8
  EXPECT_EQ(sample_ok(s, logits), 1);
}

// ---- distributions over many draws ----------------------------------------

TEST(Sampler, FrequenciesMatchSoftmax) {
  // softmax([1, 2, 3]) = 0.0900, 0.2447, 0.6652 (see stages_test). With
  // 200k draws the standard error of each frequency is below 0.0011; the
  // tolerance is ~5 of them. The seed is fixed, so this never flakes.
  Sampler s = make(plain(1.0f, 2024), 3);
  const std::vector<double> f = frequencies(s, {1, 2, 3}, 200000);
  EXPECT_NEAR(f[0], 0.0900306, 0.005);
  EXPECT_NEAR(f[1], 0.2447285, 0.005);
  EXPECT_NEAR(f[2], 0.6652410, 0.005);
}

TEST(Sampler, FrequenciesMatchTemperedSoftmax) {
  // T = 0.5: 0.015876, 0.117310, 0.866813.
  Sampler s = make(plain(0.5f, 99), 3);
  const std::vector<double> f = frequencies(s, {1, 2, 3}, 200000);
  EXPECT_NEAR(f[0], 0.0158762, 0.003);
  EXPECT_NEAR(f[1], 0.1173104, 0.005);
  EXPECT_NEAR(f[2], 0.8668133, 0.005);
}

TEST(Sampler, FrequenciesOfFullDefaultShapedChain) {
  // The hand-computed chain of stages_test Chain.HandComputedDefaultOrder:
  // only ids 0 and 1 survive, with 0.880797 and 0.119203.
  SamplingParams p;
  p.temperature = 0.5f;
  p.top_k = 4;
  p.top_p = 0.9f;
  p.min_p = 0.2f;
  p.seed = 7;
  Sampler s = make(p, 6);
  const std::vector<double> f = frequencies(s, {3, 2, 1, 0, -1, -5}, 100000);
  EXPECT_NEAR(f[0], 0.8807971, 0.006);
  EXPECT_NEAR(f[1], 0.1192029, 0.006);
  for (size_t i = 2; i < f.size(); ++i) EXPECT_EQ(f[i], 0.0) << "id " << i;
}

TEST(Sampler, ChainOrderMatters) {
  // Relative probability of id 1 is 0.1. min_p 0.2 before temperature drops
  // it; temperature 4 first flattens it to e^(ln 0.1 / 4) = 0.562 >= 0.2, so
  // it survives with p = 0.562 / 1.562 = 0.360.
  const std::vector<float> logits = {0.0f, std::log(0.1f)};
  SamplingParams p = plain(4.0f, 3);
  p.min_p = 0.2f;

  Sampler min_p_first = make(p, 2);
  EXPECT_EQ(frequencies(min_p_first, logits, 2000)[1], 0.0);

  const SamplerStage temperature_first[] = {SamplerStage::temperature, SamplerStage::min_p};
  Sampler temp_first = make(p, 2, temperature_first);
  EXPECT_NEAR(frequencies(temp_first, logits, 100000)[1], 0.3599350, 0.006);
}

TEST(Sampler, StagesLeftOutOfTheChainDoNotRun) {
  SamplingParams p = plain(1.0f, 5);
  p.top_k = 1;
  const SamplerStage no_top_k[] = {SamplerStage::temperature};
  Sampler s = make(p, 3, no_top_k);
  const std::vector<double> f = frequencies(s, {1, 2, 3}, 20000);
  EXPECT_GT(f[0], 0.05);  // top_k 1 would have made this 0
}

// ---- penalties through the window ------------------------------------------

TEST(Sampler, PenaltyWindowOnlySeesTheLastNTokens) {
  SamplingParams p = plain(0.0f);
  p.presence_penalty = 10.0f;
  p.penalty_last_n = 2;
  Sampler s = make(p, 3);
  const std::vector<float> logits = {5, 4, 3};
  s.accept(0);
  s.accept(1);  // window [0, 1]: both penalized
  EXPECT_EQ(sample_ok(s, logits), 2);
  s.accept(2);  // window [1, 2]: 0 forgotten
  EXPECT_EQ(sample_ok(s, logits), 0);
}

TEST(Sampler, PenaltiesOffWhenNotInChainOrWindowZero) {
  SamplingParams p = plain(0.0f);
  p.presence_penalty = 10.0f;
  p.penalty_last_n = 0;
  Sampler off = make(p, 2);
  off.accept(0);
  EXPECT_EQ(sample_ok(off, std::vector<float>{1, 0}), 0);

  p.penalty_last_n = 64;
  const SamplerStage no_penalties[] = {SamplerStage::temperature};
  Sampler absent = make(p, 2, no_penalties);
  absent.accept(0);
  EXPECT_EQ(sample_ok(absent, std::vector<float>{1, 0}), 0);
}

TEST(Sampler, FrequencyPenaltyReducesRepeats) {
  // Flat logits over 8 tokens; a strong frequency penalty over the whole
  // generation makes the draw avoid any token it has already produced.
  SamplingParams p = plain(1.0f, 11);
  p.frequency_penalty = 50.0f;
  p.penalty_last_n = -1;
  Sampler s = make(p, 8);
  std::vector<int32_t> seq = generate(s, std::vector<float>(8, 0.0f), 8);
  std::sort(seq.begin(), seq.end());
  EXPECT_EQ(seq, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

// ---- seeds ------------------------------------------------------------------

TEST(Sampler, PinnedSequenceForSeed42) {
  // Draws of SamplerRng(42): 0.0839, 0.3790, 0.6800, 0.9247, 0.9918, 0.7697,
  // 0.7193, 0.8500, 0.7614, 0.5833, 0.6825, 0.2907. Against the running sums
  // of softmax([1, 2, 3]) (0.0900, 0.3348, 1) they pick the tokens below, on
  // every platform.
  Sampler s = make(plain(1.0f, 42), 3);
  const std::vector<float> logits = {1, 2, 3};
  std::vector<int32_t> got;
  for (int i = 0; i < 12; ++i) got.push_back(sample_ok(s, logits));
  EXPECT_EQ(got, (std::vector<int32_t>{0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1}));
}

TEST(Sampler, SameSeedSameTokensDifferentSeedsDiffer) {
  const std::vector<float> logits = wide_logits(1000);
  SamplingParams p;  // default chain
  p.temperature = 1.5f;
  p.top_k = 200;
  p.repeat_penalty = 1.1f;
  p.seed = 77;
  Sampler a = make(p, 1000);
  Sampler b = make(p, 1000);
  const std::vector<int32_t> seq_a = generate(a, logits, 200);
  EXPECT_EQ(generate(b, logits, 200), seq_a);

  p.seed = 78;
  Sampler c = make(p, 1000);
  EXPECT_NE(generate(c, logits, 200), seq_a);
}

TEST(Sampler, ResetAndCopiesReproduceTheStream) {
  const std::vector<float> logits = wide_logits(500);
  SamplingParams p;
  p.temperature = 2.0f;
  p.top_k = 0;
  p.seed = 9;
  Sampler s = make(p, 500);
  const std::vector<int32_t> first = generate(s, logits, 50);
  s.reset();
  EXPECT_EQ(generate(s, logits, 50), first);

  s.reset();
  generate(s, logits, 20);
  Sampler copy = s;  // forks mid-stream
  EXPECT_EQ(generate(copy, logits, 30), generate(s, logits, 30));
}

// ---- the fused top-k path equals the stages run one by one -----------------

// Reference: the stages applied to the whole vocabulary, in chain order.
int32_t reference_step(const SamplingParams& p, std::span<const SamplerStage> chain,
                       const TokenHistory& history, SamplerRng& rng,
                       const std::vector<float>& logits) {
  Candidates c;
  c.assign(logits);
  auto run = [&](SamplerStage stage) {
    switch (stage) {
      case SamplerStage::penalties:
        apply_penalties(c, history.counts(), p.repeat_penalty, p.presence_penalty,
                        p.frequency_penalty);
        break;
      case SamplerStage::top_k: apply_top_k(c, p.top_k); break;
      case SamplerStage::top_p: apply_top_p(c, p.top_p); break;
      case SamplerStage::min_p: apply_min_p(c, p.min_p); break;
      case SamplerStage::temperature: apply_temperature(c, p.temperature); break;
    }
  };
  if (p.temperature <= 0.0f) {
    if (std::find(chain.begin(), chain.end(), SamplerStage::penalties) != chain.end()) {
      run(SamplerStage::penalties);
    }
    return pick_greedy(c);
  }
  for (SamplerStage stage : chain) run(stage);
  return pick_with_uniform(c, rng.next_uniform());
}

void expect_matches_reference(const SamplingParams& p, std::span<const SamplerStage> chain) {
  // Two favourites that the penalties keep pushing down and a wide field.
  std::vector<float> logits = wide_logits(20000);
  logits[123] = 4.0f;
  logits[19999] = 4.0f;
  logits[5000] = std::numeric_limits<float>::quiet_NaN();
  Sampler s = make(p, 20000, chain);
  TokenHistory history(p.penalty_last_n);
  SamplerRng rng(p.seed);
  for (int step = 0; step < 300; ++step) {
    const int32_t expected = reference_step(p, chain, history, rng, logits);
    const int32_t got = sample_ok(s, logits);
    ASSERT_EQ(got, expected) << "step " << step;
    s.accept(got);
    history.accept(got);
  }
}

TEST(Sampler, FusedTopKMatchesStageByStage) {
  SamplingParams p;
  p.temperature = 1.2f;
  p.repeat_penalty = 1.3f;
  p.presence_penalty = 0.4f;
  p.frequency_penalty = 0.3f;
  p.penalty_last_n = 64;
  p.seed = 31;
  expect_matches_reference(p, kDefaultSamplerChain);

  p.penalty_last_n = -1;
  p.top_k = 7;
  expect_matches_reference(p, kDefaultSamplerChain);

  // Penalties after top-k: the selection runs on raw logits.
  const SamplerStage top_k_first[] = {SamplerStage::top_k, SamplerStage::penalties,
                                      SamplerStage::temperature};
  expect_matches_reference(p, top_k_first);
}

TEST(Sampler, FusedGreedyMatchesStageByStage) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.presence_penalty = 0.7f;
  p.frequency_penalty = 0.2f;
  p.penalty_last_n = 32;
  expect_matches_reference(p, kDefaultSamplerChain);
  p.repeat_penalty = 0.8f;  // < 1 rewards repeats
  p.presence_penalty = -0.5f;
  expect_matches_reference(p, kDefaultSamplerChain);
}

TEST(Sampler, FullVocabularyPathMatchesStageByStage) {
  SamplingParams p;
  p.top_k = 0;  // no fused selection; top-p ranks the whole vocabulary
  p.top_p = 0.8f;
  p.temperature = 0.9f;
  p.frequency_penalty = 0.5f;
  p.penalty_last_n = -1;
  p.seed = 8;
  expect_matches_reference(p, kDefaultSamplerChain);
}

// ---- edge cases -------------------------------------------------------------

TEST(Sampler, OnlyOneFiniteLogit) {
  std::vector<float> logits(1000, -kInf);
  logits[417] = -3.0f;
  logits[3] = kNaN;
  for (float t : {0.0f, 0.7f, 5.0f}) {
    SamplingParams p;
    p.temperature = t;
    Sampler s = make(p, 1000);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(sample_ok(s, logits), 417) << "T " << t;
  }
}

TEST(Sampler, AllNaNOrNegativeInfinityIsAnError) {
  for (float t : {0.0f, 1.0f}) {
    SamplingParams p;
    p.temperature = t;
    Sampler s = make(p, 3);
    Result<int32_t> r = s.sample(std::vector<float>{kNaN, -kInf, kNaN});
    ASSERT_FALSE(r.is_ok());
    EXPECT_EQ(r.status().code(), StatusCode::internal);
  }
}

TEST(Sampler, PositiveInfinityWins) {
  Sampler s = make(SamplingParams{}, 3);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(sample_ok(s, std::vector<float>{100, kInf, 5}), 1);
}

TEST(Sampler, VocabularyOfOne) {
  for (float t : {0.0f, 1.0f}) {
    SamplingParams p;
    p.temperature = t;
    p.repeat_penalty = 1.3f;
    Sampler s = make(p, 1);
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(sample_ok(s, std::vector<float>{-2.0f}), 0);
      s.accept(0);
    }
  }
}

TEST(Sampler, TopKLargerThanVocabAndZeroAreOff) {
  for (int32_t k : {0, 3, 1000000}) {
    SamplingParams p = plain(1.0f, 4);
    p.top_k = k;
    Sampler s = make(p, 3);
    const std::vector<double> f = frequencies(s, {1, 2, 3}, 50000);
    EXPECT_NEAR(f[0], 0.0900306, 0.006) << "top_k " << k;
  }
}

TEST(Sampler, LargeVocabularyDefaultChain) {
  // A 128256-entry vocabulary (Llama 3) with one clear favourite.
  std::vector<float> logits = wide_logits(128256);
  logits[128000] = 40.0f;
  Sampler s = make(SamplingParams{}, 128256);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(sample_ok(s, logits), 128000);
}

}  // namespace
}  // namespace laneway
