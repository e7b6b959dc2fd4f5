#include "core/did_you_mean.h"

#include <gtest/gtest.h>

namespace laneway {
namespace {

TEST(DidYouMean, NearestWithinTwoEdits) {
  const std::vector<std::string> names = {"run", "serve", "plan", "context", "cache_type_k"};
  EXPECT_EQ(nearest_name("runn", names), "run");        // insert
  EXPECT_EQ(nearest_name("sevre", names), "serve");     // swap
  EXPECT_EQ(nearest_name("contxt", names), "context");  // delete
  EXPECT_EQ(nearest_name("cache_typ_k", names), "cache_type_k");
  EXPECT_EQ(nearest_name("frobnicate", names), "");     // too far
  EXPECT_EQ(nearest_name("", names), "");               // "run" is three edits away
}

}  // namespace
}  // namespace laneway
