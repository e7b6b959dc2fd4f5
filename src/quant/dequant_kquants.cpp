// Decoders of the k-quants (256-element super-blocks) and of Q8_K. Each
// group first forms its float scale (and min) as d * sc (dmin * mn), then
// every value is one multiply of that by the integer level (minus the group
// min): the reference values follow exactly this order of float operations.
#include "quant/quant_internal.h"

namespace laneway::quant_detail {

void dequantize_q2_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ2_K*>(src);
  for (int64_t b = 0; b < n / kQKK; ++b, dst += kQKK) {
    const BlockQ2_K& blk = blocks[b];
    const float d = load_f16(blk.d);
    const float dmin = load_f16(blk.dmin);
    for (int e0 = 0; e0 < kQKK; e0 += 16) {  // one group of 16
      const int half = e0 / 128, j = (e0 % 128) / 32, l0 = e0 % 32;
      const uint8_t sc = blk.scales[e0 / 16];
      const float dl = d * static_cast<float>(sc & 0x0F);
      const float ml = dmin * static_cast<float>(sc >> 4);
      const uint8_t* q = blk.qs + 32 * half + l0;
      for (int l = 0; l < 16; ++l) dst[e0 + l] = dl * static_cast<float>((q[l] >> (2 * j)) & 3) - ml;
    }
  }
}

void dequantize_q3_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ3_K*>(src);
  for (int64_t b = 0; b < n / kQKK; ++b, dst += kQKK) {
    const BlockQ3_K& blk = blocks[b];
    const float d = load_f16(blk.d);
    for (int e0 = 0; e0 < kQKK; e0 += 16) {
      const int half = e0 / 128, j = (e0 % 128) / 32, l0 = e0 % 32;
      const float dl = d * static_cast<float>(kscale6_q3(blk.scales, e0 / 16));
      const uint8_t* q = blk.qs + 32 * half + l0;
      const uint8_t* hm = blk.hmask + l0;
      const int hbit = 4 * half + j;
      for (int l = 0; l < 16; ++l) {
        const int low = (q[l] >> (2 * j)) & 3;
        const int level = low - (((hm[l] >> hbit) & 1) ? 0 : 4);
        dst[e0 + l] = dl * static_cast<float>(level);
      }
    }
  }
}

void dequantize_q4_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4_K*>(src);
  for (int64_t b = 0; b < n / kQKK; ++b, dst += kQKK) {
    const BlockQ4_K& blk = blocks[b];
    const float d = load_f16(blk.d);
    const float dmin = load_f16(blk.dmin);
    for (int c = 0; c < 4; ++c) {  // chunks of 64: two groups sharing 32 bytes
      const KScaleMin lo = kscale6_q4(blk.scales, 2 * c);
      const KScaleMin hi = kscale6_q4(blk.scales, 2 * c + 1);
      const float d1 = d * static_cast<float>(lo.sc), m1 = dmin * static_cast<float>(lo.mn);
      const float d2 = d * static_cast<float>(hi.sc), m2 = dmin * static_cast<float>(hi.mn);
      const uint8_t* q = blk.qs + 32 * c;
      float* y = dst + 64 * c;
      for (int l = 0; l < 32; ++l) y[l] = d1 * static_cast<float>(q[l] & 0x0F) - m1;
      for (int l = 0; l < 32; ++l) y[32 + l] = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

void dequantize_q5_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5_K*>(src);
  for (int64_t b = 0; b < n / kQKK; ++b, dst += kQKK) {
    const BlockQ5_K& blk = blocks[b];
    const float d = load_f16(blk.d);
    const float dmin = load_f16(blk.dmin);
    for (int c = 0; c < 4; ++c) {
      const KScaleMin lo = kscale6_q4(blk.scales, 2 * c);
      const KScaleMin hi = kscale6_q4(blk.scales, 2 * c + 1);
      const float d1 = d * static_cast<float>(lo.sc), m1 = dmin * static_cast<float>(lo.mn);
      const float d2 = d * static_cast<float>(hi.sc), m2 = dmin * static_cast<float>(hi.mn);
      const uint8_t* q = blk.qs + 32 * c;
      float* y = dst + 64 * c;
      for (int l = 0; l < 32; ++l) {
        const int h = (blk.qh[l] >> (2 * c)) & 1;
        y[l] = d1 * static_cast<float>((q[l] & 0x0F) | (h << 4)) - m1;
      }
      for (int l = 0; l < 32; ++l) {
        const int h = (blk.qh[l] >> (2 * c + 1)) & 1;
        y[32 + l] = d2 * static_cast<float>((q[l] >> 4) | (h << 4)) - m2;
      }
    }
  }
}

void dequantize_q6_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ6_K*>(src);
  for (int64_t b = 0; b < n / kQKK; ++b, dst += kQKK) {
    const BlockQ6_K& blk = blocks[b];
    const float d = load_f16(blk.d);
    float ds[16];  // (d * sc) first, then times the level: the reference's order
    for (int g = 0; g < 16; ++g) ds[g] = d * static_cast<float>(blk.scales[g]);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = blk.ql + 64 * half;
      const uint8_t* qh = blk.qh + 32 * half;
      float* y = dst + 128 * half;
      const float* s = ds + 8 * half;
      for (int l = 0; l < 32; ++l) {
        const int q0 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q1 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        const int g = l / 16;
        y[l] = s[g] * static_cast<float>(q0);
        y[l + 32] = s[g + 2] * static_cast<float>(q1);
        y[l + 64] = s[g + 4] * static_cast<float>(q2);
        y[l + 96] = s[g + 6] * static_cast<float>(q3);
      }
    }
  }
}

void dequantize_q8_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8_K*>(src);
  for (int64_t b = 0; b < n / kQKK; ++b, dst += kQKK) {
    const float d = blocks[b].d;
    for (int i = 0; i < kQKK; ++i) dst[i] = d * static_cast<float>(blocks[b].qs[i]);
  }
}

}  // namespace laneway::quant_detail
