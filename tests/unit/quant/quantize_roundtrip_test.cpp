// quantize_row -> dequantize_row on awkward inputs: error bounds per type,
// exact zeros, constants, one block, huge and tiny magnitudes, the NaN/Inf
// policy, unaligned buffers and determinism.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "test_types.h"

namespace laneway {
namespace {

// Relative RMS error bound of each type on Gaussian data (measured values
// are well inside; a wrong layout or a broken search lands far outside).
double rms_bound(GgmlType t) {
  switch (t) {
    case GgmlType::f32: return 0.0;
    case GgmlType::f16: return 5e-4;
    case GgmlType::bf16: return 4e-3;
    case GgmlType::q8_0: return 0.01;
    case GgmlType::q8_k: return 0.01;
    case GgmlType::q6_k: return 0.03;
    case GgmlType::q5_0: return 0.06;
    case GgmlType::q5_1: return 0.05;
    case GgmlType::q5_k: return 0.05;
    case GgmlType::q4_0: return 0.12;
    case GgmlType::q4_1: return 0.10;
    case GgmlType::q4_k: return 0.10;
    case GgmlType::q3_k: return 0.22;
    case GgmlType::q2_k: return 0.45;
    default: return 0.0;
  }
}

double relative_rms_error(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
    ref += static_cast<double>(x[i]) * x[i];
  }
  return ref > 0 ? std::sqrt(err / ref) : std::sqrt(err);
}

class QuantRoundTrip : public ::testing::TestWithParam<GgmlType> {
 protected:
  int64_t block() const { return quant_ops(GetParam()).block_size; }
  // A row length that is a whole number of blocks and at least `n`.
  int64_t whole(int64_t n) const { return (n + 255) / 256 * 256; }
  std::vector<float> round_trip(const std::vector<float>& x) const {
    return test::dequantized(GetParam(), test::quantized(GetParam(), x), static_cast<int64_t>(x.size()));
  }
};

TEST_P(QuantRoundTrip, GaussianWithinBound) {
  for (float sigma : {1.0f, 0.02f, 300.0f}) {
    const auto x = test::gaussian(whole(4096), 11, sigma);
    const double err = relative_rms_error(x, round_trip(x));
    EXPECT_LE(err, rms_bound(GetParam())) << "sigma " << sigma;
  }
}

TEST_P(QuantRoundTrip, OneBlock) {
  const auto x = test::gaussian(block(), 5);
  const double err = relative_rms_error(x, round_trip(x));
  // A single tiny block has more spread in its error than a long row.
  EXPECT_LE(err, 1.5 * rms_bound(GetParam()) + 1e-7);
}

TEST_P(QuantRoundTrip, ZerosStayExactZeros) {
  const std::vector<float> x(static_cast<size_t>(whole(512)), 0.0f);
  for (float y : round_trip(x)) ASSERT_EQ(y, 0.0f);
}

TEST_P(QuantRoundTrip, ConstantsComeBackClose) {
  for (float c : {1.0f, -1.0f, 0.37f, -1234.5f, 3e-3f}) {
    const std::vector<float> x(static_cast<size_t>(whole(512)), c);
    for (float y : round_trip(x)) {
      // f16 scales: a few parts in 1e3 (bf16 keeps 8 bits); the k-quants'
      // 6-bit group scales cost up to 1/126 more.
      ASSERT_NEAR(y, c, std::fabs(c) * 1e-2) << c;
    }
  }
}

// Block formats only (the per-element float types are covered by fp16_test).
class QuantBlockRoundTrip : public QuantRoundTrip {};

TEST_P(QuantBlockRoundTrip, MixedMagnitudeBlocksAreIndependent) {
  // Block b holds values of scale 10^(b % 7 - 3): every block is judged
  // against its own magnitude.
  const int64_t n = whole(7 * 256);
  std::vector<float> x = test::gaussian(n, 17);
  for (int64_t i = 0; i < n; ++i) x[i] *= std::pow(10.0f, static_cast<float>((i / block()) % 7 - 3));
  const auto y = round_trip(x);
  for (int64_t b = 0; b < n / block(); ++b) {
    const std::vector<float> xb(x.begin() + b * block(), x.begin() + (b + 1) * block());
    const std::vector<float> yb(y.begin() + b * block(), y.begin() + (b + 1) * block());
    ASSERT_LE(relative_rms_error(xb, yb), 2.0 * rms_bound(GetParam()) + 1e-7) << "block " << b;
  }
}

TEST_P(QuantRoundTrip, HugeValuesAreClippedNotBroken) {
  // 1e9 needs scales beyond f16's 65504: the quantized types clip (finite
  // results); the float types follow their own ranges.
  auto x = test::gaussian(whole(256), 23, 1e9f);
  const auto y = round_trip(x);
  for (size_t i = 0; i < x.size(); ++i) {
    if (GetParam() == GgmlType::f16) {
      ASSERT_TRUE(std::isinf(y[i]) || std::fabs(x[i]) < 65520.0f);
    } else {
      ASSERT_TRUE(std::isfinite(y[i])) << i;
    }
  }
  // Within range (1e4 needs scales of ~1e3 at most) everything is exact to bound.
  x = test::gaussian(whole(1024), 29, 1e4f);
  EXPECT_LE(relative_rms_error(x, round_trip(x)), rms_bound(GetParam()));
}

TEST_P(QuantRoundTrip, TinyValuesDecodeFiniteAndSmall) {
  for (float sigma : {1e-4f, 1e-7f, 1e-20f, 1e-40f}) {
    const auto x = test::gaussian(whole(256), 31, sigma);
    const auto y = round_trip(x);
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << sigma;
      ASSERT_LE(std::fabs(y[i]), 10 * sigma + 1e-30f) << sigma;
    }
    if (sigma >= 1e-4f) {
      EXPECT_LE(relative_rms_error(x, y), 2.0 * rms_bound(GetParam()));
    }
  }
}

