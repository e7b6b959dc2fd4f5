#include "sampling/stages.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace laneway {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

float max_logit(const Candidates& c) {
  if (c.sorted_prefix() > 0) return c[0].logit;
  float m = -kInf;
  for (const TokenCandidate& t : c.items()) m = std::max(m, t.logit);
  return m;
}

}  // namespace

float penalized_logit(float logit, int32_t count, float repeat_penalty, float presence_penalty,
                      float frequency_penalty) {
  logit = logit > 0.0f ? logit / repeat_penalty : logit * repeat_penalty;
  return logit - (presence_penalty + frequency_penalty * static_cast<float>(count));
}

void apply_penalties(Candidates& c, std::span<const TokenCount> counts, float repeat_penalty,
                     float presence_penalty, float frequency_penalty) {
  if (counts.empty()) return;
  if (penalties_neutral(repeat_penalty, presence_penalty, frequency_penalty)) return;
  if (c.in_id_order()) {
    for (const TokenCount& tc : counts) {
      if (tc.id < 0 || static_cast<size_t>(tc.id) >= c.size()) continue;
      float& logit = c[static_cast<size_t>(tc.id)].logit;
      logit = penalized_logit(logit, tc.count, repeat_penalty, presence_penalty, frequency_penalty);
    }
  } else {
    for (TokenCandidate& t : c.items()) {
      auto it = std::lower_bound(counts.begin(), counts.end(), t.id,
                                 [](const TokenCount& a, int32_t id) { return a.id < id; });
      if (it == counts.end() || it->id != t.id) continue;
      t.logit = penalized_logit(t.logit, it->count, repeat_penalty, presence_penalty, frequency_penalty);
    }
  }
  // Logits changed, so a sorted prefix may no longer be sorted; the entries
  // stay in their (well-defined) current order.
  c.set_sorted_prefix(c.size() <= 1 ? c.size() : 0);
}

void apply_top_k(Candidates& c, int32_t k) {
  if (k <= 0 || static_cast<size_t>(k) >= c.size()) return;
  c.sort_prefix(static_cast<size_t>(k));
  c.truncate(static_cast<size_t>(k));
}

namespace {

// Before sorting for top-p over a large unsorted set: histogram the
// probability mass by distance below the top logit, find the bucket where
// the running mass reaches the target, and move every token up to that
// bucket to the front, sorted. Buckets are monotone in the logit, so those
// tokens are exactly the highest-ranked ones and the sorted prefix is the
// same one sort_prefix() would build; only far fewer entries get sorted.
void sort_top_p_candidates(Candidates& c, double target) {
  constexpr int kBuckets = 512;
  constexpr float kRangeNats = 32.0f;  // exp(-32) ~ 1e-14: the rest share the last bucket
  constexpr float kScale = kBuckets / kRangeNats;
  const float top = max_logit(c);
  if (!std::isfinite(top)) return;
  auto bucket_of = [&](float logit) {
    const float below = top - logit;  // >= 0; +inf for -inf logits
    return below < kRangeNats ? std::min(static_cast<int>(below * kScale), kBuckets - 1) : kBuckets - 1;
  };
  std::array<double, kBuckets> mass{};
  for (const TokenCandidate& t : c.items()) mass[static_cast<size_t>(bucket_of(t.logit))] += t.p;
  double cum = 0.0;
  int cut = 0;
  while (cut < kBuckets - 1 && (cum += mass[static_cast<size_t>(cut)]) < target) ++cut;
  if (cut == kBuckets - 1) return;  // nothing to gain
  // Partition, then sort what is kept; the tail's order does not matter
  // (it is sorted before any later use).
  std::span<TokenCandidate> items = c.items();
  auto kept_end = std::partition(items.begin(), items.end(),
                                 [&](const TokenCandidate& t) { return bucket_of(t.logit) <= cut; });
  const auto n_kept = static_cast<size_t>(kept_end - items.begin());
  std::sort(items.begin(), kept_end,
            [](const TokenCandidate& a, const TokenCandidate& b) { return candidate_before(a, b); });
  c.set_sorted_prefix(n_kept);
  c.set_in_id_order(false);
}

}  // namespace

