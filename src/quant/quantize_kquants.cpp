// Encoders of the k-quants and of Q8_K. Each group (16 or 32 values) gets
// its own float scale (and min) from a small search: a handful of candidate
// scales around the one that spans the group's range, each refined by a
// least-squares fit for its rounded levels, keeping the one with the least
// squared error. The group scales are then coded relative to the f16 block
// scale(s), and every value is re-rounded against the scale it will actually
// be decoded with. Good enough for `laneway synth` and tests, not tuned for
// quality like an importance-matrix quantizer.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/quant_internal.h"

namespace laneway::quant_detail {
namespace {

constexpr int kCandidates = 9;

float clamp_scale(float d) { return std::clamp(d, -kF16Max, kF16Max); }

int round_clamped(float v, int lo, int hi) {
  if (!(v > static_cast<float>(lo))) return lo;  // also catches NaN
  if (v >= static_cast<float>(hi)) return hi;
  return round_nearest(v);
}

// x ~ scale * q - min with q in [0, qmax], scale >= 0, min >= 0.
struct AffineFit {
  float scale = 0.0f;
  float min = 0.0f;
};

float affine_error(const float* x, int n, int qmax, float scale, float min) {
  float err = 0.0f;
  const float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
  for (int i = 0; i < n; ++i) {
    const int q = round_clamped((x[i] + min) * inv, 0, qmax);
    const float e = scale * static_cast<float>(q) - min - x[i];
    err += e * e;
  }
  return err;
}

AffineFit fit_affine(const float* x, int n, int qmax) {
  float lo = 0.0f, hi = x[0];
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);  // the min is subtracted, so it can only move values down
    hi = std::max(hi, x[i]);
  }
  AffineFit best{(hi - lo) / static_cast<float>(qmax), -lo};
  if (!(hi > lo)) return {0.0f, -lo};  // all equal (and <= 0): the min alone
  float best_err = affine_error(x, n, qmax, best.scale, best.min);
  for (int c = 0; c < kCandidates; ++c) {
    // Candidate level spacing: qmax +- 0.8 steps across the range.
    const float steps = static_cast<float>(qmax) + 0.2f * static_cast<float>(c - kCandidates / 2);
    const float inv = steps / (hi - lo);
    double sq = 0, sqq = 0, sx = 0, sqx = 0;
    for (int i = 0; i < n; ++i) {
      const double q = round_clamped((x[i] - lo) * inv, 0, qmax);
      sq += q;
      sqq += q * q;
      sx += x[i];
      sqx += q * x[i];
    }
    // Least squares for x ~ scale * q + offset; offset <= 0 (min >= 0).
    const double det = n * sqq - sq * sq;
    if (det <= 0) continue;
    double scale = (n * sqx - sq * sx) / det;
    double offset = (sqq * sx - sq * sqx) / det;
    if (offset > 0) {
      offset = 0;
      scale = sqx / sqq;
    }
    if (!(scale > 0)) continue;
    const AffineFit fit{static_cast<float>(scale), static_cast<float>(-offset)};
    const float err = affine_error(x, n, qmax, fit.scale, fit.min);
    if (err < best_err) {
      best_err = err;
      best = fit;
    }
  }
  return best;
}

// x ~ scale * q with q in [-nneg, npos]; the scale may be negative (the
// levels are asymmetric, so the sign picks which end the largest value uses).
float symmetric_error(const float* x, int n, int nneg, int npos, float scale) {
  const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
  float err = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int q = round_clamped(x[i] * inv, -nneg, npos);
    const float e = scale * static_cast<float>(q) - x[i];
    err += e * e;
  }
  return err;
}

float fit_symmetric(const float* x, int n, int nneg, int npos) {
  float amax = 0.0f, xm = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      xm = x[i];
    }
  }
  if (amax == 0.0f) return 0.0f;
  float best = xm / -static_cast<float>(nneg);  // largest value on the long (negative) end
  float best_err = symmetric_error(x, n, nneg, npos, best);
  for (int c = 0; c < 2 * kCandidates; ++c) {
    // First half: xm near level -nneg; second half: near level +npos.
    const bool neg = c < kCandidates;
    const float target = neg ? -static_cast<float>(nneg) : static_cast<float>(npos);
    const float step = 0.15f * static_cast<float>((c % kCandidates) - kCandidates / 2);
    const float inv = (target + (neg ? step : -step)) / xm;
    double sqq = 0, sqx = 0;
    for (int i = 0; i < n; ++i) {
      const double q = round_clamped(x[i] * inv, -nneg, npos);
      sqq += q * q;
      sqx += q * x[i];
    }
    if (sqq <= 0) continue;
    const auto scale = static_cast<float>(sqx / sqq);
    const float err = symmetric_error(x, n, nneg, npos, scale);
    if (err < best_err) {
      best_err = err;
      best = scale;
    }
  }
  return best;
}

