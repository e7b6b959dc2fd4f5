#include "hw/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace laneway::hw {
namespace {

// Four accumulators so the loads, not one add chain, set the pace.
uint64_t sum_words(const uint64_t* p, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    d += p[i + 3];
  }
  for (; i < n; ++i) a += p[i];
  return a ^ b ^ c ^ d;
}

}  // namespace

BandwidthMeasurement measure_read_bandwidth(size_t buffer_bytes, int passes, int threads) {
  BandwidthMeasurement m;
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  passes = std::max(1, passes);
  const size_t words = std::max<size_t>(buffer_bytes / sizeof(uint64_t), size_t(threads) * 4);
  auto buf = std::make_unique<uint64_t[]>(words);  // value-initialized: every page touched
  for (size_t i = 0; i < words; i += 512) buf[i] = i;
  std::vector<uint64_t> sinks(size_t(threads), 0);
  double best_s = 0;
  for (int p = 0; p < passes; ++p) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    const size_t chunk = words / size_t(threads);
    for (int t = 0; t < threads; ++t) {
      const size_t begin = size_t(t) * chunk;
      const size_t n = t + 1 == threads ? words - begin : chunk;
      pool.emplace_back([&, t, begin, n] { sinks[size_t(t)] += sum_words(buf.get() + begin, n); });
    }
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (best_s == 0 || s < best_s) best_s = s;
  }
  // The sums feed a volatile so the reads cannot be optimized away.
  volatile uint64_t sink = 0;
  for (uint64_t v : sinks) sink = sink + v;
  m.bytes_per_s = best_s > 0 ? double(words * sizeof(uint64_t)) / best_s : 0;
  m.buffer_bytes = words * sizeof(uint64_t);
  m.passes = passes;
  m.threads = threads;
  return m;
}

}  // namespace laneway::hw
