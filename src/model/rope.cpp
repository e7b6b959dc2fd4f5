#include "model/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace laneway {

std::pair<double, double> yarn_correction_range(int64_t rope_dim, int64_t orig_ctx, double base, double beta_fast,
                                                double beta_slow) {
  const auto dim_for = [&](double rotations) {
    return static_cast<double>(rope_dim) *
           std::log(static_cast<double>(orig_ctx) / (rotations * 2.0 * std::numbers::pi)) / (2.0 * std::log(base));
  };
  const double low = std::max(0.0, std::floor(dim_for(beta_fast)));
  const double high = std::min(static_cast<double>(rope_dim - 1), std::ceil(dim_for(beta_slow)));
  return {low, high};
}

double yarn_ramp(double low, double high, int64_t pair) {
  const double y = (static_cast<double>(pair) - low) / std::max(0.001, high - low);
  return 1.0 - std::clamp(y, 0.0, 1.0);
}

RopeFrequencies rope_frequencies(const ModelHparams& hp, std::span<const float> factors) {
  RopeFrequencies f;
  const int64_t half = hp.rope_dim / 2;
  f.inv_freq.resize(static_cast<size_t>(half));
  std::pair<double, double> range{0.0, 0.0};
  if (hp.rope_scaling == RopeScaling::yarn) {
    range = yarn_correction_range(hp.rope_dim, hp.yarn.orig_ctx, hp.rope_freq_base, hp.yarn.beta_fast,
                                  hp.yarn.beta_slow);
    f.mscale = hp.yarn.attn_factor * (1.0 + 0.1 * std::log(1.0 / hp.rope_freq_scale));
  }
  for (int64_t i = 0; i < half; ++i) {
    double base = std::pow(hp.rope_freq_base, -2.0 * static_cast<double>(i) / static_cast<double>(hp.rope_dim));
    if (!factors.empty()) base /= static_cast<double>(factors[static_cast<size_t>(i)]);
    double scale = hp.rope_freq_scale;
    if (hp.rope_scaling == RopeScaling::yarn) {
      const double r = yarn_ramp(range.first, range.second, i);
      scale = hp.rope_freq_scale * (1.0 - r) + r;
    }
    f.inv_freq[static_cast<size_t>(i)] = base * scale;
  }
  return f;
}

void rope_cos_sin(const RopeFrequencies& f, int64_t pos, float* out) {
  const auto p = static_cast<double>(pos);
  for (size_t i = 0; i < f.inv_freq.size(); ++i) {
    const double theta = p * f.inv_freq[i];
    out[2 * i] = static_cast<float>(std::cos(theta) * f.mscale);
    out[2 * i + 1] = static_cast<float>(std::sin(theta) * f.mscale);
  }
}

}  // namespace laneway
