// Half conversions over every 16-bit pattern, with rounding checked against
// exact midpoints and against GCC's own (correctly rounded) _Float16.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "quant/fp16.h"

namespace laneway {
namespace {

bool is_nan16(uint16_t h) { return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0; }
bool is_nan_bf16(uint16_t h) { return (h & 0x7F80u) == 0x7F80u && (h & 0x7Fu) != 0; }

// The f16 value of a pattern computed independently, in double.
double f16_value(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exp = (h >> 10) & 0x1F;
  const int mant = h & 0x3FF;
  if (exp == 0) return sign * std::ldexp(mant, -24);
  if (exp == 31) return mant ? std::numeric_limits<double>::quiet_NaN() : sign * INFINITY;
  return sign * std::ldexp(1024 + mant, exp - 25);
}

TEST(Fp16, DecodesEveryPatternExactly) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    const double want = f16_value(static_cast<uint16_t>(h));
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(f)) << h;
      EXPECT_EQ(std::signbit(f), (h & 0x8000u) != 0) << h;
    } else {
      ASSERT_EQ(static_cast<double>(f), want) << h;
      EXPECT_EQ(std::signbit(f), (h & 0x8000u) != 0) << h;  // -0 stays -0
    }
  }
}

TEST(Fp16, RoundTripsEveryPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto p = static_cast<uint16_t>(h);
    const uint16_t back = fp32_to_fp16(fp16_to_fp32(p));
    if (is_nan16(p)) {
      ASSERT_TRUE(is_nan16(back)) << h;
      EXPECT_EQ(back & 0x8000u, p & 0x8000u) << h;
      EXPECT_TRUE(back & 0x200u) << "NaN must come back quiet: " << h;
    } else {
      ASSERT_EQ(back, p) << h;
    }
  }
}

// Between each pair of adjacent finite f16 values a, b (same sign), the f32
// midpoint is exact; it must round to the one with the even mantissa, and
// one f32 ulp either side must round to the nearer one.
TEST(Fp16, RoundsMidpointsToEvenAndNeighboursToNearest) {
  for (uint32_t h = 0; h < 0x7C00u; ++h) {  // positive finite a; b = next pattern
    for (uint32_t sign : {0u, 0x8000u}) {
      const auto a = static_cast<uint16_t>(h | sign), b = static_cast<uint16_t>((h + 1) | sign);
      const float fa = fp16_to_fp32(a);
      const float fb = h + 1 == 0x7C00u ? (sign ? -65536.0f : 65536.0f) : fp16_to_fp32(b);  // 65536: where Inf starts
      const float mid = static_cast<float>((static_cast<double>(fa) + fb) / 2);
      ASSERT_EQ(static_cast<double>(mid), (static_cast<double>(fa) + fb) / 2) << "midpoint not exact";
      const uint16_t even = (h & 1u) ? b : a;
      ASSERT_EQ(fp32_to_fp16(mid), even) << h;
      const float toward_a = std::nextafter(mid, fa), toward_b = std::nextafter(mid, fb);
      ASSERT_EQ(fp32_to_fp16(toward_a), a) << h;
      ASSERT_EQ(fp32_to_fp16(toward_b), b) << h;
    }
  }
}

TEST(Fp16, EncodesSpecialValues) {
  EXPECT_EQ(fp32_to_fp16(0.0f), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(INFINITY), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(-INFINITY), 0xFC00);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65519.99f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(1e30f), 0x7C00);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);       // smallest subnormal
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);       // tie: to even (zero)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(fp32_to_fp16(-std::numeric_limits<float>::denorm_min()), 0x8000);
  EXPECT_TRUE(is_nan16(fp32_to_fp16(std::nanf(""))));
  EXPECT_TRUE(is_nan16(fp32_to_fp16(std::bit_cast<float>(0x7F800001u))));  // payload only in low bits
  EXPECT_EQ(fp32_to_fp16(-std::nanf("")) & 0x8000u, 0x8000u);
}

// The compiler's own half type: _Float16, or on aarch64 __fp16 (IEEE half
// there; GCC 12 has no _Float16 in C++ for aarch64).
#if defined(__aarch64__)
#define LANEWAY_COMPILER_HALF 1
using CompilerHalf = __fp16;
#elif defined(__FLT16_MAX__)
#define LANEWAY_COMPILER_HALF 1
using CompilerHalf = _Float16;
#endif

#if defined(LANEWAY_COMPILER_HALF)
// The compiler's f32-to-half conversion is correctly rounded: compare on a dense sample of
// f32 patterns (every 97th, which hits every exponent and mantissa region).
TEST(Fp16, AgreesWithCompilerFloat16) {
  for (uint64_t x = 0; x <= 0xFFFFFFFFu; x += 97) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(x));
    const auto want = std::bit_cast<uint16_t>(static_cast<CompilerHalf>(f));
    const uint16_t got = fp32_to_fp16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(is_nan16(got)) << x;
    } else {
      ASSERT_EQ(got, want) << std::hex << x;
    }
  }
}
#endif

TEST(Bf16, RoundTripsEveryPattern) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const auto p = static_cast<uint16_t>(h);
    const float f = bf16_to_fp32(p);
    EXPECT_EQ(std::bit_cast<uint32_t>(f), h << 16);
    const uint16_t back = fp32_to_bf16(f);
    if (is_nan_bf16(p)) {
      ASSERT_TRUE(is_nan_bf16(back)) << h;
      EXPECT_EQ(back & 0x8000u, p & 0x8000u);
    } else {
      ASSERT_EQ(back, p) << h;
    }
  }
}

TEST(Bf16, RoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x7F80u; ++h) {  // every positive finite bf16 a and its successor b
    for (uint32_t sign : {0u, 0x8000u}) {
      const uint32_t a = (h | sign) << 16;
      const uint32_t mid = a + 0x8000u;  // exactly halfway to b (an f32 pattern)
      const auto lo = static_cast<uint16_t>(h | sign), hi = static_cast<uint16_t>((h + 1) | sign);
      const uint16_t even = (h & 1u) ? hi : lo;
      ASSERT_EQ(fp32_to_bf16(std::bit_cast<float>(mid)), even) << h;
      ASSERT_EQ(fp32_to_bf16(std::bit_cast<float>(mid - 1)), lo) << h;
      ASSERT_EQ(fp32_to_bf16(std::bit_cast<float>(mid + 1)), hi) << h;
    }
  }
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds up to Inf
  EXPECT_EQ(fp32_to_bf16(-INFINITY), 0xFF80);
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x00018000u)), 0x0002);  // subnormal tie, odd -> up
  EXPECT_TRUE(is_nan_bf16(fp32_to_bf16(std::bit_cast<float>(0x7F800001u))));  // NaN never becomes Inf
  EXPECT_TRUE(is_nan_bf16(fp32_to_bf16(std::bit_cast<float>(0xFFFFFFFFu))));
}

}  // namespace
}  // namespace laneway
