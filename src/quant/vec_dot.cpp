// Reference dot products of one weight row with an activation row.
//
// vec_dot_f32: weights decoded in chunks of 256 elements (the last chunk of
// a row may be shorter), products summed in element order in f32, chunk
// sums added in chunk order.
//
// vec_dot_q: activations quantized to Q8_0 (32-element weight types) or
// Q8_K (k-quants). Per block, integer sums are exact; then, in this order:
//   Q4_0, Q5_0, Q8_0:  acc += float(isum) * (dw * da)
//   Q4_1, Q5_1:        acc += float(isum) * (dw * da) + mw * (da * float(asum))
//   Q2_K, Q4_K, Q5_K:  acc += (da * d) * float(isum) - (da * dmin) * float(imin)
//   Q3_K, Q6_K:        acc += (da * d) * float(isum)
// where isum = sum over groups of (group scale code) * sum(level * a),
// imin = sum over groups of (min code) * sum(a) (from Q8_K's bsums), asum =
// sum(a) of the Q8_0 block, and acc starts at 0 and runs over blocks in
// order. SIMD kernels must reproduce these float steps exactly.
#include <algorithm>
#include <cstring>

#include "quant/quant.h"
#include "quant/quant_internal.h"

namespace laneway::quant_detail {

float vec_dot_f32_generic(DequantizeRowFn dequantize, int64_t block_size, int64_t block_bytes, const void* w,
                          const float* x, int64_t n) {
  constexpr int64_t kChunk = 256;
  const auto* bytes = static_cast<const uint8_t*>(w);
  float buf[kChunk];
  float acc = 0.0f;
  for (int64_t i0 = 0; i0 < n; i0 += kChunk) {
    const int64_t len = std::min(kChunk, n - i0);
    dequantize(bytes + i0 / block_size * block_bytes, buf, len);
    float sum = 0.0f;
    for (int64_t i = 0; i < len; ++i) sum += buf[i] * x[i0 + i];
    acc += sum;
  }
  return acc;
}

namespace {

// Levels of a 32-element block (signed, already offset) into q[32].
void levels_q4_0(const BlockQ4_0& b, int* q) {
  for (int i = 0; i < 16; ++i) {
    q[i] = (b.qs[i] & 0x0F) - 8;
    q[i + 16] = (b.qs[i] >> 4) - 8;
  }
}
template <typename Block>
void levels_5bit(const Block& b, int offset, int* q) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int i = 0; i < 16; ++i) {
    q[i] = ((b.qs[i] & 0x0F) | static_cast<int>(((qh >> i) & 1u) << 4)) - offset;
    q[i + 16] = ((b.qs[i] >> 4) | static_cast<int>(((qh >> (i + 16)) & 1u) << 4)) - offset;
  }
}
void levels_q4_1(const BlockQ4_1& b, int* q) {
  for (int i = 0; i < 16; ++i) {
    q[i] = b.qs[i] & 0x0F;
    q[i + 16] = b.qs[i] >> 4;
  }
}

int dot32(const int* q, const int8_t* a) {
  int s = 0;
  for (int i = 0; i < 32; ++i) s += q[i] * a[i];
  return s;
}
int sum32(const int8_t* a) {
  int s = 0;
  for (int i = 0; i < 32; ++i) s += a[i];
  return s;
}

template <typename Block, typename Levels>
float dot_legacy_symmetric(const void* w, const void* a, int64_t n, Levels levels) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* ab = static_cast<const BlockQ8_0*>(a);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    int q[32];
    levels(wb[b], q);
    acc += static_cast<float>(dot32(q, ab[b].qs)) * (load_f16(wb[b].d) * load_f16(ab[b].d));
  }
  return acc;
}

