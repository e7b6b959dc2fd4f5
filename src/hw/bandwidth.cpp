#include "hw/bandwidth.h"

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include <fmt/format.h>

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

// The largest cache of CPU 0 (sysfs "index*/size", e.g. "32768K"), 0 unknown.
uint64_t last_level_cache_bytes() {
  uint64_t largest = 0;
  for (int i = 0; i < 8; ++i) {
    std::ifstream in(fmt::format("/sys/devices/system/cpu/cpu0/cache/index{}/size", i));
    std::string text;
    if (!(in >> text) || text.empty()) continue;
    uint64_t v = 0;
    size_t pos = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') v = v * 10 + uint64_t(text[pos++] - '0');
    if (pos < text.size() && (text[pos] == 'K' || text[pos] == 'k')) v <<= 10;
    else if (pos < text.size() && text[pos] == 'M') v <<= 20;
    largest = std::max(largest, v);
  }
  return largest;
}

// "[madvise]" in "always [madvise] never".
std::string transparent_huge_pages() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!std::getline(in, line)) return "";
  const size_t a = line.find('['), b = line.find(']');
  return a != std::string::npos && b != std::string::npos && b > a ? line.substr(a + 1, b - a - 1) : "";
}

std::string gib_text(size_t bytes) {
  return bytes >= (size_t(1) << 30) ? fmt::format("{:.2f} GiB", double(bytes) / double(1 << 30))
                                    : fmt::format("{} MiB", bytes >> 20);
}

}  // namespace

std::string BandwidthMeasurement::describe() const {
  return fmt::format("fastest {:.1f} GB/s of {} passes (median {:.1f}, slowest {:.1f} GB/s), sequential reads of {} by {} "
                     "thread{}{}",
                     bytes_per_s / 1e9, passes, median_bytes_per_s / 1e9, slowest_bytes_per_s / 1e9,
                     gib_text(buffer_bytes), threads, threads == 1 ? "" : "s",
                     huge_pages.empty() ? std::string() : ", THP " + huge_pages);
}

size_t default_buffer_bytes(uint64_t available_bytes) {
  // Unknown cache sizes (a VM's sysfs often has none): the largest buffer.
  const uint64_t llc = last_level_cache_bytes();
  uint64_t bytes = llc > 0 ? std::clamp<uint64_t>(4 * llc, uint64_t(256) << 20, uint64_t(1) << 30) : uint64_t(1) << 30;
  if (available_bytes > 0) bytes = std::min(bytes, available_bytes / 8);
  return size_t(std::max<uint64_t>(bytes, uint64_t(1) << 20));
}

BandwidthMeasurement measure_read_bandwidth(size_t buffer_bytes, int passes, int threads) {
  BandwidthMeasurement m;
  if (buffer_bytes == 0) buffer_bytes = default_buffer_bytes();
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  passes = std::max(1, passes);
  const size_t words = std::max<size_t>(buffer_bytes / sizeof(uint64_t), size_t(threads) * 4);
  const size_t bytes = words * sizeof(uint64_t);
  void* mem = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return m;
  ::madvise(mem, bytes, MADV_HUGEPAGE);  // fewer TLB misses where THP allows it; harmless where not
  auto* buf = static_cast<uint64_t*>(mem);
  for (size_t i = 0; i < words; i += 512) buf[i] = i;  // every page touched before timing
  std::vector<uint64_t> sinks(size_t(threads), 0);
  std::vector<double> rates;
  for (int p = 0; p < passes; ++p) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    const size_t chunk = words / size_t(threads);
    for (int t = 0; t < threads; ++t) {
      const size_t begin = size_t(t) * chunk;
      const size_t n = t + 1 == threads ? words - begin : chunk;
      pool.emplace_back([&, t, begin, n] { sinks[size_t(t)] += sum_words(buf + begin, n); });
    }
    for (auto& th : pool) th.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > 0) rates.push_back(double(bytes) / s);
  }
  // The sums feed a volatile so the reads cannot be optimized away.
  volatile uint64_t sink = 0;
  for (uint64_t v : sinks) sink = sink + v;
  ::munmap(mem, bytes);
  if (!rates.empty()) {
    std::sort(rates.begin(), rates.end());
    m.bytes_per_s = rates.back();
    m.slowest_bytes_per_s = rates.front();
    m.median_bytes_per_s = rates[rates.size() / 2];
  }
  m.buffer_bytes = bytes;
  m.passes = passes;
  m.threads = threads;
  m.huge_pages = transparent_huge_pages();
  return m;
}

}  // namespace laneway::hw