TEST_P(QuantBlockRoundTrip, NonFiniteInputsPoisonOnlyTheirBlock) {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                    -std::numeric_limits<float>::infinity()}) {
    auto x = test::gaussian(3 * 256, 37);
    const int64_t victim = 256 + 7;  // inside the second 256 elements
    x[static_cast<size_t>(victim)] = bad;
    const auto y = round_trip(x);
    const int64_t b0 = victim / block() * block();
    for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i) {
      if (i >= b0 && i < b0 + block()) {
        ASSERT_TRUE(std::isnan(y[i])) << i;
      } else {
        ASSERT_TRUE(std::isfinite(y[i])) << i;
      }
    }
  }
}

TEST_P(QuantRoundTrip, UnalignedBuffersAndDeterminism) {
  const QuantOps& ops = quant_ops(GetParam());
  const int64_t n = whole(512);
  const auto x = test::gaussian(n, 41);
  // (std::min and x.size(): sizes GCC 12 can bound; it warns -Walloc-size-larger-than otherwise.)
  const size_t bytes = std::min(static_cast<size_t>(n / ops.block_size * ops.block_bytes), size_t{1} << 30);
  std::vector<uint8_t> a(bytes + 3), b(bytes);
  std::vector<float> src(x.size() + 1);
  std::memcpy(src.data() + 1, x.data(), x.size() * sizeof(float));
  // Misaligned by one byte for the blocks (and one float for the input).
  ops.quantize_row(src.data() + 1, a.data() + 1, n);
  ops.quantize_row(x.data(), b.data(), n);
  ASSERT_EQ(0, std::memcmp(a.data() + 1, b.data(), bytes));
  std::vector<float> y1(static_cast<size_t>(n) + 1), y2(static_cast<size_t>(n));
  ops.dequantize_row(a.data() + 1, y1.data() + 1, n);
  ops.dequantize_row(b.data(), y2.data(), n);
  ASSERT_EQ(0, std::memcmp(y1.data() + 1, y2.data(), y2.size() * sizeof(float)));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantRoundTrip, ::testing::ValuesIn(test::quant_test_types()),
                         [](const ::testing::TestParamInfo<GgmlType>& p) { return test::type_test_name(p.param); });

// The KV-cache formats: the tight per-element bounds their users rely on.
TEST(QuantKvFormats, Q8_0ElementErrorIsHalfAStep) {
  const auto x = test::gaussian(32 * 64, 43);
  const auto y = test::dequantized(GgmlType::q8_0, test::quantized(GgmlType::q8_0, x), 32 * 64);
  for (int b = 0; b < 64; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[32 * b + i]));
    // Half a step, plus the f16 rounding of the scale over 127 steps.
    const float bound = amax / 127.0f * (0.5f + 127.0f / 2048.0f);
    for (int i = 0; i < 32; ++i) ASSERT_LE(std::fabs(y[32 * b + i] - x[32 * b + i]), bound);
  }
}

TEST(QuantKvFormats, Q4_0ElementErrorIsAtMostOneStep) {
  const auto x = test::gaussian(32 * 64, 47);
  const auto y = test::dequantized(GgmlType::q4_0, test::quantized(GgmlType::q4_0, x), 32 * 64);
  for (int b = 0; b < 64; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[32 * b + i]));
    // Step amax/8; the far end of the range (opposite the max) clips by one step.
    const float bound = amax / 8.0f * (1.0f + 8.0f / 1024.0f);
    for (int i = 0; i < 32; ++i) ASSERT_LE(std::fabs(y[32 * b + i] - x[32 * b + i]), bound);
  }
}

INSTANTIATE_TEST_SUITE_P(BlockTypes, QuantBlockRoundTrip, ::testing::ValuesIn(test::quant_block_types()),
                         [](const ::testing::TestParamInfo<GgmlType>& p) { return test::type_test_name(p.param); });

}  // namespace
}  // namespace laneway
