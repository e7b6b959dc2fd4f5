// Decoders of the float types and the 32-element block types (Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0). Each value is one float multiply of the integer level
// by the block scale (plus one add of the min for the _1 types): the
// operation order below is the contract the reference values follow.
#include <cstring>

#include "quant/quant_internal.h"

namespace laneway::quant_detail {

void dequantize_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void dequantize_f16(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    dst[i] = fp16_to_fp32(h);
  }
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, p + 2 * i, 2);
    dst[i] = bf16_to_fp32(h);
  }
}

void dequantize_q4_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_0*>(src);
  for (int64_t b = 0; b < n / kQK4_0; ++b, dst += kQK4_0) {
    const BlockQ4_0& blk = blocks[b];
    const float d = load_f16(blk.d);
    for (int i = 0; i < kQK4_0 / 2; ++i) {
      dst[i] = static_cast<float>((blk.qs[i] & 0x0F) - 8) * d;
      dst[i + kQK4_0 / 2] = static_cast<float>((blk.qs[i] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_1*>(src);
  for (int64_t b = 0; b < n / kQK4_1; ++b, dst += kQK4_1) {
    const BlockQ4_1& blk = blocks[b];
    const float d = load_f16(blk.d);
    const float m = load_f16(blk.m);
    for (int i = 0; i < kQK4_1 / 2; ++i) {
      dst[i] = static_cast<float>(blk.qs[i] & 0x0F) * d + m;
      dst[i + kQK4_1 / 2] = static_cast<float>(blk.qs[i] >> 4) * d + m;
    }
  }
}

namespace {
uint32_t load_qh(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, 4);  // the files are little-endian, as is every target we build for
  return v;
}
}  // namespace

void dequantize_q5_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_0*>(src);
  for (int64_t b = 0; b < n / kQK5_0; ++b, dst += kQK5_0) {
    const BlockQ5_0& blk = blocks[b];
    const float d = load_f16(blk.d);
    const uint32_t qh = load_qh(blk.qh);
    for (int i = 0; i < kQK5_0 / 2; ++i) {
      const int lo = (blk.qs[i] & 0x0F) | static_cast<int>(((qh >> i) & 1u) << 4);
      const int hi = (blk.qs[i] >> 4) | static_cast<int>(((qh >> (i + 16)) & 1u) << 4);
      dst[i] = static_cast<float>(lo - 16) * d;
      dst[i + kQK5_0 / 2] = static_cast<float>(hi - 16) * d;
    }
  }
}

void dequantize_q5_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_1*>(src);
  for (int64_t b = 0; b < n / kQK5_1; ++b, dst += kQK5_1) {
    const BlockQ5_1& blk = blocks[b];
    const float d = load_f16(blk.d);
    const float m = load_f16(blk.m);
    const uint32_t qh = load_qh(blk.qh);
    for (int i = 0; i < kQK5_1 / 2; ++i) {
      const int lo = (blk.qs[i] & 0x0F) | static_cast<int>(((qh >> i) & 1u) << 4);
      const int hi = (blk.qs[i] >> 4) | static_cast<int>(((qh >> (i + 16)) & 1u) << 4);
      dst[i] = static_cast<float>(lo) * d + m;
      dst[i + kQK5_1 / 2] = static_cast<float>(hi) * d + m;
    }
  }
}

void dequantize_q8_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_0*>(src);
  for (int64_t b = 0; b < n / kQK8_0; ++b, dst += kQK8_0) {
    const BlockQ8_0& blk = blocks[b];
    const float d = load_f16(blk.d);
    for (int i = 0; i < kQK8_0; ++i) dst[i] = static_cast<float>(blk.qs[i]) * d;
  }
}

}  // namespace laneway::quant_detail
