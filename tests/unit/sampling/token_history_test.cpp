#include "sampling/token_history.h"

#include <vector>

#include <gtest/gtest.h>

namespace laneway {
namespace {

std::vector<std::pair<int32_t, int32_t>> as_pairs(const TokenHistory& h) {
  std::vector<std::pair<int32_t, int32_t>> out;
  for (const TokenCount& c : h.counts()) out.emplace_back(c.id, c.count);
  return out;
}

TEST(TokenHistory, CountsSortedById) {
  TokenHistory h(8);
  for (int32_t t : {7, 3, 7, 100, 3, 7}) h.accept(t);
  using P = std::vector<std::pair<int32_t, int32_t>>;
  EXPECT_EQ(as_pairs(h), (P{{3, 2}, {7, 3}, {100, 1}}));
  EXPECT_EQ(h.count(7), 3);
  EXPECT_EQ(h.count(8), 0);
}

TEST(TokenHistory, WindowForgetsOldestTokens) {
  TokenHistory h(3);
  for (int32_t t : {1, 1, 2, 3}) h.accept(t);  // window now [1, 2, 3]
  using P = std::vector<std::pair<int32_t, int32_t>>;
  EXPECT_EQ(as_pairs(h), (P{{1, 1}, {2, 1}, {3, 1}}));
  h.accept(4);  // [2, 3, 4]
  EXPECT_EQ(as_pairs(h), (P{{2, 1}, {3, 1}, {4, 1}}));
  h.accept(4);  // [3, 4, 4]
  h.accept(4);  // [4, 4, 4]
  EXPECT_EQ(as_pairs(h), (P{{4, 3}}));
}

TEST(TokenHistory, WholeGenerationWindowNeverForgets) {
  TokenHistory h(-1);
  for (int i = 0; i < 1000; ++i) h.accept(i % 10);
  ASSERT_EQ(h.counts().size(), 10u);
  for (const TokenCount& c : h.counts()) EXPECT_EQ(c.count, 100);
}

TEST(TokenHistory, ZeroWindowRemembersNothing) {
  TokenHistory h(0);
  h.accept(1);
  EXPECT_TRUE(h.counts().empty());
}

TEST(TokenHistory, ResetEmptiesTheWindow) {
  TokenHistory h(2);
  h.accept(1);
  h.accept(2);
  h.reset();
  EXPECT_TRUE(h.counts().empty());
  h.accept(5);
  h.accept(6);
  h.accept(7);  // window [6, 7]: the ring restarted cleanly
  EXPECT_EQ(h.count(5), 0);
  EXPECT_EQ(h.count(6), 1);
  EXPECT_EQ(h.count(7), 1);
}

}  // namespace
}  // namespace laneway
