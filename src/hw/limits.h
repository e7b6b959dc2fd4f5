// Process limits that decide whether weights can be pinned (mlock) and who
// this process is (for device-node permission checks). Read through the root
// (/proc/self/limits, /proc/self/status) so fixtures can set them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "hw/root_fs.h"

namespace laneway::hw {

inline constexpr uint64_t kUnlimitedBytes = UINT64_MAX;

struct ProcessLimits {
  // RLIMIT_MEMLOCK soft/hard in bytes; kUnlimitedBytes for "unlimited"; nullopt unknown.
  std::optional<uint64_t> memlock_soft_bytes;
  std::optional<uint64_t> memlock_hard_bytes;
  std::optional<uint64_t> cap_effective;  // CapEff bit mask
  // VmLck: bytes this process has pinned already (counted against the limit).
  std::optional<uint64_t> locked_bytes;
  // CAP_IPC_LOCK (bit 14) lets a process mlock past RLIMIT_MEMLOCK.
  std::optional<bool> cap_ipc_lock() const;
};

struct ProcessIdentity {
  bool known = false;  // /proc/self/status had Uid/Gid lines
  uint32_t euid = 0;
  uint32_t egid = 0;
  std::vector<uint32_t> groups;  // supplementary groups
  bool in_group(uint32_t gid) const;
};

// Pure parsers.
// "Max locked memory  65536  65536  bytes" from /proc/<pid>/limits.
void parse_proc_limits(std::string_view text, ProcessLimits& out);
// CapEff, VmLck, Uid, Gid and Groups from /proc/<pid>/status.
void parse_proc_status(std::string_view text, ProcessLimits& limits, ProcessIdentity& identity);

struct ProcessInfo {
  ProcessLimits limits;
  ProcessIdentity identity;
};
ProcessInfo probe_process(const RootFs& fs);

}  // namespace laneway::hw
