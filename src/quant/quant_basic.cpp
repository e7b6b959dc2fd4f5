// Scalar conversions for the float types and the Q8_0 / Q4_0 blocks.
#include <cassert>
#include <cmath>
#include <cstring>

#include "quant/quant.h"

namespace laneway {

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3FFu) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) return static_cast<uint16_t>(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0));
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    if (abs < 0x33000000u) return sign;  // < 2^-25 rounds to zero
    const uint32_t e = abs >> 23;
    const uint32_t m = (abs & 0x7FFFFFu) | 0x800000u;
    // value = m * 2^(e-150); as a half subnormal: q = value / 2^-24 = m * 2^(e-126)
    const int s = static_cast<int>(126 - e);  // right shift amount
    uint32_t q = m >> s;
    const uint32_t rem = m & ((1u << s) - 1);
    const uint32_t halfway = 1u << (s - 1);
    if (rem > halfway || (rem == halfway && (q & 1u))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  uint32_t r = abs - 0x38000000u;  // rebias exponent 127 -> 15
  const uint32_t rem = r & 0x1FFFu;
  r >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return static_cast<uint16_t>(sign | r);
}

float bf16_to_fp32(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t fp32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  x += 0x7FFFu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(x >> 16);
}

bool quant_can_dequantize(GgmlType type) {
  switch (type) {
    case GgmlType::f32: case GgmlType::f16: case GgmlType::bf16: case GgmlType::q8_0: case GgmlType::q4_0:
      return true;
    default:
      return false;
  }
}

bool quant_can_quantize(GgmlType type) { return quant_can_dequantize(type); }

namespace {
constexpr int kQK = 32;

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b) {
    const uint8_t* blk = src + b * 34;
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    const float d = fp16_to_fp32(dh);
    const auto* qs = reinterpret_cast<const int8_t*>(blk + 2);
    for (int i = 0; i < kQK; ++i) dst[b * kQK + i] = static_cast<float>(qs[i]) * d;
  }
}

void quantize_q8_0(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    float amax = 0;
    for (int i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t* blk = dst + b * 34;
    const uint16_t dh = fp32_to_fp16(d);
    std::memcpy(blk, &dh, 2);
    auto* qs = reinterpret_cast<int8_t*>(blk + 2);
    for (int i = 0; i < kQK; ++i) qs[i] = static_cast<int8_t>(std::nearbyint(x[i] * id));
  }
}

// Q4_0: d = (value of largest magnitude) / -8; q = clamp(x/d + 8.5, 0, 15) truncated.
void dequantize_q4_0(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b) {
    const uint8_t* blk = src + b * 18;
    uint16_t dh;
    std::memcpy(&dh, blk, 2);
    const float d = fp16_to_fp32(dh);
    for (int i = 0; i < kQK / 2; ++i) {
      dst[b * kQK + i] = static_cast<float>((blk[2 + i] & 0x0F) - 8) * d;
      dst[b * kQK + i + kQK / 2] = static_cast<float>((blk[2 + i] >> 4) - 8) * d;
    }
  }
}

void quantize_q4_0(const float* src, uint8_t* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQK; ++b) {
    const float* x = src + b * kQK;
    float amax = 0, max = 0;
    for (int i = 0; i < kQK; ++i) {
      if (std::fabs(x[i]) > amax) {
        amax = std::fabs(x[i]);
        max = x[i];
      }
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t* blk = dst + b * 18;
    const uint16_t dh = fp32_to_fp16(d);
    std::memcpy(blk, &dh, 2);
    for (int i = 0; i < kQK / 2; ++i) {
      const auto q0 = static_cast<uint8_t>(std::min(15, static_cast<int>(x[i] * id + 8.5f)));
      const auto q1 = static_cast<uint8_t>(std::min(15, static_cast<int>(x[i + kQK / 2] * id + 8.5f)));
      blk[2 + i] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}
}  // namespace

void dequantize_row(GgmlType type, const void* src_v, float* dst, int64_t n) {
  const auto* src = static_cast<const uint8_t*>(src_v);
  switch (type) {
    case GgmlType::f32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case GgmlType::f16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = fp16_to_fp32(h);
      }
      return;
    case GgmlType::bf16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = bf16_to_fp32(h);
      }
      return;
    case GgmlType::q8_0: dequantize_q8_0(src, dst, n); return;
    case GgmlType::q4_0: dequantize_q4_0(src, dst, n); return;
    default: assert(false && "dequantize_row: unsupported type");
  }
}

void quantize_row(GgmlType type, const float* src, void* dst_v, int64_t n) {
  auto* dst = static_cast<uint8_t*>(dst_v);
  switch (type) {
    case GgmlType::f32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case GgmlType::f16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = fp32_to_fp16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case GgmlType::bf16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = fp32_to_bf16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case GgmlType::q8_0: quantize_q8_0(src, dst, n); return;
    case GgmlType::q4_0: quantize_q4_0(src, dst, n); return;
    default: assert(false && "quantize_row: unsupported type");
  }
}

}  // namespace laneway
