#include "sampling/candidates.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace laneway {

void Candidates::assign(std::span<const float> logits) {
  if (items_.size() < logits.size()) items_.resize(logits.size());
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  TokenCandidate* out = items_.data();
  for (size_t i = 0; i < logits.size(); ++i) {
    const float l = logits[i];
    out[i] = {static_cast<int32_t>(i), std::isnan(l) ? kNegInf : l, 0.0f};
  }
  size_ = logits.size();
  // One entry is trivially sorted.
  sorted_prefix_ = size_ <= 1 ? size_ : 0;
  in_id_order_ = true;
}

void Candidates::assign_top(std::span<const float> logits, size_t m) {
  m = std::min(m, logits.size());
  if (items_.size() < m) items_.resize(m);
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  // Max-heap under "ranks before": the front is the worst of the kept.
  auto before = [](const TokenCandidate& a, const TokenCandidate& b) { return candidate_before(a, b); };
  TokenCandidate* heap = items_.data();
  size_t i = 0;
  for (; i < m; ++i) {
    const float l = logits[i];
    heap[i] = {static_cast<int32_t>(i), std::isnan(l) ? kNegInf : l, 0.0f};
  }
  std::make_heap(heap, heap + m, before);
  if (m > 0) {
    // Later ids lose ties, so a newcomer must beat the worst kept logit
    // strictly; NaN never does, which is the NaN-as--inf policy.
    float threshold = heap[0].logit;
    auto consider = [&](size_t id) {
      std::pop_heap(heap, heap + m, before);
      heap[m - 1] = {static_cast<int32_t>(id), logits[id], 0.0f};
      std::push_heap(heap, heap + m, before);
      threshold = heap[0].logit;
    };
    constexpr size_t kBlock = 16;
    for (; i + kBlock <= logits.size(); i += kBlock) {
      // Test a whole block first with a branch-free max (SIMD max after
      // vectorization; NaN drops out): almost no block of a large
      // vocabulary holds anything that beats the threshold.
      float block_max = threshold;
      for (size_t j = 0; j < kBlock; ++j) {
        const float v = logits[i + j];
        block_max = v > block_max ? v : block_max;
      }
      if (!(block_max > threshold)) continue;
      for (size_t j = 0; j < kBlock; ++j) {
        if (logits[i + j] > threshold) consider(i + j);
      }
    }
    for (; i < logits.size(); ++i) {
      if (logits[i] > threshold) consider(i);
    }
  }
  std::sort(heap, heap + m, [](const TokenCandidate& a, const TokenCandidate& b) { return a.id < b.id; });
  size_ = m;
  sorted_prefix_ = size_ <= 1 ? size_ : 0;
  in_id_order_ = m == logits.size();
}

void Candidates::append(const TokenCandidate& t) {
  assert(size_ < items_.size() && "Candidates::append beyond reserved room");
  items_[size_++] = t;
  if (size_ > 1) sorted_prefix_ = std::min(sorted_prefix_, size_ - 1);
  in_id_order_ = in_id_order_ && t.id == static_cast<int32_t>(size_ - 1);
}

void Candidates::truncate(size_t n) {
  if (n >= size_) return;
  size_ = n;
  sorted_prefix_ = std::min(sorted_prefix_, n);
}

void Candidates::sort_prefix(size_t n) {
  n = std::min(n, size_);
  if (n <= sorted_prefix_) return;
  // Entries past the sorted prefix all rank below it, so ordering just the
  // next slice of the remainder extends the prefix. A lambda (not the
  // function pointer) lets the comparison inline.
  auto before = [](const TokenCandidate& a, const TokenCandidate& b) { return candidate_before(a, b); };
  TokenCandidate* first = items_.data() + sorted_prefix_;
  TokenCandidate* middle = items_.data() + n;
  TokenCandidate* last = items_.data() + size_;
  if (n == size_) {
    std::sort(first, last, before);
  } else if (n - sorted_prefix_ <= 256) {
    // Small slice: one pass with a k-entry heap, ~1 comparison per entry.
    std::partial_sort(first, middle, last, before);
  } else {
    // Large slice (deep top-p cut-offs): a heap would sift often; select
    // in O(remaining), then sort only the slice.
    std::nth_element(first, middle, last, before);
    std::sort(first, middle, before);
  }
  sorted_prefix_ = n;
  in_id_order_ = false;  // conservative: entries may have moved
}

}  // namespace laneway
