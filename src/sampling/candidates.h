// Candidates: the working set of tokens a sampler chain narrows down.
//
// assign() loads one logits vector in token-id order; stages then drop,
// reorder and rescale entries. Storage is reused: after the first assign()
// of a given vocabulary size nothing is allocated again.
//
// Order is always well defined, so a seeded draw picks the same token on
// every platform: the live entries are either a stable subsequence of id
// order with a sorted prefix, or fully sorted. "Sorted" means the canonical
// order below, a strict total order (ids are unique), so any algorithm that
// sorts a prefix produces the same prefix.
// Owned by one sampler; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace laneway {

struct TokenCandidate {
  int32_t id = 0;
  float logit = 0.0f;
  float p = 0.0f;  // probability, valid only right after softmax_candidates()
};

// Canonical order: higher logit first; equal logits by lower id.
inline bool candidate_before(const TokenCandidate& a, const TokenCandidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

class Candidates {
 public:
  // Loads logits[i] as token i. NaN becomes -inf: a NaN logit is never
  // chosen (policy: treat it as "impossible", not as an error, so one bad
  // lane of a SIMD kernel cannot poison the whole draw). +inf stays +inf
  // and wins outright.
  void assign(std::span<const float> logits);
  // Loads only the m highest-ranked tokens of logits (canonical order, NaN
  // as -inf), listed by id. One pass with an m-entry heap: O(V) plus
  // O(m log m), most entries costing one comparison against the current
  // m-th best. Same result as assign() + sort_prefix(m) + truncate(m), up
  // to the order of the kept entries.
  void assign_top(std::span<const float> logits, size_t m);
  // Adds an entry; room must have been reserved (size() < capacity()).
  void append(const TokenCandidate& t);
  size_t capacity() const { return items_.size(); }
  // Allocates room for n entries up front (assign() would on first use).
  void reserve(size_t n) {
    if (items_.size() < n) items_.resize(n);
  }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<TokenCandidate> items() { return {items_.data(), size_}; }
  std::span<const TokenCandidate> items() const { return {items_.data(), size_}; }
  TokenCandidate& operator[](size_t i) { return items_[i]; }
  const TokenCandidate& operator[](size_t i) const { return items_[i]; }

  // Keeps the first n live entries.
  void truncate(size_t n);

  // Entries [0, sorted_prefix()) are the highest-ranked ones, in canonical
  // order; the rest are in their previous relative order.
  size_t sorted_prefix() const { return sorted_prefix_; }
  bool sorted() const { return sorted_prefix_ == size_; }
  // Makes the first min(n, size()) entries sorted; reuses earlier work.
  void sort_prefix(size_t n);
  // Records that a stage kept or broke the order (stage code only).
  void set_sorted_prefix(size_t n) { sorted_prefix_ = n; }

  // Whether entry i is token i (true after assign() until something is
  // dropped or reordered); lets penalties index by id instead of searching.
  bool in_id_order() const { return in_id_order_; }
  void set_in_id_order(bool v) { in_id_order_ = v; }

 private:
  std::vector<TokenCandidate> items_;
  size_t size_ = 0;
  size_t sorted_prefix_ = 0;
  bool in_id_order_ = false;
};

}  // namespace laneway
