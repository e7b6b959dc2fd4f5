// BF16 has no reference dump: write a BF16 tensor with the GGUF writer,
// read it back with the reader and check every value against an
// independent rounding of the input.
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "quant/quant.h"

namespace laneway {
namespace {

// Nearest bf16 value of x (ties to even), computed in double from the two
// bf16 candidates around x rather than by bit tricks.
float nearest_bf16(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const float down = std::bit_cast<float>(bits & 0xFFFF0000u);  // toward zero
  const float up = std::bit_cast<float>((bits & 0xFFFF0000u) + 0x10000u);  // away from zero
  if (std::isinf(x)) return x;
  // Overflow is judged as if the exponent went on: the step past the largest
  // finite bf16 is 2^128 (IEEE 754 rounding to Inf).
  const double up_value = std::isinf(up) ? std::copysign(std::ldexp(1.0, 128), x) : static_cast<double>(up);
  const double dd = std::fabs(static_cast<double>(x) - down), du = std::fabs(up_value - x);
  if (dd < du) return down;
  if (du < dd) return up;
  return ((bits >> 16) & 1u) ? up : down;
}

TEST(Bf16Gguf, WriterRoundTrip) {
  const uint64_t cols = 256, rows = 24;
  std::vector<float> x(cols * rows);
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (size_t i = 0; i < x.size(); ++i) {
    // Magnitudes over the whole f32 range, subnormals included.
    x[i] = dist(rng) * std::ldexp(1.0f, static_cast<int>(i % 250) - 140);
  }
  x[0] = 0.0f;
  x[1] = -0.0f;
  x[2] = std::numeric_limits<float>::infinity();
  x[3] = std::numeric_limits<float>::max();  // rounds to +Inf
  x[4] = std::numeric_limits<float>::denorm_min();
  x[5] = std::bit_cast<float>(0x3F808000u);  // a tie: 1 + 2^-8 -> 1.0 (even)
  x[6] = std::bit_cast<float>(0x3F818000u);  // a tie: -> 0x3F82 (even)

  const QuantOps& ops = quant_ops(GgmlType::bf16);
  std::vector<uint8_t> encoded(x.size() * 2);
  ops.quantize_row(x.data(), encoded.data(), static_cast<int64_t>(x.size()));

  GgufWriter writer;
  writer.add_string("general.architecture", "test");
  ASSERT_TRUE(writer.add_tensor("w", GgmlType::bf16, {cols, rows}, encoded).is_ok());
  const std::vector<uint8_t> bytes = writer.write_bytes();
  auto file = GgufFile::parse(bytes);
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  const GgufTensorInfo* t = file->find_tensor("w");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, GgmlType::bf16);
  ASSERT_EQ(t->size_bytes, encoded.size());

  std::vector<float> y(x.size());
  dequantize_row(t->type, file->tensor_data(*t).data(), y.data(), static_cast<int64_t>(y.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = nearest_bf16(x[i]);
    ASSERT_EQ(std::bit_cast<uint32_t>(y[i]), std::bit_cast<uint32_t>(want)) << i << " x=" << x[i];
  }
  EXPECT_EQ(y[3], std::numeric_limits<float>::infinity());
  EXPECT_EQ(std::bit_cast<uint32_t>(y[5]), 0x3F800000u);
  EXPECT_EQ(std::bit_cast<uint32_t>(y[6]), 0x3F820000u);
  EXPECT_TRUE(std::signbit(y[1]));

  // NaN stays NaN through the file.
  const float nan_in = std::numeric_limits<float>::quiet_NaN();
  uint8_t nan_bytes[2];
  ops.quantize_row(&nan_in, nan_bytes, 1);
  float nan_out;
  ops.dequantize_row(nan_bytes, &nan_out, 1);
  EXPECT_TRUE(std::isnan(nan_out));
}

}  // namespace
}  // namespace laneway
