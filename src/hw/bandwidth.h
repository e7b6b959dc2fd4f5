// A short read test of system RAM bandwidth: the "this-machine" input to the
// planner's decode ceiling (tokens/s <= bandwidth / bytes read per token).
//
// What it measures: `threads` threads each read their contiguous share of one
// buffer sequentially (8-byte loads, four independent sums), `passes` times;
// the buffer is touched once before the first pass and asked for huge pages
// (madvise), so page faults and TLB misses stay out of the timed passes. The
// buffer is several times the last-level cache (default_buffer_bytes), so the
// figure is DRAM's, not the cache's: a 256 MiB buffer on a CPU with 256 MiB
// of L3 measured the cache (28.8 GB/s one call, 9.6 the next).
//
// The fastest pass is the figure; the median and the slowest say how steady
// the machine was. When the median is more than 25% below the fastest, other
// work was competing for memory and the figure is not trusted (steady() is
// false): callers say so instead of deriving ceilings from it.
// Not called by the probe itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace laneway::hw {

struct BandwidthMeasurement {
  double bytes_per_s = 0;          // the fastest pass
  double median_bytes_per_s = 0;
  double slowest_bytes_per_s = 0;
  size_t buffer_bytes = 0;
  int passes = 0;
  int threads = 0;
  std::string huge_pages;          // transparent huge pages mode: always, madvise, never ("" unknown)

  // The median pass within 25% of the fastest.
  bool steady() const { return bytes_per_s > 0 && median_bytes_per_s >= 0.75 * bytes_per_s; }
  // "fastest 9.6 GB/s of 7 passes (median 9.1, slowest 8.0 GB/s), sequential reads of 1.00 GiB by 2 threads, THP madvise"
  std::string describe() const;
};

// Four times the last-level cache (sysfs), at least 256 MiB and at most 1 GiB
// (1 GiB when sysfs does not say), and never more than an eighth of
// `available_bytes` (when known, > 0).
size_t default_buffer_bytes(uint64_t available_bytes = 0);

// buffer_bytes 0: default_buffer_bytes(). threads 0: every hardware thread.
BandwidthMeasurement measure_read_bandwidth(size_t buffer_bytes = 0, int passes = 7, int threads = 0);

}  // namespace laneway::hw
