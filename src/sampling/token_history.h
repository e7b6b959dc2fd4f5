// TokenHistory: how often each token occurs among the last N accepted tokens,
// the input of the repetition, presence and frequency penalties.
//
// Memory grows with the number of distinct tokens in the window, not with
// the vocabulary (a 256k-entry count array per request would cost 1 MiB
// each). With a bounded window everything is reserved at create(); with
// the whole-generation window (-1) the count list grows amortized.
// Part of a request's state; not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace laneway {

struct TokenCount {
  int32_t id = 0;
  int32_t count = 0;  // > 0
};

class TokenHistory {
 public:
  // window: > 0 the last `window` tokens; -1 every token since reset();
  // 0 remembers nothing.
  explicit TokenHistory(int32_t window = 0);

  void accept(int32_t token);
  void reset();

  // Tokens with count > 0, sorted by id.
  std::span<const TokenCount> counts() const { return counts_; }
  // 0 when the token is not in the window.
  int32_t count(int32_t token) const;

 private:
  void add(int32_t token);
  void remove(int32_t token);

  int32_t window_ = 0;
  std::vector<int32_t> ring_;  // the window's tokens, oldest at head_ once full
  size_t head_ = 0;
  std::vector<TokenCount> counts_;
};

}  // namespace laneway
