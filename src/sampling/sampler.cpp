#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sampling/stages.h"

namespace laneway {

Result<Sampler> Sampler::create(const SamplingParams& params, int32_t n_vocab,
                                std::span<const SamplerStage> chain) {
  LANEWAY_TRY(validate_sampling_params(params));
  LANEWAY_TRY(validate_sampler_chain(chain));
  if (n_vocab < 1) return invalid_argument_error("n_vocab must be >= 1, got {}", n_vocab);

  Sampler s;
  s.params_ = params;
  s.n_vocab_ = n_vocab;
  s.chain_.assign(chain.begin(), chain.end());
  s.penalties_in_chain_ =
      std::find(chain.begin(), chain.end(), SamplerStage::penalties) != chain.end();
  s.history_ = TokenHistory(s.penalties_in_chain_ ? params.penalty_last_n : 0);
  s.rng_.reseed(params.seed);
  for (size_t i = 0; i < chain.size(); ++i) {
    if (chain[i] == SamplerStage::penalties) continue;
    if (chain[i] == SamplerStage::top_k) {
      s.fused_top_k_ = true;
      s.fused_penalties_ = i > 0;  // the only stage allowed before it
      s.fused_resume_ = i + 1;
    }
    break;
  }
  // Size the scratch now so that the first sample() allocates nothing either.
  s.candidates_.reserve(static_cast<size_t>(n_vocab));
  return s;
}

void Sampler::apply(SamplerStage stage) {
  switch (stage) {
    case SamplerStage::penalties:
      apply_penalties(candidates_, history_.counts(), params_.repeat_penalty,
                      params_.presence_penalty, params_.frequency_penalty);
      break;
    case SamplerStage::top_k: apply_top_k(candidates_, params_.top_k); break;
    case SamplerStage::top_p: apply_top_p(candidates_, params_.top_p); break;
    case SamplerStage::min_p: apply_min_p(candidates_, params_.min_p); break;
    case SamplerStage::temperature: apply_temperature(candidates_, params_.temperature); break;
  }
}

Result<int32_t> Sampler::sample(std::span<const float> logits) {
  if (logits.size() != static_cast<size_t>(n_vocab_)) {
    return invalid_argument_error("sampler expects {} logits (n_vocab), got {}", n_vocab_,
                                  logits.size());
  }
  int32_t token = -1;
  if (is_greedy()) {
    if (!load_top_k(logits, 1, penalties_in_chain_)) {
      candidates_.assign(logits);
      if (penalties_in_chain_) apply(SamplerStage::penalties);
    }
    token = pick_greedy(candidates_);
  } else {
    size_t first = 0;
    if (fused_top_k_ && params_.top_k > 0 &&
        load_top_k(logits, static_cast<size_t>(params_.top_k), fused_penalties_)) {
      first = fused_resume_;
    } else {
      candidates_.assign(logits);
    }
    for (size_t i = first; i < chain_.size(); ++i) apply(chain_[i]);
    token = pick_with_uniform(candidates_, rng_.next_uniform());
  }
  if (token < 0) {
    return internal_error("no token can be sampled: all {} logits are -inf or NaN", n_vocab_);
  }
  return token;
}

bool Sampler::load_top_k(std::span<const float> logits, size_t k, bool fold_penalties) {
  std::span<const TokenCount> counts;
  if (fold_penalties && !penalties_neutral(params_.repeat_penalty, params_.presence_penalty,
                                           params_.frequency_penalty)) {
    counts = history_.counts();
  }
  // Room for the selection plus every penalized token; past a quarter of
  // the vocabulary the plain path is as fast.
  const size_t n_vocab = logits.size();
  if (k + 2 * counts.size() > n_vocab / 4) return false;

  // A penalty can move any seen token into (or out of) the top k, and at
  // most counts.size() seen tokens rank above an unseen one by raw logit.
  // So the raw top (k + seen) plus every seen token, penalized, holds the
  // true top k.
  candidates_.assign_top(logits, k + counts.size());  // listed by id
  if (!counts.empty()) {
    const size_t n_selected = candidates_.size();
    size_t j = 0;
    for (const TokenCount& tc : counts) {
      if (tc.id < 0 || static_cast<size_t>(tc.id) >= n_vocab) continue;
      while (j < n_selected && candidates_[j].id < tc.id) ++j;
      if (j < n_selected && candidates_[j].id == tc.id) {
        float& logit = candidates_[j].logit;
        logit = penalized_logit(logit, tc.count, params_.repeat_penalty,
                                params_.presence_penalty, params_.frequency_penalty);
      } else {
        const float raw = logits[static_cast<size_t>(tc.id)];
        const float logit = std::isnan(raw) ? -std::numeric_limits<float>::infinity() : raw;
        candidates_.append({tc.id,
                            penalized_logit(logit, tc.count, params_.repeat_penalty,
                                            params_.presence_penalty, params_.frequency_penalty),
                            0.0f});
      }
    }
  }
  // Exactly what apply_top_k leaves on the full vocabulary: k entries, sorted.
  candidates_.sort_prefix(k);
  candidates_.truncate(k);
  return true;
}

void Sampler::accept(int32_t token) { history_.accept(token); }

void Sampler::reset() {
  history_.reset();
  rng_.reseed(params_.seed);
}

}  // namespace laneway
