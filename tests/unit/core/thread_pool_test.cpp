#include <atomic>
#include <vector>

#include <gtest/gtest.h>

#include "core/status.h"
#include "core/thread_pool.h"

namespace laneway {
namespace {

TEST(ThreadPool, EveryItemOnceWithFixedPartition) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 7, 1000}) {
      std::vector<int> hits(static_cast<size_t>(n), 0);
      std::vector<int> owner(static_cast<size_t>(n), -1);
      for (int rep = 0; rep < 3; ++rep) {
        pool.parallel_for(n, [&](int64_t b, int64_t e, int t) {
          for (int64_t i = b; i < e; ++i) {
            hits[static_cast<size_t>(i)]++;
            if (rep == 0) owner[static_cast<size_t>(i)] = t;
            EXPECT_EQ(owner[static_cast<size_t>(i)], t) << "item moved between threads";
          }
        });
      }
      for (int h : hits) EXPECT_EQ(h, 3);
    }
  }
}

TEST(ThreadPool, ManySmallJobs) {
  ThreadPool pool(4);
  std::atomic<int64_t> sum{0};
  for (int i = 0; i < 2000; ++i) {
    pool.parallel_for(16, [&](int64_t b, int64_t e, int) { sum += e - b; });
  }
  EXPECT_EQ(sum.load(), 2000 * 16);
}

TEST(Status, ResultAndMessages) {
  Result<int> ok = 3;
  EXPECT_TRUE(ok.is_ok());
  EXPECT_EQ(*ok, 3);
  Result<int> bad = corrupt_error("bad byte {}", 7);
  EXPECT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().to_string(), "corrupt: bad byte 7");
  EXPECT_EQ(bad.status().with_context("f.gguf").message(), "f.gguf: bad byte 7");
  EXPECT_EQ(bad.value_or(5), 5);
}

}  // namespace
}  // namespace laneway
