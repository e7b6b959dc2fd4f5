// The dot-product references against a float64 dot of the decoded rows.
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "test_types.h"

namespace laneway {
namespace {

struct DotCase {
  double exact = 0;      // float64 dot of the decoded operands
  double magnitude = 0;  // sum of |w_i * a_i|, the scale of rounding error
};

DotCase exact_dot(const std::vector<float>& w, const std::vector<float>& a) {
  DotCase c;
  for (size_t i = 0; i < w.size(); ++i) {
    c.exact += static_cast<double>(w[i]) * a[i];
    c.magnitude += std::fabs(static_cast<double>(w[i]) * a[i]);
  }
  return c;
}

class QuantVecDot : public ::testing::TestWithParam<GgmlType> {};

TEST_P(QuantVecDot, F32ActivationsMatchTheDecodedDot) {
  const QuantOps& ops = quant_ops(GetParam());
  // Awkward lengths: one block, a row with a partial 256-chunk tail, a long row.
  for (int64_t n : {ops.block_size, ops.block_size * 9, int64_t{4096} + ops.block_size * 3}) {
    if (n % ops.block_size != 0) continue;
    const auto w = test::gaussian(n, 51);
    const auto x = test::gaussian(n, 53);
    const auto wq = test::quantized(GetParam(), w);
    const DotCase c = exact_dot(test::dequantized(GetParam(), wq, n), x);
    const float got = ops.vec_dot_f32(wq.data(), x.data(), n);
    EXPECT_NEAR(got, c.exact, 1e-6 * c.magnitude + 1e-30) << "n " << n;
  }
}

class QuantVecDotQ : public QuantVecDot {};

TEST_P(QuantVecDotQ, QuantizedActivationsMatchTheDecodedDot) {
  const QuantOps& ops = quant_ops(GetParam());
  const QuantOps& act = quant_ops(ops.vec_dot_type);
  for (int64_t n : {int64_t{256}, int64_t{256} * 5}) {
    const auto w = test::gaussian(n, 61);
    // Activation rows with an outlier and a zero block: the min term and
    // sign handling of every group get exercised.
    auto x = test::gaussian(n, 67, 3.0f);
    x[5] = 40.0f;
    std::fill(x.begin() + 32, x.begin() + 64, 0.0f);
    const auto wq = test::quantized(GetParam(), w);
    const auto xq = test::quantized(act.type, x);
    const DotCase c = exact_dot(test::dequantized(GetParam(), wq, n), test::dequantized(act.type, xq, n));
    const float got = ops.vec_dot_q(wq.data(), xq.data(), n);
    EXPECT_NEAR(got, c.exact, 1e-6 * c.magnitude) << "n " << n;
    // And it approximates the f32-activation dot to the activation format's precision.
    const float f32_dot = ops.vec_dot_f32(wq.data(), x.data(), n);
    EXPECT_NEAR(got, f32_dot, 0.02 * c.magnitude) << "n " << n;
  }
}

TEST_P(QuantVecDot, ZeroWeightsGiveZero) {
  const QuantOps& ops = quant_ops(GetParam());
  const int64_t n = 512;
  const std::vector<float> zeros(n, 0.0f);
  const auto wq = test::quantized(GetParam(), zeros);
  const auto x = test::gaussian(n, 71);
  EXPECT_EQ(ops.vec_dot_f32(wq.data(), x.data(), n), 0.0f);
  if (ops.vec_dot_q != nullptr) {
    const auto xq = test::quantized(ops.vec_dot_type, x);
    EXPECT_EQ(ops.vec_dot_q(wq.data(), xq.data(), n), 0.0f);
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, QuantVecDot, ::testing::ValuesIn(test::quant_test_types()),
                         [](const ::testing::TestParamInfo<GgmlType>& p) { return test::type_test_name(p.param); });

INSTANTIATE_TEST_SUITE_P(DotTypes, QuantVecDotQ, ::testing::ValuesIn(test::quant_vec_dot_q_types()),
                         [](const ::testing::TestParamInfo<GgmlType>& p) { return test::type_test_name(p.param); });

}  // namespace
}  // namespace laneway
