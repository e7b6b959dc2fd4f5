// Bit-level half conversions. Written against the IEEE 754 encodings: f32 has
// an 8-bit exponent (bias 127) and 23-bit mantissa, f16 a 5-bit exponent
// (bias 15) and 10-bit mantissa, bf16 the f32 exponent and a 7-bit mantissa.
#include "quant/fp16.h"

#include <bit>

namespace laneway {

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1Fu) {  // Inf / NaN: keep the payload
    bits = sign | 0x7F800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal mant * 2^-24: shift the leading one up to bit 10; every
    // shift lowers the exponent by one (normal 2^-14 = exponent 113).
    uint32_t e = 113;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mant & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

uint16_t fp32_to_fp16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) {  // NaN: quiet, top payload bits kept
    return static_cast<uint16_t>(sign | 0x7E00u | ((abs >> 13) & 0x3FFu));
  }
  // 65520 = 65504 + half an ulp of f16 at the top binade: ties go to even,
  // which is Inf here, so everything from 65520 up overflows.
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);
  if (abs >= 0x38800000u) {  // normal in f16 (>= 2^-14)
    const uint32_t rebased = abs - ((127u - 15u) << 23);
    uint32_t r = rebased >> 13;
    const uint32_t rem = rebased & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;  // carry may reach the exponent: correct
    return static_cast<uint16_t>(sign | r);
  }
  if (abs < 0x33000000u) return sign;  // below 2^-25 (half the smallest subnormal): zero
  // Subnormal result: value = m * 2^(e-150) with the implicit one; in units
  // of 2^-24 that is m >> (126 - e). A carry into bit 10 yields the smallest
  // normal, which is the right encoding.
  const uint32_t e = abs >> 23;
  const uint32_t m = (abs & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126 - e;  // 14..24
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  if (rem > halfway || (rem == halfway && (q & 1u))) ++q;
  return static_cast<uint16_t>(sign | q);
}

float bf16_to_fp32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

uint16_t fp32_to_bf16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);  // quiet NaN
  // Adding 0x7FFF plus the lowest kept bit rounds to nearest even; a carry
  // out of the mantissa bumps the exponent (up to Inf), which is right.
  x += 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

}  // namespace laneway