template <typename Block, typename Levels>
float dot_legacy_affine(const void* w, const void* a, int64_t n, Levels levels) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* ab = static_cast<const BlockQ8_0*>(a);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / 32; ++b) {
    int q[32];
    levels(wb[b], q);
    const float da = load_f16(ab[b].d);
    acc += static_cast<float>(dot32(q, ab[b].qs)) * (load_f16(wb[b].d) * da) +
           load_f16(wb[b].m) * (da * static_cast<float>(sum32(ab[b].qs)));
  }
  return acc;
}

// K-quant levels (unsigned for the affine types, signed for Q3_K/Q6_K) of
// all 256 elements, element order.
void levels_q2_k(const BlockQ2_K& b, int* q) {
  for (int e = 0; e < kQKK; ++e) q[e] = (b.qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}
void levels_q3_k(const BlockQ3_K& b, int* q) {
  for (int e = 0; e < kQKK; ++e) {
    const int h = e / 128, j = (e % 128) / 32, l = e % 32;
    const int low = (b.qs[32 * h + l] >> (2 * j)) & 3;
    q[e] = low - (((b.hmask[l] >> (4 * h + j)) & 1) ? 0 : 4);
  }
}
template <typename Block>
void levels_q45_k(const Block& b, bool five_bits, int* q) {
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      q[64 * c + l] = b.qs[32 * c + l] & 0x0F;
      q[64 * c + 32 + l] = b.qs[32 * c + l] >> 4;
    }
  }
  if constexpr (requires { b.qh; }) {
    if (five_bits) {
      for (int c = 0; c < 4; ++c) {
        for (int l = 0; l < 32; ++l) {
          q[64 * c + l] |= ((b.qh[l] >> (2 * c)) & 1) << 4;
          q[64 * c + 32 + l] |= ((b.qh[l] >> (2 * c + 1)) & 1) << 4;
        }
      }
    }
  }
}
void levels_q6_k(const BlockQ6_K& b, int* q) {
  for (int h = 0; h < 2; ++h) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t* ql = b.ql + 64 * h;
      const uint8_t qh = b.qh[32 * h + l];
      int* y = q + 128 * h;
      y[l] = ((ql[l] & 0x0F) | ((qh & 3) << 4)) - 32;
      y[l + 32] = ((ql[l + 32] & 0x0F) | (((qh >> 2) & 3) << 4)) - 32;
      y[l + 64] = ((ql[l] >> 4) | (((qh >> 4) & 3) << 4)) - 32;
      y[l + 96] = ((ql[l + 32] >> 4) | (((qh >> 6) & 3) << 4)) - 32;
    }
  }
}

// sum over groups of code[g] * sum(q * a) for groups of `group` elements.
int scaled_group_dot(const int* q, const int8_t* a, const int* code, int group) {
  int total = 0;
  for (int g = 0; g < kQKK / group; ++g) {
    int s = 0;
    for (int i = g * group; i < (g + 1) * group; ++i) s += q[i] * a[i];
    total += code[g] * s;
  }
  return total;
}
// sum over groups of min_code[g] * sum(a) from Q8_K's 16-element sums.
int min_dot(const BlockQ8_K& a, const int* min_code, int group) {
  int total = 0;
  for (int g = 0; g < kQKK / group; ++g) {
    int s = 0;
    for (int k = g * group / 16; k < (g + 1) * group / 16; ++k) s += a.bsums[k];
    total += min_code[g] * s;
  }
  return total;
}

}  // namespace

float vec_dot_q4_0_q8_0(const void* w, const void* a, int64_t n) {
  return dot_legacy_symmetric<BlockQ4_0>(w, a, n, levels_q4_0);
}
float vec_dot_q5_0_q8_0(const void* w, const void* a, int64_t n) {
  return dot_legacy_symmetric<BlockQ5_0>(w, a, n, [](const BlockQ5_0& b, int* q) { levels_5bit(b, 16, q); });
}
float vec_dot_q8_0_q8_0(const void* w, const void* a, int64_t n) {
  return dot_legacy_symmetric<BlockQ8_0>(w, a, n, [](const BlockQ8_0& b, int* q) {
    for (int i = 0; i < 32; ++i) q[i] = b.qs[i];
  });
}
float vec_dot_q4_1_q8_0(const void* w, const void* a, int64_t n) {
  return dot_legacy_affine<BlockQ4_1>(w, a, n, levels_q4_1);
}
float vec_dot_q5_1_q8_0(const void* w, const void* a, int64_t n) {
  return dot_legacy_affine<BlockQ5_1>(w, a, n, [](const BlockQ5_1& b, int* q) { levels_5bit(b, 0, q); });
}

