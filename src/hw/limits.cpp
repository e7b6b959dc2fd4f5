#include "hw/limits.h"

#include <algorithm>

namespace laneway::hw {
namespace {

constexpr int kCapIpcLock = 14;  // linux/capability.h

std::optional<uint64_t> parse_limit_value(std::string_view v) {
  if (v == "unlimited") return kUnlimitedBytes;
  return parse_u64(v);
}

}  // namespace

std::optional<bool> ProcessLimits::cap_ipc_lock() const {
  if (!cap_effective) return std::nullopt;
  return ((*cap_effective >> kCapIpcLock) & 1u) != 0;
}

bool ProcessIdentity::in_group(uint32_t gid) const {
  return gid == egid || std::find(groups.begin(), groups.end(), gid) != groups.end();
}

void parse_proc_limits(std::string_view text, ProcessLimits& out) {
  constexpr std::string_view kKey = "Max locked memory";
  for (std::string_view line : split_lines(text)) {
    if (!starts_with(line, kKey)) continue;
    auto words = split_ws(line.substr(kKey.size()));
    if (words.size() < 2) continue;
    out.memlock_soft_bytes = parse_limit_value(words[0]);
    out.memlock_hard_bytes = parse_limit_value(words[1]);
  }
}

void parse_proc_status(std::string_view text, ProcessLimits& limits, ProcessIdentity& identity) {
  bool have_uid = false, have_gid = false;
  for (std::string_view line : split_lines(text)) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, colon);
    auto words = split_ws(trim(line.substr(colon + 1)));
    if (key == "CapEff" && !words.empty()) {
      // A hex mask without 0x.
      uint64_t mask = 0;
      bool ok = true;
      for (char ch : words[0]) {
        int d = (ch >= '0' && ch <= '9') ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10
              : (ch >= 'A' && ch <= 'F') ? ch - 'A' + 10 : -1;
        if (d < 0) { ok = false; break; }
        mask = (mask << 4) | uint64_t(d);
      }
      if (ok) limits.cap_effective = mask;
    } else if (key == "VmLck" && !words.empty()) {  // "VmLck:   1024 kB"
      if (auto v = parse_u64(words[0])) limits.locked_bytes = *v * 1024;
    } else if (key == "Uid" && words.size() >= 2) {  // real, effective, saved, fs
      if (auto v = parse_u64(words[1])) { identity.euid = uint32_t(*v); have_uid = true; }
    } else if (key == "Gid" && words.size() >= 2) {
      if (auto v = parse_u64(words[1])) { identity.egid = uint32_t(*v); have_gid = true; }
    } else if (key == "Groups") {
      identity.groups.clear();
      for (auto w : words) {
        if (auto v = parse_u64(w)) identity.groups.push_back(uint32_t(*v));
      }
    }
  }
  identity.known = have_uid && have_gid;
}

ProcessInfo probe_process(const RootFs& fs) {
  ProcessInfo p;
  if (auto text = fs.read_text("/proc/self/limits")) parse_proc_limits(*text, p.limits);
  if (auto text = fs.read_text("/proc/self/status")) parse_proc_status(*text, p.limits, p.identity);
  return p;
}

}  // namespace laneway::hw
