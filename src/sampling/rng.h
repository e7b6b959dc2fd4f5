// SamplerRng: the per-request random generator, xoshiro256** seeded through
// splitmix64.
//
// Both algorithms are fixed integer arithmetic, so one seed gives the same
// stream on every platform and compiler, unlike std:: distributions whose
// output is implementation-defined. The uniform double is derived here from
// the top 53 bits of a draw. Small, copyable state (32 bytes); one instance
// per request, not thread-safe.
#pragma once

#include <array>
#include <cstdint>

namespace laneway {

class SamplerRng {
 public:
  explicit SamplerRng(uint64_t seed = 0) { reseed(seed); }

  // Expands the 64-bit seed into the 256-bit state with splitmix64, which
  // never yields the all-zero state xoshiro cannot leave.
  void reseed(uint64_t seed);

  // Next 64 random bits (xoshiro256**).
  uint64_t next_u64();

  // Uniform in [0, 1) with 53 random bits: (next_u64() >> 11) * 2^-53.
  double next_uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

 private:
  std::array<uint64_t, 4> s_{};
};

}  // namespace laneway