float vec_dot_q2_k_q8_k(const void* w, const void* a, int64_t n) {
  const auto* wb = static_cast<const BlockQ2_K*>(w);
  const auto* ab = static_cast<const BlockQ8_K*>(a);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / kQKK; ++b) {
    int q[kQKK], sc[16], mn[16];
    levels_q2_k(wb[b], q);
    for (int g = 0; g < 16; ++g) {
      sc[g] = wb[b].scales[g] & 0x0F;
      mn[g] = wb[b].scales[g] >> 4;
    }
    const float da = ab[b].d;
    acc += (da * load_f16(wb[b].d)) * static_cast<float>(scaled_group_dot(q, ab[b].qs, sc, 16)) -
           (da * load_f16(wb[b].dmin)) * static_cast<float>(min_dot(ab[b], mn, 16));
  }
  return acc;
}

float vec_dot_q3_k_q8_k(const void* w, const void* a, int64_t n) {
  const auto* wb = static_cast<const BlockQ3_K*>(w);
  const auto* ab = static_cast<const BlockQ8_K*>(a);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / kQKK; ++b) {
    int q[kQKK], sc[16];
    levels_q3_k(wb[b], q);
    for (int g = 0; g < 16; ++g) sc[g] = kscale6_q3(wb[b].scales, g);
    acc += (ab[b].d * load_f16(wb[b].d)) * static_cast<float>(scaled_group_dot(q, ab[b].qs, sc, 16));
  }
  return acc;
}

namespace {
template <typename Block>
float dot_q45_k(const void* w, const void* a, int64_t n, bool five_bits) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* ab = static_cast<const BlockQ8_K*>(a);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / kQKK; ++b) {
    int q[kQKK], sc[8], mn[8];
    levels_q45_k(wb[b], five_bits, q);
    for (int g = 0; g < 8; ++g) {
      const KScaleMin s = kscale6_q4(wb[b].scales, g);
      sc[g] = s.sc;
      mn[g] = s.mn;
    }
    const float da = ab[b].d;
    acc += (da * load_f16(wb[b].d)) * static_cast<float>(scaled_group_dot(q, ab[b].qs, sc, 32)) -
           (da * load_f16(wb[b].dmin)) * static_cast<float>(min_dot(ab[b], mn, 32));
  }
  return acc;
}
}  // namespace

float vec_dot_q4_k_q8_k(const void* w, const void* a, int64_t n) { return dot_q45_k<BlockQ4_K>(w, a, n, false); }
float vec_dot_q5_k_q8_k(const void* w, const void* a, int64_t n) { return dot_q45_k<BlockQ5_K>(w, a, n, true); }

float vec_dot_q6_k_q8_k(const void* w, const void* a, int64_t n) {
  const auto* wb = static_cast<const BlockQ6_K*>(w);
  const auto* ab = static_cast<const BlockQ8_K*>(a);
  float acc = 0.0f;
  for (int64_t b = 0; b < n / kQKK; ++b) {
    int q[kQKK], sc[16];
    levels_q6_k(wb[b], q);
    for (int g = 0; g < 16; ++g) sc[g] = wb[b].scales[g];
    acc += (ab[b].d * load_f16(wb[b].d)) * static_cast<float>(scaled_group_dot(q, ab[b].qs, sc, 16));
  }
  return acc;
}

}  // namespace laneway::quant_detail
