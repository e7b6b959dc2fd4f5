// Sampler: one request's sampler chain and its state.
//
//   auto sampler = Sampler::create(params, n_vocab);        // validates
//   for (...) {
//     LANEWAY_ASSIGN_OR_RETURN(int32_t token, sampler->sample(logits));
//     sampler->accept(token);   // feeds the penalties' window
//   }
//
// Chain: penalties -> top-k -> top-p -> min-p -> temperature -> draw by
// default (kDefaultSamplerChain); another order, or a subset, can be given
// to create(). temperature == 0 is greedy: penalties (if in the chain),
// then argmax with ties to the lowest id; the truncating stages cannot
// change an argmax, so they are skipped, and no random number is drawn.
// Otherwise every sample() draws exactly one number from the request's RNG,
// so the n-th token always uses the n-th draw.
//
// Determinism: the same params, seed, logits and accepted tokens give the
// same tokens. The RNG and the order of every sum are fixed; the one
// outside input is the C library's expf, whose last-bit results can differ
// between C libraries (a token changes only if a draw lands within about
// 1e-7 of a boundary).
//
// Speed: when the chain starts with top-k (after penalties), and always when
// greedy, sample() finds the k best tokens in one pass over the logits
// instead of copying the whole vocabulary; the result is bit-identical to
// running the stages one by one (tested), it is only faster.
//
// State (RNG, penalty window) belongs to the request, so a request keeps it
// when the server moves it between slots. The sampler also owns a scratch
// buffer of 12 bytes per vocabulary entry, sized at create(); sample()
// allocates nothing. Copyable (a copy continues the same stream) and
// movable; not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "sampling/candidates.h"
#include "sampling/rng.h"
#include "sampling/sampling_params.h"
#include "sampling/token_history.h"

namespace laneway {

class Sampler {
 public:
  // invalid_argument for bad params (naming the field), n_vocab < 1 or a
  // chain naming a stage twice.
  static Result<Sampler> create(const SamplingParams& params, int32_t n_vocab,
                                std::span<const SamplerStage> chain = kDefaultSamplerChain);

  // Picks the next token from logits [n_vocab]. Does not accept it.
  // invalid_argument when logits has the wrong size; internal when every
  // logit is -inf or NaN (the model produced nothing usable).
  Result<int32_t> sample(std::span<const float> logits);

  // Records a token (generated or, if the caller wants penalties to see the
  // prompt, a prompt token) in the penalty window. Ids outside the
  // vocabulary are remembered but never match a logit.
  void accept(int32_t token);

  // Back to the state right after create(): empty window, RNG reseeded.
  void reset();

  const SamplingParams& params() const { return params_; }
  int32_t n_vocab() const { return n_vocab_; }
  bool is_greedy() const { return params_.temperature <= 0.0f; }
  std::span<const SamplerStage> chain() const { return chain_; }
  const TokenHistory& history() const { return history_; }

 private:
  Sampler() = default;
  void apply(SamplerStage stage);
  // Fast path for a leading top-k (and greedy, which is top-1): loads only
  // the k best tokens after penalties without touching the rest of the
  // vocabulary twice. Returns false when the shortcut does not pay off.
  bool load_top_k(std::span<const float> logits, size_t k, bool fold_penalties);

  SamplingParams params_;
  int32_t n_vocab_ = 0;
  std::vector<SamplerStage> chain_;
  bool penalties_in_chain_ = false;
  // When the chain opens with top-k (penalties may come first), sample()
  // selects the top k straight from the logits and resumes the chain at
  // fused_resume_; fused_penalties_ says whether penalties were folded in.
  bool fused_top_k_ = false;
  bool fused_penalties_ = false;
  size_t fused_resume_ = 0;
  TokenHistory history_;
  SamplerRng rng_;
  Candidates candidates_;  // scratch, reused by every sample()
};

}  // namespace laneway
