// SamplingParams: the knobs of one request's sampler, in native form.
//
// The server maps OpenAI/Ollama fields onto these (temperature, top_p, top_k,
// min_p, seed, presence_penalty, frequency_penalty) and enforces the APIs'
// own ranges; validate_sampling_params() only rejects values the sampler
// cannot give a meaning to. Every stage has a neutral value that turns it
// off, noted beside the field.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/status.h"

namespace laneway {

struct SamplingParams {
  // Divides logits. 0 means greedy (argmax; ties go to the lowest token id);
  // negative is an error.
  float temperature = 0.8f;
  // Keep the k most likely tokens. 0 = off; larger than the vocabulary = off.
  int32_t top_k = 40;
  // Keep the smallest set of most likely tokens whose probability reaches
  // top_p. In (0, 1]; 1 = off.
  float top_p = 0.95f;
  // Keep tokens whose probability is at least min_p times the most likely
  // one's. In [0, 1]; 0 = off.
  float min_p = 0.05f;
  // llama-style repetition penalty for tokens in the penalty window: a
  // positive logit is divided by it, a negative one multiplied. > 0; 1 = off.
  float repeat_penalty = 1.0f;
  // OpenAI semantics over the penalty window:
  //   logit -= presence_penalty * [count > 0] + frequency_penalty * count.
  // Any finite value; 0 = off.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  // How many of the most recently accepted tokens the three penalties look
  // at. 0 = penalties off; -1 = every token accepted since reset() (what
  // OpenAI's presence/frequency penalties mean over a whole generation).
  int32_t penalty_last_n = 64;
  // Seeds the request's RNG. The sampler never picks one: a caller whose
  // client gave no seed draws a random one and may report it.
  uint64_t seed = 0;
};

// The stages a chain is built from. The final pick (a weighted draw, or
// argmax when greedy) is not a stage: it always comes last.
enum class SamplerStage : uint8_t {
  penalties,
  top_k,
  top_p,
  min_p,
  temperature,
};

// The common default order: penalties -> top-k -> top-p -> min-p ->
// temperature -> draw. top-k first keeps the later stages working on k
// tokens instead of the whole vocabulary; min-p and top-p see untempered
// probabilities, as in llama.cpp's default chain.
inline constexpr std::array<SamplerStage, 5> kDefaultSamplerChain = {
    SamplerStage::penalties, SamplerStage::top_k, SamplerStage::top_p,
    SamplerStage::min_p, SamplerStage::temperature};

std::string_view sampler_stage_name(SamplerStage stage);

// invalid_argument naming the field ("top_p must be in (0, 1], got 1.5").
Status validate_sampling_params(const SamplingParams& params);

// A chain may leave stages out (they do not run, whatever their params say)
// and order them freely, but may name each stage at most once.
Status validate_sampler_chain(std::span<const SamplerStage> chain);

}  // namespace laneway
