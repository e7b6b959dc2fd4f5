// Encoders of the float types and the 32-element block types. Round to
// nearest with the scale taken from the block's extreme value(s), the
// classic ggml recipes (which llama.cpp also uses for its KV cache, so our
// q8_0/q4_0 caches round like the references do). Q8_0's arithmetic
// (d = amax/127, levels = nearest-even(x * (1/d))) is shared with the CPU
// backend's SIMD activation quantizers: keep them in step.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/quant_internal.h"

namespace laneway::quant_detail {
namespace {

// f16 pattern of a scale, clipped to the largest finite f16.
uint16_t store_scale(float d) { return fp32_to_fp16(std::clamp(d, -kF16Max, kF16Max)); }

// 1/d for a stored scale, or 0 when the stored scale is zero (every level
// then decodes to 0, so any level will do and 0 avoids an infinite 1/d).
float inverse_scale(float d, uint16_t stored) { return load_f16(stored) != 0.0f ? 1.0f / d : 0.0f; }

// floor(v) clamped to [0, hi], for v computed as x/d + offset + 0.5.
int floor_clamped(float v, int hi) {
  if (!(v > 0.0f)) return 0;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

template <typename Block>
Block* nan_block(Block* blk) {
  std::memset(blk, 0, sizeof(Block));
  blk->d = kF16NaN;
  return blk;
}

// Q4_0 / Q5_0: d = (value of largest magnitude) / -2^(bits-1), so that value
// maps to the lowest level exactly; level = floor(x/d + 2^(bits-1) + 0.5).
template <int kLevels>
float symmetric_levels(const float* x, uint8_t* q, uint16_t* d_out) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < 32; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  const float d = max / -static_cast<float>(kLevels / 2);
  *d_out = store_scale(d);
  const float id = inverse_scale(d, *d_out);
  for (int i = 0; i < 32; ++i) {
    q[i] = static_cast<uint8_t>(floor_clamped(x[i] * id + (static_cast<float>(kLevels / 2) + 0.5f), kLevels - 1));
  }
  return d;
}

// Q4_1 / Q5_1: the block's [min, max] split into 2^bits - 1 steps.
template <int kLevels>
void affine_levels(const float* x, uint8_t* q, uint16_t* d_out, uint16_t* m_out) {
  float min = x[0], max = x[0];
  for (int i = 1; i < 32; ++i) {
    min = std::min(min, x[i]);
    max = std::max(max, x[i]);
  }
  const float d = (max - min) / static_cast<float>(kLevels - 1);
  *d_out = store_scale(d);
  *m_out = store_scale(min);
  const float id = inverse_scale(d, *d_out);
  for (int i = 0; i < 32; ++i) q[i] = static_cast<uint8_t>(floor_clamped((x[i] - min) * id + 0.5f, kLevels - 1));
}

}  // namespace

void quantize_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void quantize_f16(const float* src, void* dst, int64_t n) {
  auto* p = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_fp16(src[i]);
    std::memcpy(p + 2 * i, &h, 2);
  }
}

void quantize_bf16(const float* src, void* dst, int64_t n) {
  auto* p = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = fp32_to_bf16(src[i]);
    std::memcpy(p + 2 * i, &h, 2);
  }
}

void quantize_q4_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_0*>(dst);
  for (int64_t b = 0; b < n / kQK4_0; ++b, src += kQK4_0) {
    BlockQ4_0& blk = blocks[b];
    if (!all_finite(src, kQK4_0)) {
      nan_block(&blk);
      continue;
    }
    uint8_t q[kQK4_0];
    uint16_t d;
    symmetric_levels<16>(src, q, &d);
    blk.d = d;
    for (int i = 0; i < kQK4_0 / 2; ++i) blk.qs[i] = static_cast<uint8_t>(q[i] | (q[i + kQK4_0 / 2] << 4));
  }
}

void quantize_q4_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_1*>(dst);
  for (int64_t b = 0; b < n / kQK4_1; ++b, src += kQK4_1) {
    BlockQ4_1& blk = blocks[b];
    if (!all_finite(src, kQK4_1)) {
      nan_block(&blk);
      continue;
    }
    uint8_t q[kQK4_1];
    uint16_t d, m;
    affine_levels<16>(src, q, &d, &m);
    blk.d = d;
    blk.m = m;
    for (int i = 0; i < kQK4_1 / 2; ++i) blk.qs[i] = static_cast<uint8_t>(q[i] | (q[i + kQK4_1 / 2] << 4));
  }
}

namespace {
// Low nibbles into qs (element i and i + 16 share a byte), bit 4 into qh.
void pack_5bit(const uint8_t* q, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int i = 0; i < 16; ++i) {
    qs[i] = static_cast<uint8_t>((q[i] & 0x0F) | ((q[i + 16] & 0x0F) << 4));
    qh |= static_cast<uint32_t>(q[i] >> 4) << i;
    qh |= static_cast<uint32_t>(q[i + 16] >> 4) << (i + 16);
  }
  std::memcpy(qh_bytes, &qh, 4);
}
}  // namespace

void quantize_q5_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_0*>(dst);
  for (int64_t b = 0; b < n / kQK5_0; ++b, src += kQK5_0) {
    BlockQ5_0& blk = blocks[b];
    if (!all_finite(src, kQK5_0)) {
      nan_block(&blk);
      continue;
    }
    uint8_t q[kQK5_0];
    uint16_t d;
    symmetric_levels<32>(src, q, &d);
    blk.d = d;
    pack_5bit(q, blk.qs, blk.qh);
  }
}

void quantize_q5_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_1*>(dst);
  for (int64_t b = 0; b < n / kQK5_1; ++b, src += kQK5_1) {
    BlockQ5_1& blk = blocks[b];
    if (!all_finite(src, kQK5_1)) {
      nan_block(&blk);
      continue;
    }
    uint8_t q[kQK5_1];
    uint16_t d, m;
    affine_levels<32>(src, q, &d, &m);
    blk.d = d;
    blk.m = m;
    pack_5bit(q, blk.qs, blk.qh);
  }
}

void quantize_q8_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_0*>(dst);
  for (int64_t b = 0; b < n / kQK8_0; ++b, src += kQK8_0) {
    BlockQ8_0& blk = blocks[b];
    float amax = 0.0f;
    bool finite = true;
    for (int i = 0; i < kQK8_0; ++i) {
      amax = std::max(amax, std::fabs(src[i]));
      finite = finite && std::isfinite(src[i]);
    }
    if (!finite) {
      nan_block(&blk);
      continue;
    }
    const float d = amax / 127.0f;
    blk.d = store_scale(d);
    const float id = inverse_scale(d, blk.d);
    for (int i = 0; i < kQK8_0; ++i) {
      // |src * id| <= 127 (up to rounding) unless the scale was clipped.
      const float v = std::clamp(src[i] * id, -127.0f, 127.0f);
      blk.qs[i] = static_cast<int8_t>(round_nearest_small(v));
    }
  }
}

}  // namespace laneway::quant_detail