void apply_top_p(Candidates& c, float p) {
  if (p >= 1.0f || c.size() <= 1) return;
  softmax_candidates(c);
  // Rounding in softmax must not move a cut-off that is exact on paper.
  const double target = static_cast<double>(p) - 1e-6;
  if (c.sorted_prefix() == 0 && c.size() > 1024) sort_top_p_candidates(c, target);
  double cum = 0.0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (i >= c.sorted_prefix()) c.sort_prefix(std::max<size_t>(64, 2 * c.sorted_prefix()));
    cum += c[i].p;
    if (cum >= target) {
      c.truncate(i + 1);
      return;
    }
  }
}

void apply_min_p(Candidates& c, float min_p) {
  if (min_p <= 0.0f || c.size() <= 1) return;
  const float top = max_logit(c);
  if (top == -kInf) return;
  // p_i / p_max = exp(l_i - l_max) >= min_p  <=>  l_i >= l_max + ln(min_p).
  const double threshold = static_cast<double>(top) + std::log(static_cast<double>(min_p));
  const size_t old_prefix = c.sorted_prefix();
  size_t kept = 0;
  size_t kept_prefix = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    if (static_cast<double>(c[i].logit) >= threshold) {
      if (i < old_prefix) ++kept_prefix;
      c[kept++] = c[i];
    }
  }
  if (kept == c.size()) return;
  // Dropped prefix entries are its tail, and everything after the prefix
  // ranks below them, so the kept prefix entries stay first and sorted.
  c.set_in_id_order(false);
  c.truncate(kept);
  c.set_sorted_prefix(kept <= 1 ? kept : kept_prefix);
}

void apply_temperature(Candidates& c, float t) {
  if (t == 1.0f) return;
  for (TokenCandidate& tc : c.items()) tc.logit /= t;
}

void softmax_candidates(Candidates& c) {
  const float top = max_logit(c);
  if (top == -kInf) {
    for (TokenCandidate& t : c.items()) t.p = 0.0f;
    return;
  }
  if (top == kInf) {
    size_t n_inf = 0;
    for (const TokenCandidate& t : c.items()) n_inf += t.logit == kInf;
    const float share = 1.0f / static_cast<float>(n_inf);
    for (TokenCandidate& t : c.items()) t.p = t.logit == kInf ? share : 0.0f;
    return;
  }
  double sum = 0.0;
  for (TokenCandidate& t : c.items()) {
    t.p = std::exp(t.logit - top);  // in (0, 1]; exp(-inf) = 0
    sum += t.p;
  }
  const double inv = 1.0 / sum;  // sum >= 1: the top entry contributes exp(0)
  for (TokenCandidate& t : c.items()) t.p = static_cast<float>(t.p * inv);
}

int32_t pick_greedy(const Candidates& c) {
  if (c.empty()) return -1;
  const TokenCandidate* best = &c[0];
  if (c.sorted_prefix() == 0) {
    for (const TokenCandidate& t : c.items()) {
      if (candidate_before(t, *best)) best = &t;
    }
  }
  return best->logit == -kInf ? -1 : best->id;
}

int32_t pick_with_uniform(Candidates& c, double u) {
  softmax_candidates(c);
  double total = 0.0;
  for (const TokenCandidate& t : c.items()) total += t.p;
  if (!(total > 0.0)) return -1;
  const double target = u * total;
  double cum = 0.0;
  int32_t last_possible = -1;
  for (const TokenCandidate& t : c.items()) {
    if (t.p <= 0.0f) continue;
    cum += t.p;
    last_possible = t.id;
    if (cum > target) return t.id;
  }
  // Only reachable through rounding when u is within an ulp of 1.
  return last_possible;
}

}  // namespace laneway
