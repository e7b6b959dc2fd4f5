// Rotary angles (model/rope.h) against values worked out by hand from the
// formulas: plain, linear scaling, Llama-3 factors and YaRN.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "model/rope.h"

namespace laneway {
namespace {

ModelHparams rope_hp(double base, int64_t rope_dim) {
  ModelHparams hp;
  hp.rope_dim = rope_dim;
  hp.rope_freq_base = base;
  return hp;
}

TEST(Rope, PlainFrequenciesAreBasePowers) {
  const auto f = rope_frequencies(rope_hp(10000.0, 32), {});
  ASSERT_EQ(f.inv_freq.size(), 16u);
  EXPECT_DOUBLE_EQ(f.inv_freq[0], 1.0);
  EXPECT_NEAR(f.inv_freq[1], std::pow(10000.0, -2.0 / 32.0), 1e-15);  // 0.5623413...
  EXPECT_NEAR(f.inv_freq[8], 0.01, 1e-15);                             // 10000^(-16/32)
  EXPECT_DOUBLE_EQ(f.mscale, 1.0);
}

TEST(Rope, LinearScalingDividesEveryFrequency) {
  ModelHparams hp = rope_hp(10000.0, 32);
  hp.rope_scaling = RopeScaling::linear;
  hp.rope_freq_scale = 0.25;
  const auto f = rope_frequencies(hp, {});
  EXPECT_DOUBLE_EQ(f.inv_freq[0], 0.25);
  EXPECT_NEAR(f.inv_freq[8], 0.0025, 1e-15);
}

TEST(Rope, FrequencyFactorsDivide) {
  const std::vector<float> factors(16, 4.0f);
  const auto f = rope_frequencies(rope_hp(500000.0, 32), factors);
  EXPECT_DOUBLE_EQ(f.inv_freq[0], 0.25);
  EXPECT_NEAR(f.inv_freq[4], std::pow(500000.0, -0.25) / 4.0, 1e-15);
}

// YaRN over d = 32, base 1e4, an original context of 1024, betas 32 / 1:
// d(32) = 32 ln(1024 / (64 pi)) / (2 ln 1e4) = 2.8286 -> low 2;
// d(1)  = 32 ln(1024 / (2 pi)) / (2 ln 1e4) = 8.8504 -> high 9.
TEST(Rope, YarnCorrectionRangeByHand) {
  const auto [low, high] = yarn_correction_range(32, 1024, 10000.0, 32.0, 1.0);
  EXPECT_DOUBLE_EQ(low, 2.0);
  EXPECT_DOUBLE_EQ(high, 9.0);
  // Clamped to [0, d - 1].
  const auto wide = yarn_correction_range(32, 1 << 30, 10000.0, 32.0, 1.0);
  EXPECT_DOUBLE_EQ(wide.second, 31.0);
  EXPECT_DOUBLE_EQ(yarn_correction_range(32, 4, 10000.0, 32.0, 1.0).first, 0.0);
}

TEST(Rope, YarnRampByHand) {
  EXPECT_DOUBLE_EQ(yarn_ramp(2, 9, 0), 1.0);
  EXPECT_DOUBLE_EQ(yarn_ramp(2, 9, 2), 1.0);
  EXPECT_NEAR(yarn_ramp(2, 9, 5), 1.0 - 3.0 / 7.0, 1e-15);
  EXPECT_DOUBLE_EQ(yarn_ramp(2, 9, 9), 0.0);
  EXPECT_DOUBLE_EQ(yarn_ramp(2, 9, 15), 0.0);
  EXPECT_DOUBLE_EQ(yarn_ramp(3, 3, 3), 1.0);  // no range: a step, not a division by zero
}

TEST(Rope, YarnFrequenciesAndMagnitude) {
  ModelHparams hp = rope_hp(10000.0, 32);
  hp.rope_scaling = RopeScaling::yarn;
  hp.rope_freq_scale = 0.25;  // factor 4
  hp.yarn = {1024, 1.0, 32.0, 1.0};
  const auto f = rope_frequencies(hp, {});
  // Pairs up to 2 keep their frequency, pairs from 9 on are interpolated (x 0.25),
  // pair 5 mixes them: 0.25 (1 - r) + r with r = 4/7.
  EXPECT_DOUBLE_EQ(f.inv_freq[0], 1.0);
  EXPECT_NEAR(f.inv_freq[2], std::pow(10000.0, -4.0 / 32.0), 1e-15);
  const double r5 = 1.0 - 3.0 / 7.0;
  EXPECT_NEAR(f.inv_freq[5], std::pow(10000.0, -10.0 / 32.0) * (0.25 * (1 - r5) + r5), 1e-15);
  EXPECT_NEAR(f.inv_freq[12], std::pow(10000.0, -24.0 / 32.0) * 0.25, 1e-15);
  // 1 + 0.1 ln 4.
  EXPECT_NEAR(f.mscale, 1.1386294361, 1e-9);
  hp.yarn.attn_factor = 2.0;
  EXPECT_NEAR(rope_frequencies(hp, {}).mscale, 2.2772588722, 1e-9);
}

TEST(Rope, CosSinAtFarPositionsKeepTheirAngles) {
  ModelHparams hp = rope_hp(10000.0, 4);
  hp.rope_scaling = RopeScaling::yarn;
  hp.rope_freq_scale = 0.5;
  hp.yarn = {1024, 1.0, 32.0, 1.0};
  const auto f = rope_frequencies(hp, {});
  float cs[4];
  const int64_t pos = 4'000'000;
  rope_cos_sin(f, pos, cs);
  for (int i = 0; i < 2; ++i) {
    const double theta = static_cast<double>(pos) * f.inv_freq[static_cast<size_t>(i)];
    EXPECT_NEAR(cs[2 * i], std::cos(theta) * f.mscale, 1e-6);
    EXPECT_NEAR(cs[2 * i + 1], std::sin(theta) * f.mscale, 1e-6);
    EXPECT_NEAR(cs[2 * i] * cs[2 * i] + cs[2 * i + 1] * cs[2 * i + 1], f.mscale * f.mscale, 1e-5);
  }
}

}  // namespace
}  // namespace laneway
