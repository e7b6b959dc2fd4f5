#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace laneway {

namespace {
// Thread t gets items [t*n/T, (t+1)*n/T).
inline int64_t range_start(int64_t n, int t, int n_threads) { return n * t / n_threads; }

inline void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins up to ThreadPool::kSpinMicros until done() holds; false when it never did.
template <typename Done>
bool spin_until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(ThreadPool::kSpinMicros);
  for (int i = 0;; ++i) {
    if (done()) return true;
    cpu_relax();
    if ((i & 255) == 255 && std::chrono::steady_clock::now() > deadline) return false;
  }
}
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  cv_work_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run(int64_t n_items, const RangeFn& fn) {
  if (n_items <= 0) return;
  const int used = static_cast<int>(std::min<int64_t>(n_threads_, n_items));
  if (used == 1) {
    fn(0, n_items, 0);
    return;
  }
  fn_ = &fn;
  n_items_ = n_items;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  {
    // Under the lock, so a worker about to sleep sees the new generation.
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_work_.notify_all();
  fn(range_start(n_items, 0, n_threads_), range_start(n_items, 1, n_threads_), 0);
  const auto all_done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!spin_until(all_done)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_done_.wait(lock, all_done);
  }
  fn_ = nullptr;
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    const auto woken = [&] {
      return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
    };
    // Work usually follows work closely (one op after another in a forward
    // pass): spin briefly, then sleep until woken.
    if (!spin_until(woken)) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_work_.wait(lock, woken);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    const int64_t n = n_items_;
    const int64_t begin = range_start(n, index, n_threads_);
    const int64_t end = range_start(n, index + 1, n_threads_);
    if (begin < end) (*fn_)(begin, end, index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      cv_done_.notify_one();
    }
  }
}

}  // namespace laneway
