// Sampler stages: pure functions over a Candidates set, usable on their own
// (tests, experiments) or chained by Sampler.
//
// Every stage keeps at least one candidate (the most likely one) and keeps
// the Candidates order guarantees (see candidates.h), so the final draw is
// reproducible. Costs are for V live candidates and a cut-off of k.
#pragma once

#include <cstdint>
#include <span>

#include "sampling/candidates.h"
#include "sampling/token_history.h"

namespace laneway {

// Repetition, then presence and frequency penalties, for each token in
// `counts` (count > 0):
//   logit = logit > 0 ? logit / repeat_penalty : logit * repeat_penalty
//   logit -= presence_penalty + frequency_penalty * count
// O(n) for n entries in counts while candidates are in id order (as
// assign() leaves them), O(V log n) otherwise. Does not reorder; any sorted prefix is
// dropped since logits changed.
float penalized_logit(float logit, int32_t count, float repeat_penalty, float presence_penalty,
                      float frequency_penalty);
// Whether the three penalty values change anything at all.
inline bool penalties_neutral(float repeat_penalty, float presence_penalty, float frequency_penalty) {
  return repeat_penalty == 1.0f && presence_penalty == 0.0f && frequency_penalty == 0.0f;
}
void apply_penalties(Candidates& c, std::span<const TokenCount> counts, float repeat_penalty,
                     float presence_penalty, float frequency_penalty);

// Keeps the k highest-ranked candidates, sorted. k <= 0 or k >= V: no-op.
// O(V log k) (partial sort), never a full sort.
void apply_top_k(Candidates& c, int32_t k);

// Keeps the smallest sorted prefix whose probability sum reaches p (the
// comparison allows 1e-6 for rounding, so p = 0.75 over probabilities
// 0.5, 0.25, ... keeps two). p >= 1: no-op. Softmax over all V, then sorts
// only as far as the cut-off needs, not the whole set: over a large
// unsorted set a mass histogram finds the cut-off region in O(V) first.
void apply_top_p(Candidates& c, float p);

// Keeps candidates whose probability is >= min_p times the top one's,
// i.e. logit >= max_logit + ln(min_p); no exp needed. min_p <= 0: no-op.
// O(V), stable.
void apply_min_p(Candidates& c, float min_p);

// Divides every logit by t (t > 0). Order is unchanged.
void apply_temperature(Candidates& c, float t);

// Fills p with the softmax of the live logits (sum in double). -inf gets 0;
// when some logits are +inf they share all the probability. All -inf: every
// p is 0.
void softmax_candidates(Candidates& c);

// Highest-ranked live candidate (ties: lowest id); -1 when there is none or
// every logit is -inf.
int32_t pick_greedy(const Candidates& c);

// Weighted draw given u in [0, 1): softmax, then walks the live candidates
// in their current order and returns the first whose running probability
// sum exceeds u * total. -1 when no candidate has probability > 0.
int32_t pick_with_uniform(Candidates& c, double u);

}  // namespace laneway
