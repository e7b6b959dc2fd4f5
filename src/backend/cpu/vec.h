// Small f32 vector kernels with a fixed summation order (8 interleaved
// partial sums, then a fixed tree), so the compiler may vectorize them
// without reassociating and the result never depends on the caller.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>

namespace laneway::cpu {

inline float dot_f32(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  for (int j = 0; i < n; ++i, ++j) acc[j] += a[i] * b[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// y += a * x
inline void axpy_f32(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// e^x in float, to about 2 ulp (Cephes' expf: x = n ln2 + r, a degree-7
// polynomial for e^r, then 2^n), written as single roundings in a fixed
// order so every ISA level's vector version gives the same bits. Results
// that would be subnormal are 0; above 127.5 ln2, +inf.
// The constants are shared with the vector versions (kernels_x86_attention.h).
inline constexpr float kExpHi = 88.3762626647949f;  // 127.5 ln2
inline constexpr float kExpLo = -87.3365447505531f;  // ln(2^-126)
inline constexpr float kExpLog2e = 1.44269504088896341f;
inline constexpr float kExpRound = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds to an integer
inline constexpr float kExpLn2Hi = 0.693359375f, kExpLn2Lo = -2.12194440e-4f;
inline constexpr float kExpPoly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                      4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
inline float exp_f32(float x) {
  if (x != x) return x;
  if (x > kExpHi) return std::numeric_limits<float>::infinity();
  if (x < kExpLo) return 0.0f;
  const float n = (x * kExpLog2e + kExpRound) - kExpRound;  // round to nearest
  float r = x - n * kExpLn2Hi;
  r = r - n * kExpLn2Lo;
  float p = kExpPoly[0];
  for (int i = 1; i < 6; ++i) p = p * r + kExpPoly[i];
  const float y = (p * (r * r) + r) + 1.0f;
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return y * scale;
}

inline void scale_f32(float a, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

}  // namespace laneway::cpu
