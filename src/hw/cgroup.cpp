#include "hw/cgroup.h"

#include <algorithm>

#include <fmt/format.h>

namespace laneway::hw {
namespace {

// v1 reports "no limit" as a huge page-rounded number (0x7FFFFFFFFFFFF000 on
// x86-64); anything this large is not a real limit.
constexpr uint64_t kV1Unlimited = uint64_t(1) << 62;

std::vector<std::string> split_char(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (true) {
    const size_t p = s.find(sep);
    if (!s.substr(0, p).empty()) out.emplace_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

bool has(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// mountinfo escapes spaces and the like as \040 octal.
std::string unescape_mount_path(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string_view oct = s.substr(i + 1, 3);
      if (oct.size() == 3 && std::all_of(oct.begin(), oct.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out.push_back(char((oct[0] - '0') * 64 + (oct[1] - '0') * 8 + (oct[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string join_path(std::string_view a, std::string_view b) {
  std::string out(a);
  while (!out.empty() && out.back() == '/') out.pop_back();
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  if (!b.empty()) {
    out += '/';
    out += b;
  }
  return out.empty() ? "/" : out;
}

// The directory of `group_path` under `mount`, or nullopt when this mount
// namespace does not expose it (the group lies outside the mount's root).
std::optional<std::string> group_dir(const CgroupMount& mount, const std::string& group_path) {
  std::string_view rel = group_path;
  if (mount.root != "/") {
    if (!starts_with(rel, mount.root)) return std::nullopt;
    rel.remove_prefix(mount.root.size());
    if (!rel.empty() && rel.front() != '/') return std::nullopt;
  }
  return join_path(mount.mount_point, rel);
}

// Directories from `dir` up to and including `stop` (the mount point).
std::vector<std::string> dirs_up_to(std::string dir, const std::string& stop) {
  std::vector<std::string> out;
  while (true) {
    out.push_back(dir);
    if (dir == stop || dir.size() <= stop.size()) break;
    const size_t slash = dir.rfind('/');
    if (slash == std::string::npos || slash == 0) break;
    dir.resize(slash);
  }
  return out;
}

struct Walk {
  std::string own_dir;
  std::vector<std::string> dirs;  // own group first, then parents
};

// Resolves where a group lives; falls back to the mount point (the innermost
// group visible) when the exact directory is missing, with a note.
Walk walk_for(const RootFs& fs, const CgroupMount& mount, const std::string& group_path, std::vector<std::string>& notes) {
  auto dir = group_dir(mount, group_path);
  std::string own = dir.value_or(mount.mount_point);
  if (!dir || !fs.is_dir(own)) {
    notes.push_back(fmt::format("cgroup {} is not visible under {}; read limits from the mount root", group_path,
                                mount.mount_point));
    own = mount.mount_point;
  }
  return {own, dirs_up_to(own, mount.mount_point)};
}

void take_memory_limit(CgroupLimits& out, uint64_t bytes, const std::string& file) {
  if (!out.memory_limit_bytes || bytes < *out.memory_limit_bytes) {
    out.memory_limit_bytes = bytes;
    out.memory_limit_file = file;
  }
}

void take_cpu_quota(CgroupLimits& out, double cores, const std::string& file) {
  if (!out.cpu_quota_cores || cores < *out.cpu_quota_cores) {
    out.cpu_quota_cores = cores;
    out.cpu_quota_file = file;
  }
}

// Mounts at the usual places when /proc/self/mountinfo is absent (fixtures
// written by hand, or a procfs without it).
std::vector<CgroupMount> default_mounts(const RootFs& fs) {
  std::vector<CgroupMount> mounts;
  for (const char* v2 : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    if (fs.exists(fmt::format("{}/cgroup.controllers", v2))) {
      mounts.push_back({true, "/", v2, {}});
      break;
    }
  }
  for (const char* ctl : {"memory", "cpu", "cpu,cpuacct", "cpuacct,cpu"}) {
    const std::string mp = fmt::format("/sys/fs/cgroup/{}", ctl);
    if (fs.is_dir(mp) && !fs.exists(mp + "/cgroup.controllers")) {
      mounts.push_back({false, "/", mp, split_char(ctl, ',')});
    }
  }
  return mounts;
}

}  // namespace

std::vector<CgroupMembership> parse_proc_cgroup(std::string_view text) {
  std::vector<CgroupMembership> out;
  for (std::string_view line : split_lines(text)) {
    line = trim(line);
    const size_t c1 = line.find(':');
    if (c1 == std::string_view::npos) continue;
    const size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    CgroupMembership m;
    m.hierarchy_id = int(parse_u64(line.substr(0, c1)).value_or(0));
    m.controllers = split_char(line.substr(c1 + 1, c2 - c1 - 1), ',');
    const std::string_view path = line.substr(c2 + 1);
    m.path = std::string(path.empty() ? std::string_view("/") : path);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<CgroupMount> parse_cgroup_mounts(std::string_view mountinfo) {
  // "36 25 0:32 /docker/abc /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory"
  std::vector<CgroupMount> out;
  for (std::string_view line : split_lines(mountinfo)) {
    auto words = split_ws(line);
    auto dash = std::find(words.begin(), words.end(), std::string_view("-"));
    if (words.size() < 5 || dash == words.end() || dash + 1 >= words.end()) continue;
    const std::string_view fstype = *(dash + 1);
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    CgroupMount m;
    m.v2 = fstype == "cgroup2";
    m.root = unescape_mount_path(words[3]);
    m.mount_point = unescape_mount_path(words[4]);
    if (!m.v2 && words.end() - dash > 3) {
      for (auto& opt : split_char(*(dash + 3), ',')) {
        if (opt == "memory" || opt == "cpu" || opt == "cpuacct" || opt == "cpuset" || starts_with(opt, "name=")) {
          m.controllers.push_back(opt);
        }
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

namespace {

// What the group uses less the page cache on its inactive list, which the
// kernel reclaims before it would kill anything at the limit: the "working
// set" that Kubernetes evicts on and `docker stats` shows. Without it, the
// pages this process read while starting (the model file's header and its
// readahead, several MiB) would count as in use and be billed again by the plan.
uint64_t working_set(uint64_t charged, const RootFs& fs, const std::string& stat_file, std::string_view key,
                     CgroupLimits& out) {
  out.memory_charged_bytes = charged;
  const auto text = fs.read_text(stat_file);
  if (!text) return charged;
  for (std::string_view rest = *text; !rest.empty();) {
    const size_t eol = rest.find('\n');
    const std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ') {
      if (auto inactive = parse_u64(line.substr(key.size() + 1))) {
        out.memory_inactive_file_bytes = std::min(*inactive, charged);
        return charged - *out.memory_inactive_file_bytes;
      }
    }
  }
  return charged;
}

}  // namespace

CgroupLimits probe_cgroups(const RootFs& fs) {
  CgroupLimits out;
  if (auto text = fs.read_text("/proc/self/cgroup")) out.memberships = parse_proc_cgroup(*text);
  if (out.memberships.empty()) return out;

  std::vector<CgroupMount> mounts;
  if (auto mi = fs.read_text("/proc/self/mountinfo")) mounts = parse_cgroup_mounts(*mi);
  if (mounts.empty()) mounts = default_mounts(fs);

  for (const CgroupMembership& m : out.memberships) {
    if (m.controllers.empty() && m.hierarchy_id == 0) {
      // cgroup v2: one hierarchy, every controller.
      auto mount = std::find_if(mounts.begin(), mounts.end(), [](const CgroupMount& x) { return x.v2; });
      if (mount == mounts.end()) continue;
      out.v2 = true;
      out.v2_path = m.path;
      const Walk w = walk_for(fs, *mount, m.path, out.notes);
      if (auto cur = fs.read_u64(w.own_dir + "/memory.current")) {
        out.memory_usage_bytes = working_set(*cur, fs, w.own_dir + "/memory.stat", "inactive_file", out);
      }
      for (const std::string& dir : w.dirs) {
        const std::string mem_file = dir + "/memory.max";
        if (auto v = fs.read_line(mem_file); v && *v != "max") {
          if (auto bytes = parse_u64(*v)) take_memory_limit(out, *bytes, mem_file);
        }
        const std::string cpu_file = dir + "/cpu.max";
        if (auto v = fs.read_line(cpu_file)) {
          auto words = split_ws(*v);  // "max 100000" or "200000 100000"
          if (words.size() == 2 && words[0] != "max") {
            auto quota = parse_u64(words[0]);
            auto period = parse_u64(words[1]);
            if (quota && period && *period > 0) take_cpu_quota(out, double(*quota) / double(*period), cpu_file);
          }
        }
      }
      continue;
    }
    const bool memory = has(m.controllers, "memory");
    const bool cpu = has(m.controllers, "cpu");
    if (!memory && !cpu) continue;
    // The v1 mount carrying this hierarchy's controllers.
    auto mount = std::find_if(mounts.begin(), mounts.end(), [&](const CgroupMount& x) {
      return !x.v2 && ((memory && has(x.controllers, "memory")) || (cpu && has(x.controllers, "cpu")));
    });
    if (mount == mounts.end()) continue;
    out.v1 = true;
    const Walk w = walk_for(fs, *mount, m.path, out.notes);
    if (memory) {
      out.v1_memory_path = m.path;
      if (auto used = fs.read_u64(w.own_dir + "/memory.usage_in_bytes"); used && !out.memory_usage_bytes) {
        out.memory_usage_bytes = working_set(*used, fs, w.own_dir + "/memory.stat", "total_inactive_file", out);
      }
      for (const std::string& dir : w.dirs) {
        const std::string file = dir + "/memory.limit_in_bytes";
        if (auto bytes = fs.read_u64(file); bytes && *bytes < kV1Unlimited) take_memory_limit(out, *bytes, file);
      }
    }
    if (cpu) {
      for (const std::string& dir : w.dirs) {
        const std::string file = dir + "/cpu.cfs_quota_us";
        auto quota_line = fs.read_line(file);  // "-1" means no quota
        auto period = fs.read_u64(dir + "/cpu.cfs_period_us");
        if (!quota_line || !period || *period == 0) continue;
        if (auto quota = parse_u64(*quota_line)) take_cpu_quota(out, double(*quota) / double(*period), file);
      }
    }
  }
  return out;
}

}  // namespace laneway::hw
