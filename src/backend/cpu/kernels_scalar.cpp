// Scalar reference kernels: the arithmetic every SIMD kernel is compared to.
#include <cmath>
#include <cstring>

#include "backend/cpu/kernels.h"
#include "quant/quant.h"

namespace laneway::cpu_detail {
namespace {

float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

void quantize_q8_0(const float* x, uint8_t* out, int16_t* sums, int64_t n) {
  quantize_row(GgmlType::q8_0, x, out, n);
  if (sums == nullptr) return;
  for (int64_t g = 0; g < n / 16; ++g) {
    const auto* q = reinterpret_cast<const int8_t*>(out + (g / 2) * kQ8BlockBytes + 2 + (g % 2) * 16);
    int s = 0;
    for (int i = 0; i < 16; ++i) s += q[i];
    sums[g] = static_cast<int16_t>(s);
  }
}

// Q4_K: 8 groups of 32 per 256; value = d*sc*q - dmin*m.
void dot_q4_k(const uint8_t* row, const uint8_t* const* act, const int16_t* const* sums, int n_act, int64_t n,
              float* out) {
  for (int j = 0; j < n_act; ++j) {
    float acc = 0, acc_min = 0;
    for (int64_t s = 0; s < n / 256; ++s) {
      const uint8_t* blk = row + s * 144;
      const float d = load_f16(blk), dmin = load_f16(blk + 2);
      for (int g = 0; g < 8; ++g) {
        uint8_t sc, m;
        kquant_scale_min(blk + 4, g, sc, m);
        const int64_t b = s * 8 + g;
        const uint8_t* ab = act[j] + b * kQ8BlockBytes;
        const float da = load_f16(ab);
        const auto* aq = reinterpret_cast<const int8_t*>(ab + 2);
        const uint8_t* qs = blk + 16 + 32 * (g / 2);
        int32_t isum = 0;
        for (int i = 0; i < 32; ++i) isum += ((g % 2) ? (qs[i] >> 4) : (qs[i] & 0x0F)) * aq[i];
        acc += (d * static_cast<float>(sc) * da) * static_cast<float>(isum);
        acc_min += (dmin * static_cast<float>(m) * da) * static_cast<float>(sums[j][2 * b] + sums[j][2 * b + 1]);
      }
    }
    out[j] = acc - acc_min;
  }
}

// Q6_K: 16 groups of 16 per 256; value = d*sc*(q - 32).
void dot_q6_k(const uint8_t* row, const uint8_t* const* act, const int16_t* const* sums, int n_act, int64_t n,
              float* out) {
  for (int j = 0; j < n_act; ++j) {
    float acc = 0, acc_off = 0;
    for (int64_t s = 0; s < n / 256; ++s) {
      const uint8_t* blk = row + s * 210;
      const float d = load_f16(blk + 208);
      for (int g = 0; g < 8; ++g) {
        const int64_t b = s * 8 + g;
        const uint8_t* ab = act[j] + b * kQ8BlockBytes;
        const float dd = d * load_f16(ab);
        const auto* aq = reinterpret_cast<const int8_t*>(ab + 2);
        for (int h = 0; h < 2; ++h) {
          int32_t isum = 0;
          for (int l = 16 * h; l < 16 * h + 16; ++l) isum += q6k_value(blk, g, l) * aq[l];
          const float sc = static_cast<float>(q6k_scale(blk, g, h));
          acc += (dd * sc) * static_cast<float>(isum);
          acc_off += (dd * sc * 32.0f) * static_cast<float>(sums[j][2 * b + h]);
        }
      }
    }
    out[j] = acc - acc_off;
  }
}

template <typename BlockDot>
void dot_blocks(const uint8_t* row, const uint8_t* const* act, int n_act, int64_t n, float* out, int64_t row_block,
                BlockDot block_dot) {
  for (int j = 0; j < n_act; ++j) {
    float acc = 0;
    for (int64_t b = 0; b < n / kQ8Block; ++b) {
      const uint8_t* w = row + b * row_block;
      const uint8_t* a = act[j] + b * kQ8BlockBytes;
      acc += static_cast<float>(block_dot(w + 2, a + 2)) * (load_f16(w) * load_f16(a));
    }
    out[j] = acc;
  }
}

void dot_q8_0(const uint8_t* row, const uint8_t* const* act, int n_act, int64_t n, float* out) {
  dot_blocks(row, act, n_act, n, out, kQ8BlockBytes, [](const uint8_t* w, const uint8_t* a) {
    int32_t s = 0;
    for (int i = 0; i < 32; ++i) s += int32_t(int8_t(w[i])) * int32_t(int8_t(a[i]));
    return s;
  });
}

void dot_q4_0(const uint8_t* row, const uint8_t* const* act, int n_act, int64_t n, float* out) {
  dot_blocks(row, act, n_act, n, out, 18, [](const uint8_t* w, const uint8_t* a) {
    int32_t s = 0;
    for (int i = 0; i < 16; ++i) {
      s += (int32_t(w[i] & 0x0F) - 8) * int32_t(int8_t(a[i]));
      s += (int32_t(w[i] >> 4) - 8) * int32_t(int8_t(a[i + 16]));
    }
    return s;
  });
}

template <typename Load>
void dot_float(const uint8_t* row, const float* const* act, int n_act, int64_t n, float* out, Load load) {
  for (int j = 0; j < n_act; ++j) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int k = 0; k < 8; ++k) acc[k] += load(row, i + k) * act[j][i + k];
    for (int k = 0; i < n; ++i, ++k) acc[k] += load(row, i) * act[j][i];
    out[j] = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  }
}

void dot_f16(const uint8_t* row, const float* const* act, int n_act, int64_t n, float* out) {
  dot_float(row, act, n_act, n, out, [](const uint8_t* r, int64_t i) { return load_f16(r + 2 * i); });
}

void dot_f32(const uint8_t* row, const float* const* act, int n_act, int64_t n, float* out) {
  dot_float(row, act, n_act, n, out, [](const uint8_t* r, int64_t i) {
    float f;
    std::memcpy(&f, r + 4 * i, 4);
    return f;
  });
}

void f16_to_f32(const uint8_t* src, float* dst, int64_t n) { dequantize_row(GgmlType::f16, src, dst, n); }

}  // namespace

const CpuKernels& scalar_kernels() {
  static const CpuKernels k{CpuIsa::scalar, quantize_q8_0, dot_q8_0, dot_q4_0, dot_q4_k,
                            dot_q6_k,       dot_f16,       dot_f32,  f16_to_f32};
  return k;
}

}  // namespace laneway::cpu_detail
