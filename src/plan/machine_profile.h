// Machine profiles for `laneway plan --lanes`: how much memory the lanes of a
// config share and how fast it can be read (the decode-speed ceiling), for
// the machines Laneway is built for (one table, each number with its source)
// and for this machine (probed and measured).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "hw/probe.h"

namespace laneway {

struct MachineProfile {
  std::string name;   // "strix-halo-128g", "this-machine", ...
  std::string label;  // what machine it is
  uint64_t memory_bytes = 0;  // what the reserves, services and lanes share
  std::string memory_source;  // where memory_bytes comes from
  double bandwidth_bytes_per_s = 0;              // read bandwidth used for decode ceilings
  double theoretical_bandwidth_bytes_per_s = 0;  // 0 = not known
  std::string bandwidth_source;
  int threads = 1;  // hardware threads (they size the compute scratch of each lane)
  // this-machine: what the OS and other processes use now (the pool's total
  // less memory_bytes). memory_bytes already leaves it out, so
  // machine.reserve_os counts only as far as it exceeds it (LANES.md).
  uint64_t in_use_bytes = 0;
};

// Every name --profile and machine.profile accept, "this-machine" included.
std::vector<std::string_view> machine_profile_names();
// A profile of the table; nullopt for "this-machine" (see probe_this_machine) and unknown names.
std::optional<MachineProfile> find_machine_profile(std::string_view name);

// What the hardware probe says this process may use now for weights + KV:
// the cpu pool (MemAvailable, capped by the cgroup limit minus the group's usage).
struct UsableMemory {
  uint64_t bytes = 0;
  std::string source;  // how it was derived, for messages
  uint64_t in_use_bytes = 0;  // the pool's total less `bytes`: what others use now
};
// machine.reserve_os on a profile: all of it on a named profile; on
// this-machine only what exceeds the memory in use now (LANES.md: the probe's
// usable memory already excludes it; never counted twice).
inline uint64_t effective_reserve_os(uint64_t reserve_os, uint64_t in_use_bytes) {
  return reserve_os > in_use_bytes ? reserve_os - in_use_bytes : 0;
}
Result<UsableMemory> probe_usable_memory(const hw::ProbeOptions& options);

// "this-machine": memory from probe_usable_memory, bandwidth from a short
// read test (hw/bandwidth.h; about a second), threads from the probe.
Result<MachineProfile> probe_this_machine(const hw::ProbeOptions& options);

}  // namespace laneway
