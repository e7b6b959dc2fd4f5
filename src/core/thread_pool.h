// ThreadPool: a fixed set of worker threads that run one parallel_for at a
// time. After a task, workers (and the caller, waiting for them) spin for up
// to kSpinMicros, since in a forward pass the next task follows within
// microseconds; then they sleep on a condition variable, so an idle pool
// costs no CPU.
//
// Work is split into contiguous ranges by a fixed rule that depends only on
// n_items and the thread count, so every item is always computed by exactly
// one thread with the same code: results never depend on scheduling.
// Not reentrant: parallel_for must not be called from inside a task.
// One owner thread calls parallel_for; the pool is not shared between owners.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <type_traits>
#include <mutex>
#include <thread>
#include <vector>

namespace laneway {

class ThreadPool {
 public:
  // n_threads includes the calling thread (n_threads - 1 workers are started).
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  static constexpr int kSpinMicros = 100;

  // Calls fn(begin, end, thread_index) over a partition of [0, n_items);
  // returns when all ranges are done. Thread 0 is the caller. fn is called
  // through a pointer (no std::function, so nothing is allocated per call).
  template <class Fn>
  void parallel_for(int64_t n_items, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    run(n_items, RangeFn{const_cast<void*>(static_cast<const void*>(&fn)), [](void* f, int64_t b, int64_t e, int t) {
                           (*static_cast<F*>(f))(b, e, t);
                         }});
  }

 private:
  struct RangeFn {
    void* fn;
    void (*call)(void* fn, int64_t begin, int64_t end, int thread_index);
    void operator()(int64_t begin, int64_t end, int thread_index) const { call(fn, begin, end, thread_index); }
  };
  void run(int64_t n_items, const RangeFn& fn);
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_work_;
  std::condition_variable cv_done_;
  // Written by the caller before generation_ is bumped (release), read by
  // workers after they see it (acquire).
  const RangeFn* fn_ = nullptr;
  int64_t n_items_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace laneway
