// A short read test of system RAM bandwidth: the "this-machine" input to the
// planner's decode ceiling (tokens/s <= bandwidth / bytes read per token).
// It allocates `buffer_bytes`, touches it once, then reads it `passes` times
// with `threads` threads and keeps the fastest pass. Takes well under a
// second at the defaults. Not called by the probe itself.
#pragma once

#include <cstddef>
#include <cstdint>

namespace laneway::hw {

struct BandwidthMeasurement {
  double bytes_per_s = 0;
  size_t buffer_bytes = 0;
  int passes = 0;
  int threads = 0;
};

BandwidthMeasurement measure_read_bandwidth(size_t buffer_bytes = size_t(256) << 20, int passes = 3, int threads = 0);

}  // namespace laneway::hw