// Block scale for group scales s[] coded as integers up to `smax`: the f16
// pattern, plus the integer codes.
uint16_t code_scales(const float* s, int groups, int smin, int smax, int* codes) {
  float amax = 0.0f;
  for (int g = 0; g < groups; ++g) amax = std::max(amax, std::fabs(s[g]));
  // Round the block scale up, never down: a smaller stored scale would push
  // the largest group's code past smax and clip it (f16 subnormal scales
  // are coarse, so this happens for small weights).
  const float need = clamp_scale(amax / static_cast<float>(smax));
  uint16_t stored = fp32_to_fp16(need);
  if (load_f16(stored) < need) ++stored;  // positive f16 patterns order like their values
  const float d = load_f16(stored);
  for (int g = 0; g < groups; ++g) codes[g] = d > 0.0f ? round_clamped(s[g] / d, smin, smax) : 0;
  return stored;
}

// Affine k-quants (Q2_K, Q4_K, Q5_K): group scales/mins, their codes, and
// the final levels against the decoded scales (computed as the decoder does).
template <int kGroup, int kQMax, int kScaleMax>
void affine_kquant(const float* x, uint16_t* d_out, uint16_t* dmin_out, int* sc, int* mn, uint8_t* levels) {
  constexpr int kGroups = kQKK / kGroup;
  float scales[kGroups], mins[kGroups];
  for (int g = 0; g < kGroups; ++g) {
    const AffineFit f = fit_affine(x + g * kGroup, kGroup, kQMax);
    scales[g] = f.scale;
    mins[g] = f.min;
  }
  *d_out = code_scales(scales, kGroups, 0, kScaleMax, sc);
  *dmin_out = code_scales(mins, kGroups, 0, kScaleMax, mn);
  const float d = load_f16(*d_out), dmin = load_f16(*dmin_out);
  for (int g = 0; g < kGroups; ++g) {
    const float dl = d * static_cast<float>(sc[g]);
    const float ml = dmin * static_cast<float>(mn[g]);
    const float inv = dl > 0.0f ? 1.0f / dl : 0.0f;
    for (int i = g * kGroup; i < (g + 1) * kGroup; ++i) {
      levels[i] = static_cast<uint8_t>(round_clamped((x[i] + ml) * inv, 0, kQMax));
    }
  }
}

// Symmetric k-quants (Q3_K, Q6_K): signed group scales and levels in
// [-nneg, npos]; returns levels offset by +nneg (the stored unsigned form).
template <int kNNeg, int kNPos, int kScaleMax>
uint16_t symmetric_kquant(const float* x, int* sc, uint8_t* levels) {
  constexpr int kGroups = kQKK / 16;
  float scales[kGroups];
  for (int g = 0; g < kGroups; ++g) scales[g] = fit_symmetric(x + 16 * g, 16, kNNeg, kNPos);
  const uint16_t stored = code_scales(scales, kGroups, -kScaleMax, kScaleMax, sc);
  const float d = load_f16(stored);
  for (int g = 0; g < kGroups; ++g) {
    const float dl = d * static_cast<float>(sc[g]);
    const float inv = dl != 0.0f ? 1.0f / dl : 0.0f;
    for (int i = 16 * g; i < 16 * (g + 1); ++i) {
      levels[i] = static_cast<uint8_t>(round_clamped(x[i] * inv, -kNNeg, kNPos) + kNNeg);
    }
  }
  return stored;
}

// Bit pair / nibble packing shared by Q2_K and Q3_K: element 128h + 32j + l
// goes to bits 2j.. of qs[32h + l].
void pack_2bit(const uint8_t* levels, uint8_t* qs) {
  std::memset(qs, 0, kQKK / 4);
  for (int e = 0; e < kQKK; ++e) {
    const int h = e / 128, j = (e % 128) / 32, l = e % 32;
    qs[32 * h + l] |= static_cast<uint8_t>((levels[e] & 3) << (2 * j));
  }
}

void pack_scales_q4(const int* sc, const int* mn, uint8_t* s) {
  std::memset(s, 0, kKScaleBytes);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] |= static_cast<uint8_t>(sc[j] & 63);
      s[j + 4] |= static_cast<uint8_t>(mn[j] & 63);
    } else {
      s[j + 4] = static_cast<uint8_t>((sc[j] & 0x0F) | ((mn[j] & 0x0F) << 4));
      s[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      s[j] |= static_cast<uint8_t>((mn[j] >> 4) << 6);
    }
  }
}

template <typename Block>
bool nan_k_block(const float* x, Block* blk) {
  if (all_finite(x, kQKK)) return false;
  std::memset(blk, 0, sizeof(Block));
  blk->d = kF16NaN;
  return true;
}

}  // namespace

void quantize_q2_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ2_K*>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b, src += kQKK) {
    BlockQ2_K& blk = blocks[b];
    if (nan_k_block(src, &blk)) continue;
    int sc[16], mn[16];
    uint8_t levels[kQKK];
    uint16_t d, dmin;
    affine_kquant<16, 3, 15>(src, &d, &dmin, sc, mn, levels);
    blk.d = d;
    blk.dmin = dmin;
    for (int g = 0; g < 16; ++g) blk.scales[g] = static_cast<uint8_t>(sc[g] | (mn[g] << 4));
    pack_2bit(levels, blk.qs);
  }
}

