#include "sampling/token_history.h"

#include <algorithm>
#include <cassert>

namespace laneway {
namespace {

bool id_less(const TokenCount& c, int32_t id) { return c.id < id; }

}  // namespace

TokenHistory::TokenHistory(int32_t window) : window_(window) {
  if (window_ > 0) {
    ring_.reserve(static_cast<size_t>(window_));
    counts_.reserve(static_cast<size_t>(window_));
  }
}

void TokenHistory::accept(int32_t token) {
  if (window_ == 0) return;
  if (window_ > 0) {
    if (ring_.size() < static_cast<size_t>(window_)) {
      ring_.push_back(token);
    } else {
      remove(ring_[head_]);
      ring_[head_] = token;
      head_ = (head_ + 1) % ring_.size();
    }
  }
  add(token);
}

void TokenHistory::reset() {
  ring_.clear();
  head_ = 0;
  counts_.clear();
}

int32_t TokenHistory::count(int32_t token) const {
  auto it = std::lower_bound(counts_.begin(), counts_.end(), token, id_less);
  return it != counts_.end() && it->id == token ? it->count : 0;
}

void TokenHistory::add(int32_t token) {
  auto it = std::lower_bound(counts_.begin(), counts_.end(), token, id_less);
  if (it != counts_.end() && it->id == token) {
    ++it->count;
  } else {
    counts_.insert(it, TokenCount{token, 1});
  }
}

void TokenHistory::remove(int32_t token) {
  auto it = std::lower_bound(counts_.begin(), counts_.end(), token, id_less);
  assert(it != counts_.end() && it->id == token && "evicted token was never counted");
  if (--it->count == 0) counts_.erase(it);
}

}  // namespace laneway
