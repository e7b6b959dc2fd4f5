// Each stage against distributions worked out by hand on small fixed logits.
#include "sampling/stages.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

namespace laneway {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

Candidates load(const std::vector<float>& logits) {
  Candidates c;
  c.assign(logits);
  return c;
}

std::vector<int32_t> ids(const Candidates& c) {
  std::vector<int32_t> out;
  for (const TokenCandidate& t : c.items()) out.push_back(t.id);
  return out;
}

float p_of(const Candidates& c, int32_t id) {
  for (const TokenCandidate& t : c.items()) {
    if (t.id == id) return t.p;
  }
  return -1.0f;
}

using Ids = std::vector<int32_t>;

// ---- softmax and temperature ------------------------------------------------

TEST(Softmax, OneTwoThree) {
  // exp(x - 3) for x = 1, 2, 3: e^-2 = 0.135335, e^-1 = 0.367879, 1;
  // sum 1.503215 -> 0.090031, 0.244728, 0.665241.
  Candidates c = load({1, 2, 3});
  softmax_candidates(c);
  EXPECT_NEAR(c[0].p, 0.0900306, 1e-6);
  EXPECT_NEAR(c[1].p, 0.2447285, 1e-6);
  EXPECT_NEAR(c[2].p, 0.6652410, 1e-6);
}

TEST(Temperature, HalfSharpensOneTwoThree) {
  // T = 0.5: logits become 2, 4, 6; exp(x - 6) = e^-4 = 0.018316,
  // e^-2 = 0.135335, 1; sum 1.153651 -> 0.015876, 0.117310, 0.866813.
  Candidates c = load({1, 2, 3});
  apply_temperature(c, 0.5f);
  EXPECT_FLOAT_EQ(c[0].logit, 2.0f);
  EXPECT_FLOAT_EQ(c[2].logit, 6.0f);
  softmax_candidates(c);
  EXPECT_NEAR(c[0].p, 0.0158762, 1e-6);
  EXPECT_NEAR(c[1].p, 0.1173104, 1e-6);
  EXPECT_NEAR(c[2].p, 0.8668133, 1e-6);
}

TEST(Temperature, HighFlattens) {
  // T = 100: logits 0.01, 0.02, 0.03; exp(x - 0.03) = e^-0.02 = 0.980199,
  // e^-0.01 = 0.990050, 1; sum 2.970249 -> 0.330006, 0.333322, 0.336672.
  Candidates c = load({1, 2, 3});
  apply_temperature(c, 100.0f);
  softmax_candidates(c);
  EXPECT_NEAR(c[0].p, 0.330006, 1e-5);
  EXPECT_NEAR(c[1].p, 0.333322, 1e-5);
  EXPECT_NEAR(c[2].p, 0.336672, 1e-5);
}

TEST(Softmax, NegativeInfinityGetsZeroAndPositiveInfinityWins) {
  Candidates c = load({-kInf, 0, -kInf});
  softmax_candidates(c);
  EXPECT_EQ(c[0].p, 0.0f);
  EXPECT_EQ(c[1].p, 1.0f);
  EXPECT_EQ(c[2].p, 0.0f);

  Candidates inf = load({kInf, 5, kInf, 1e30f});
  softmax_candidates(inf);
  EXPECT_EQ(inf[0].p, 0.5f);
  EXPECT_EQ(inf[1].p, 0.0f);
  EXPECT_EQ(inf[2].p, 0.5f);
  EXPECT_EQ(inf[3].p, 0.0f);
}

TEST(Softmax, NaNIsTreatedAsNegativeInfinity) {
  Candidates c = load({kNaN, 1, kNaN});
  EXPECT_EQ(c[0].logit, -kInf);
  softmax_candidates(c);
  EXPECT_EQ(c[0].p, 0.0f);
  EXPECT_EQ(c[1].p, 1.0f);
}

// ---- top-k ------------------------------------------------------------------

TEST(TopK, KeepsHighestSortedWithTiesToLowerId) {
  Candidates c = load({0.5f, 3, 1, 3, 2});
  apply_top_k(c, 3);
  EXPECT_EQ(ids(c), (Ids{1, 3, 4}));  // 3 (id 1), 3 (id 3), 2 (id 4)
  EXPECT_TRUE(c.sorted());

  Candidates tie = load({1, 2, 2, 2});
  apply_top_k(tie, 2);
  EXPECT_EQ(ids(tie), (Ids{1, 2}));
}

TEST(TopK, ZeroAndOversizedAreNoOps) {
  Candidates off = load({0.5f, 3, 1});
  apply_top_k(off, 0);
  EXPECT_EQ(ids(off), (Ids{0, 1, 2}));
  EXPECT_TRUE(off.in_id_order());

  Candidates big = load({0.5f, 3, 1});
  apply_top_k(big, 1000);
  EXPECT_EQ(ids(big), (Ids{0, 1, 2}));
}

TEST(TopK, OneIsGreedy) {
  Candidates c = load({0.5f, 3, 1, 3.5f});
  apply_top_k(c, 1);
  EXPECT_EQ(ids(c), (Ids{3}));
}

// ---- top-p ------------------------------------------------------------------

// Probabilities by id: 0.125, 0.5, 0.125, 0.25 (logits are their logs).
Candidates halves() {
  return load({std::log(0.125f), std::log(0.5f), std::log(0.125f), std::log(0.25f)});
}

TEST(TopP, CutsAtTheSmallestPrefixReachingP) {
  struct Case {
    float p;
    Ids kept;
  };
  // Sorted: id 1 (0.5), id 3 (0.25), id 0 (0.125), id 2 (0.125; tie -> higher
  // id last). Running sums 0.5, 0.75, 0.875, 1.0.
  const Case cases[] = {
      {0.1f, {1}},          // 0.5 >= 0.1
      {0.5f, {1}},          // exactly on the boundary: 0.5 reaches 0.5
      {0.5001f, {1, 3}},    // just past it needs the next token
      {0.74f, {1, 3}},
      {0.75f, {1, 3}},      // boundary again
      {0.76f, {1, 3, 0}},
      {0.875f, {1, 3, 0}},
      {0.9f, {1, 3, 0, 2}},
  };
  for (const Case& k : cases) {
    Candidates c = halves();
    apply_top_p(c, k.p);
    EXPECT_EQ(ids(c), k.kept) << "top_p " << k.p;
  }
}

TEST(TopP, OneIsANoOpAndKeepsOrder) {
  Candidates c = halves();
  apply_top_p(c, 1.0f);
  EXPECT_EQ(ids(c), (Ids{0, 1, 2, 3}));
}

TEST(TopP, LargeVocabularyMatchesAFullSort) {
  // 5000 tokens with slowly decaying logits, so the cut-off lies deep and
  // the growing sorted prefix has to extend several times.
  std::vector<float> logits(5000);
  for (size_t i = 0; i < logits.size(); ++i) {
    logits[i] = std::sin(static_cast<float>(i) * 12.9898f) * 2.0f;  // fixed pseudo-random
  }
  Candidates c = load(logits);
  apply_top_p(c, 0.9f);

  // Reference: full sort, running sum of exact softmax in double.
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  const double top = logits[order[0]];
  double sum = 0.0;
  for (float l : logits) sum += std::exp(l - top);
  double cum = 0.0;
  size_t keep = 0;
  while (cum < 0.9 - 1e-6) cum += std::exp(logits[order[keep++]] - top) / sum;
  ASSERT_GT(keep, 1000u);
  EXPECT_EQ(ids(c), std::vector<int32_t>(order.begin(), order.begin() + static_cast<long>(keep)));
}

// ---- min-p ------------------------------------------------------------------

TEST(MinP, RelativeThresholdKeepsIdOrder) {
  // Probabilities relative to the top token, by id: 0.1, 1, 0.04, 0.5.
  const std::vector<float> logits = {std::log(0.1f), 0.0f, std::log(0.04f), std::log(0.5f)};
  struct Case {
    float min_p;
    Ids kept;
  };
  const Case cases[] = {
      {0.0f, {0, 1, 2, 3}},  // off
      {0.03f, {0, 1, 2, 3}},
      {0.05f, {0, 1, 3}},    // 0.04 < 0.05
      {0.09f, {0, 1, 3}},
      {0.11f, {1, 3}},       // 0.1 < 0.11
      {0.49f, {1, 3}},
      {0.51f, {1}},
      {1.0f, {1}},           // only the top token itself
  };
  for (const Case& k : cases) {
    Candidates c = load(logits);
    apply_min_p(c, k.min_p);
    EXPECT_EQ(ids(c), k.kept) << "min_p " << k.min_p;
  }
}

TEST(MinP, IndependentOfScaleOfLogits) {
  // Softmax ratios depend only on differences: shifting by 1000 changes nothing.
  Candidates c = load({1000.0f + std::log(0.2f), 1000.0f, 1000.0f + std::log(0.05f)});
  apply_min_p(c, 0.1f);
  EXPECT_EQ(ids(c), (Ids{0, 1}));
}

TEST(MinP, KeepsSortedPrefixAfterTopK) {
  Candidates c = load({0, 5, 4, 1, 3});
  apply_top_k(c, 4);  // sorted: 1 (5), 2 (4), 4 (3), 3 (1)
  apply_min_p(c, 0.3f);  // ln 0.3 = -1.204: keep logits >= 3.796
  EXPECT_EQ(ids(c), (Ids{1, 2}));
  EXPECT_TRUE(c.sorted());
}

// ---- penalties --------------------------------------------------------------

TEST(Penalties, RepetitionThenPresenceAndFrequency) {
  // Logits by id: 2, -1, 0.5, 3. Window counts: id 0 x2, id 1 x1, id 3 x3.
  // repeat 2: id 0: 2/2 = 1; id 1: -1*2 = -2; id 3: 3/2 = 1.5; id 2 unseen.
  // presence 0.5, frequency 0.25:
  //   id 0: 1 - (0.5 + 0.25*2) = 0
  //   id 1: -2 - (0.5 + 0.25*1) = -2.75
  //   id 3: 1.5 - (0.5 + 0.25*3) = 0.25
  const std::vector<TokenCount> counts = {{0, 2}, {1, 1}, {3, 3}};
  Candidates c = load({2, -1, 0.5f, 3});
  apply_penalties(c, counts, 2.0f, 0.5f, 0.25f);
  EXPECT_EQ(c[0].logit, 0.0f);
  EXPECT_EQ(c[1].logit, -2.75f);
  EXPECT_EQ(c[2].logit, 0.5f);
  EXPECT_EQ(c[3].logit, 0.25f);
}

TEST(Penalties, SameResultWhenNotInIdOrder) {
  const std::vector<TokenCount> counts = {{0, 2}, {1, 1}, {3, 3}};
  Candidates c = load({2, -1, 0.5f, 3, -7});
  apply_top_k(c, 4);  // reorders: ids 3, 0, 2, 1
  ASSERT_FALSE(c.in_id_order());
  apply_penalties(c, counts, 2.0f, 0.5f, 0.25f);
  EXPECT_EQ(ids(c), (Ids{3, 0, 2, 1}));
  EXPECT_EQ(c[0].logit, 0.25f);
  EXPECT_EQ(c[1].logit, 0.0f);
  EXPECT_EQ(c[2].logit, 0.5f);
  EXPECT_EQ(c[3].logit, -2.75f);
  EXPECT_FALSE(c.sorted());  // order no longer matches the logits
}

TEST(Penalties, NeutralValuesChangeNothingAndUnknownIdsAreIgnored) {
  const std::vector<TokenCount> counts = {{-3, 1}, {1, 4}, {99, 1}};
  Candidates c = load({1, 2});
  apply_penalties(c, counts, 1.0f, 0.0f, 0.0f);
  EXPECT_EQ(c[1].logit, 2.0f);
  apply_penalties(c, counts, 1.0f, 1.0f, 0.0f);
  EXPECT_EQ(c[0].logit, 1.0f);
  EXPECT_EQ(c[1].logit, 1.0f);
}

TEST(Penalties, NegativePenaltiesEncourage) {
  const std::vector<TokenCount> counts = {{0, 2}};
  Candidates c = load({1, 2});
  apply_penalties(c, counts, 1.0f, -0.5f, -1.0f);  // 1 + 0.5 + 2 = 3.5
  EXPECT_EQ(c[0].logit, 3.5f);
}

// ---- picks ------------------------------------------------------------------

TEST(PickGreedy, ArgmaxTiesToLowestId) {
  EXPECT_EQ(pick_greedy(load({1, 3, 3, 2})), 1);
  EXPECT_EQ(pick_greedy(load({kNaN, -kInf, -5})), 2);
  EXPECT_EQ(pick_greedy(load({-kInf, -kInf})), -1);
  EXPECT_EQ(pick_greedy(load({kNaN})), -1);
  EXPECT_EQ(pick_greedy(load({0.25f})), 0);
  Candidates sorted = load({0, 2, 2});
  apply_top_k(sorted, 2);
  EXPECT_EQ(pick_greedy(sorted), 1);
}

TEST(PickWithUniform, WalksCumulativeProbabilities) {
  // [1, 2, 3] -> 0.0900, 0.2447, 0.6652; cumulative 0.0900, 0.3348, 1.
  auto pick = [](double u) {
    Candidates c = load({1, 2, 3});
    return pick_with_uniform(c, u);
  };
  EXPECT_EQ(pick(0.0), 0);
  EXPECT_EQ(pick(0.0899), 0);
  EXPECT_EQ(pick(0.0901), 1);
  EXPECT_EQ(pick(0.3347), 1);
  EXPECT_EQ(pick(0.3349), 2);
  EXPECT_EQ(pick(0.9999999), 2);
}

TEST(PickWithUniform, NeverPicksZeroProbability) {
  Candidates c = load({-kInf, 1, -kInf});
  for (double u : {0.0, 0.5, 0.9999999999}) EXPECT_EQ(pick_with_uniform(c, u), 1);
  Candidates none = load({-kInf, kNaN});
  EXPECT_EQ(pick_with_uniform(none, 0.3), -1);
}

TEST(Chain, HandComputedDefaultOrder) {
  // Logits by id: 3, 2, 1, 0, -1, -5.
  // top_k 4 keeps ids 0..3 (logits 3, 2, 1, 0).
  // top_p 0.9: softmax of 3, 2, 1, 0 = 1, e^-1, e^-2, e^-3 over 1.553002
  //   = 0.643914, 0.236883, 0.087144, 0.032059; running 0.6439, 0.8808,
  //   0.9679 -> ids 0, 1, 2.
  // min_p 0.2: ratios to the top 1, 0.3679, 0.1353 -> ids 0, 1.
  // temperature 0.5: logits 6, 4 -> p = 1/(1 + e^-2) = 0.880797, 0.119203.
  Candidates c = load({3, 2, 1, 0, -1, -5});
  apply_penalties(c, {}, 1.0f, 0.0f, 0.0f);
  apply_top_k(c, 4);
  EXPECT_EQ(ids(c), (Ids{0, 1, 2, 3}));
  apply_top_p(c, 0.9f);
  EXPECT_EQ(ids(c), (Ids{0, 1, 2}));
  EXPECT_NEAR(p_of(c, 0), 0.6439143, 1e-6);
  EXPECT_NEAR(p_of(c, 2), 0.0871443, 1e-6);
  apply_min_p(c, 0.2f);
  EXPECT_EQ(ids(c), (Ids{0, 1}));
  apply_temperature(c, 0.5f);
  softmax_candidates(c);
  EXPECT_NEAR(p_of(c, 0), 0.8807971, 1e-6);
  EXPECT_NEAR(p_of(c, 1), 0.1192029, 1e-6);
}

TEST(Candidates, StorageIsReused) {
  Candidates c;
  std::vector<float> logits(1000, 1.0f);
  c.assign(logits);
  const TokenCandidate* data = c.items().data();
  apply_top_k(c, 5);
  c.assign(logits);
  EXPECT_EQ(c.items().data(), data);
  EXPECT_EQ(c.size(), 1000u);
  EXPECT_TRUE(c.in_id_order());
}

}  // namespace
}  // namespace laneway