void quantize_q3_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ3_K*>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b, src += kQKK) {
    BlockQ3_K& blk = blocks[b];
    if (nan_k_block(src, &blk)) continue;
    int sc[16];
    uint8_t levels[kQKK];  // level + 4, in [0, 7]
    blk.d = symmetric_kquant<4, 3, 31>(src, sc, levels);
    std::memset(blk.scales, 0, sizeof(blk.scales));
    for (int g = 0; g < 16; ++g) {
      const int u = sc[g] + 32;  // 6-bit unsigned code
      blk.scales[g < 8 ? g : g - 8] |= static_cast<uint8_t>((u & 0x0F) << (g < 8 ? 0 : 4));
      blk.scales[8 + (g & 3)] |= static_cast<uint8_t>((u >> 4) << (2 * (g >> 2)));
    }
    pack_2bit(levels, blk.qs);
    std::memset(blk.hmask, 0, sizeof(blk.hmask));
    for (int e = 0; e < kQKK; ++e) {
      const int h = e / 128, j = (e % 128) / 32, l = e % 32;
      blk.hmask[l] |= static_cast<uint8_t>((levels[e] >> 2) << (4 * h + j));
    }
  }
}

void quantize_q4_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ4_K*>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b, src += kQKK) {
    BlockQ4_K& blk = blocks[b];
    if (nan_k_block(src, &blk)) continue;
    int sc[8], mn[8];
    uint8_t levels[kQKK];
    uint16_t d, dmin;
    affine_kquant<32, 15, 63>(src, &d, &dmin, sc, mn, levels);
    blk.d = d;
    blk.dmin = dmin;
    pack_scales_q4(sc, mn, blk.scales);
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        blk.qs[32 * c + l] = static_cast<uint8_t>(levels[64 * c + l] | (levels[64 * c + 32 + l] << 4));
      }
    }
  }
}

void quantize_q5_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ5_K*>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b, src += kQKK) {
    BlockQ5_K& blk = blocks[b];
    if (nan_k_block(src, &blk)) continue;
    int sc[8], mn[8];
    uint8_t levels[kQKK];
    uint16_t d, dmin;
    affine_kquant<32, 31, 63>(src, &d, &dmin, sc, mn, levels);
    blk.d = d;
    blk.dmin = dmin;
    pack_scales_q4(sc, mn, blk.scales);
    std::memset(blk.qh, 0, sizeof(blk.qh));
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo = levels[64 * c + l], hi = levels[64 * c + 32 + l];
        blk.qs[32 * c + l] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
        blk.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
      }
    }
  }
}

void quantize_q6_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ6_K*>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b, src += kQKK) {
    BlockQ6_K& blk = blocks[b];
    if (nan_k_block(src, &blk)) continue;
    int sc[16];
    uint8_t levels[kQKK];  // level + 32, in [0, 63]
    blk.d = symmetric_kquant<32, 31, 127>(src, sc, levels);
    for (int g = 0; g < 16; ++g) blk.scales[g] = static_cast<int8_t>(sc[g]);
    std::memset(blk.qh, 0, sizeof(blk.qh));
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = levels + 128 * h;
      for (int l = 0; l < 32; ++l) {
        blk.ql[64 * h + l] = static_cast<uint8_t>((q[l] & 0x0F) | ((q[l + 64] & 0x0F) << 4));
        blk.ql[64 * h + 32 + l] = static_cast<uint8_t>((q[l + 32] & 0x0F) | ((q[l + 96] & 0x0F) << 4));
        blk.qh[32 * h + l] = static_cast<uint8_t>((q[l] >> 4) | ((q[l + 32] >> 4) << 2) | ((q[l + 64] >> 4) << 4) |
                                                  ((q[l + 96] >> 4) << 6));
      }
    }
  }
}

void quantize_q8_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8_K*>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b, src += kQKK) {
    BlockQ8_K& blk = blocks[b];
    float amax = 0.0f;
    bool finite = true;
    for (int i = 0; i < kQKK; ++i) {
      amax = std::max(amax, std::fabs(src[i]));
      finite = finite && std::isfinite(src[i]);
    }
    std::memset(&blk, 0, sizeof(blk));
    if (!finite) {
      blk.d = std::nanf("");
      continue;
    }
    // Same recipe as Q8_0 but with an f32 scale. An inverse that overflows
    // (amax below ~4e-37) leaves the block zero: such activations are noise.
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (!std::isfinite(id)) continue;
    blk.d = d;
    for (int g = 0; g < kQKK / 16; ++g) {
      int sum = 0;
      for (int i = 16 * g; i < 16 * (g + 1); ++i) {
        const int q = round_nearest(std::clamp(src[i] * id, -127.0f, 127.0f));
        blk.qs[i] = static_cast<int8_t>(q);
        sum += q;
      }
      blk.bsums[g] = static_cast<int16_t>(sum);
    }
  }
}

}  // namespace laneway::quant_detail
