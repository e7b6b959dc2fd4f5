#include "core/thread_pool.h"

#include <algorithm>

namespace laneway {

namespace {
// Thread t gets items [t*n/T, (t+1)*n/T).
inline int64_t range_start(int64_t n, int t, int n_threads) { return n * t / n_threads; }
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_work_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::parallel_for(int64_t n_items, const RangeFn& fn) {
  if (n_items <= 0) return;
  const int used = static_cast<int>(std::min<int64_t>(n_threads_, n_items));
  if (used == 1) {
    fn(0, n_items, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    n_items_ = n_items;
    pending_ = n_threads_ - 1;
    ++generation_;
  }
  cv_work_.notify_all();
  fn(range_start(n_items, 0, n_threads_), range_start(n_items, 1, n_threads_), 0);
  std::unique_lock<std::mutex> lock(mu_);
  cv_done_.wait(lock, [this] { return pending_ == 0; });
  fn_ = nullptr;
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    const RangeFn* fn;
    int64_t n;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_work_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      fn = fn_;
      n = n_items_;
    }
    const int64_t begin = range_start(n, index, n_threads_);
    const int64_t end = range_start(n, index + 1, n_threads_);
    if (begin < end) (*fn)(begin, end, index);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) cv_done_.notify_one();
    }
  }
}

}  // namespace laneway
