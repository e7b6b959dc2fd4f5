// A container's real memory and CPU limits from cgroups v1 and v2.
//
// The process's own group comes from /proc/self/cgroup; where each hierarchy
// is mounted (and which part of it this mount namespace sees) from
// /proc/self/mountinfo. A limit set on a parent group binds its children, so
// the effective limit is the smallest over the group and every ancestor up to
// the visible root, taken across v1 and v2 when both are mounted (hybrid).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hw/root_fs.h"

namespace laneway::hw {

// One line of /proc/self/cgroup: "4:memory:/docker/abc" or "0::/user.slice/x".
struct CgroupMembership {
  int hierarchy_id = 0;
  std::vector<std::string> controllers;  // empty for v2 ("0::/path")
  std::string path;                      // as the kernel names it, starts with '/'
};

// One cgroup or cgroup2 mount from /proc/self/mountinfo.
struct CgroupMount {
  bool v2 = false;
  std::string root;         // the hierarchy path this mount exposes ("/" or "/docker/abc")
  std::string mount_point;  // "/sys/fs/cgroup/memory"
  std::vector<std::string> controllers;  // v1 only: "memory", "cpu", "cpuacct", ...
};

struct CgroupLimits {
  std::vector<CgroupMembership> memberships;
  bool v1 = false;  // a v1 hierarchy with the memory or cpu controller is mounted
  bool v2 = false;  // a cgroup2 hierarchy is mounted
  std::string v2_path;         // this process's v2 group ("/" at the root)
  std::string v1_memory_path;  // this process's v1 memory group
  // Smallest memory limit over the group and its ancestors; nullopt = none.
  std::optional<uint64_t> memory_limit_bytes;
  std::string memory_limit_file;  // machine path of the file that set it
  // The own group's current usage: what it is charged (memory.current, v1
  // memory.usage_in_bytes) less its inactive page cache (memory.stat), which
  // the kernel reclaims first; both parts kept for the reports.
  std::optional<uint64_t> memory_usage_bytes;
  std::optional<uint64_t> memory_charged_bytes;
  std::optional<uint64_t> memory_inactive_file_bytes;
  // Smallest CPU quota in cores (quota / period); nullopt = none.
  std::optional<double> cpu_quota_cores;
  std::string cpu_quota_file;
  std::vector<std::string> notes;  // e.g. "v2 group /a/b is not visible here; used the mount root"
};

// Pure parsers.
std::vector<CgroupMembership> parse_proc_cgroup(std::string_view text);
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo);

CgroupLimits probe_cgroups(const RootFs& fs);

}  // namespace laneway::hw
