#include "sampling/sampling_params.h"

#include <cmath>

namespace laneway {

std::string_view sampler_stage_name(SamplerStage stage) {
  switch (stage) {
    case SamplerStage::penalties: return "penalties";
    case SamplerStage::top_k: return "top_k";
    case SamplerStage::top_p: return "top_p";
    case SamplerStage::min_p: return "min_p";
    case SamplerStage::temperature: return "temperature";
  }
  return "unknown";
}

Status validate_sampling_params(const SamplingParams& p) {
  // NaN fails every comparison, so each check is written to let only good
  // values through.
  if (!(std::isfinite(p.temperature) && p.temperature >= 0.0f)) {
    return invalid_argument_error("temperature must be a finite number >= 0 (0 means greedy), got {}",
                                  p.temperature);
  }
  if (p.top_k < 0) {
    return invalid_argument_error("top_k must be >= 0 (0 turns it off), got {}", p.top_k);
  }
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    return invalid_argument_error("top_p must be in (0, 1] (1 turns it off), got {}", p.top_p);
  }
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) {
    return invalid_argument_error("min_p must be in [0, 1] (0 turns it off), got {}", p.min_p);
  }
  if (!(std::isfinite(p.repeat_penalty) && p.repeat_penalty > 0.0f)) {
    return invalid_argument_error("repeat_penalty must be a finite number > 0 (1 turns it off), got {}",
                                  p.repeat_penalty);
  }
  if (!std::isfinite(p.presence_penalty)) {
    return invalid_argument_error("presence_penalty must be a finite number, got {}", p.presence_penalty);
  }
  if (!std::isfinite(p.frequency_penalty)) {
    return invalid_argument_error("frequency_penalty must be a finite number, got {}", p.frequency_penalty);
  }
  if (p.penalty_last_n < -1) {
    return invalid_argument_error(
        "penalty_last_n must be >= -1 (-1 = whole generation, 0 = off), got {}", p.penalty_last_n);
  }
  return Status::ok();
}

Status validate_sampler_chain(std::span<const SamplerStage> chain) {
  uint32_t seen = 0;
  for (SamplerStage stage : chain) {
    const auto bit = static_cast<uint32_t>(stage);
    if (bit > static_cast<uint32_t>(SamplerStage::temperature)) {
      return invalid_argument_error("sampler chain: unknown stage {}", bit);
    }
    if (seen & (1u << bit)) {
      return invalid_argument_error("sampler chain: stage {} appears more than once",
                                    sampler_stage_name(stage));
    }
    seen |= 1u << bit;
  }
  return Status::ok();
}

}  // namespace laneway
