// Rotary position angles: the rotation frequency of each dimension pair,
// from the rope base, Llama-3 frequency factors and declared rope scaling
// (linear, YaRN), and the magnitude YaRN scales cos and sin by. The angle
// of pair i at position p is p * inv_freq[i], computed in double so that
// positions in the millions keep their angles (float32 angles drift by
// tenths of a radian there).
//
// YaRN (Peng et al. 2023, as llama.cpp's GGUF files declare it): with
// freq_scale = 1 / factor, pair i rotates at
//   f_i * (freq_scale * (1 - r_i) + r_i),   f_i = base^(-2i/d) / factor_i,
// where the ramp r_i is 1 for pairs that turn more than beta_fast times over
// the original context (kept), 0 for those that turn fewer than beta_slow
// times (interpolated), linear between; cos and sin are multiplied by
// attn_factor * (1 + 0.1 ln(1 / freq_scale)).
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "model/hparams.h"

namespace laneway {

struct RopeFrequencies {
  std::vector<double> inv_freq;  // [rope_dim / 2] radians per position
  double mscale = 1.0;           // cos and sin multiplied by this
};

// factors: rope_freqs.weight (rope_dim / 2 divisors) or empty.
RopeFrequencies rope_frequencies(const ModelHparams& hp, std::span<const float> factors);

// YaRN's correction range: the pairs [low, high] between which the ramp
// runs, from the rotations beta_fast and beta_slow over orig_ctx positions:
// low = floor(d(beta_fast)), high = ceil(d(beta_slow)), clamped to [0, rope_dim - 1],
// d(n) = rope_dim * ln(orig_ctx / (2 pi n)) / (2 ln base).
std::pair<double, double> yarn_correction_range(int64_t rope_dim, int64_t orig_ctx, double base, double beta_fast,
                                                double beta_slow);
// The ramp of pair i: 1 - clamp((i - low) / max(0.001, high - low), 0, 1).
double yarn_ramp(double low, double high, int64_t pair);

// cos and sin of pair i at position pos, interleaved, rope_dim / 2 pairs.
void rope_cos_sin(const RopeFrequencies& f, int64_t pos, float* out);

}  // namespace laneway
