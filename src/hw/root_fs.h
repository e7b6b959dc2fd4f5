// RootFs: every read the hardware probe makes goes through an injected root
// directory ("/" on a real machine, a fixture tree in tests), so a probe of a
// Strix Halo APU or a cgroup-limited container can run on any build machine.
//
// Paths passed in are absolute as seen on the probed machine ("/proc/meminfo");
// RootFs prefixes its root. Missing or unreadable files are not errors here:
// they come back as std::nullopt / empty and the probe reports "unknown".
// Thread-safety: immutable after construction; safe to share.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace laneway::hw {

class RootFs {
 public:
  explicit RootFs(std::filesystem::path root = "/");

  const std::filesystem::path& root() const { return root_; }

  // root + machine_path (machine_path starts with '/').
  std::filesystem::path resolve(std::string_view machine_path) const;

  bool exists(std::string_view machine_path) const;
  bool is_dir(std::string_view machine_path) const;
  // Whole file (procfs and sysfs files report size 0, so this reads to EOF).
  std::optional<std::string> read_text(std::string_view machine_path) const;
  // First line, whitespace-trimmed; nullopt when missing or empty.
  std::optional<std::string> read_line(std::string_view machine_path) const;
  // A decimal or 0x-hex integer on the first line.
  std::optional<uint64_t> read_u64(std::string_view machine_path) const;
  // Entry names in a directory, sorted; empty when missing.
  std::vector<std::string> list_dir(std::string_view machine_path) const;

 private:
  std::filesystem::path root_;
};

// Small text helpers shared by the probe's parsers.
std::string_view trim(std::string_view s);
std::vector<std::string_view> split_lines(std::string_view text);
std::vector<std::string_view> split_ws(std::string_view s);
std::optional<uint64_t> parse_u64(std::string_view s);  // decimal or 0x-hex, trimmed
bool starts_with(std::string_view s, std::string_view prefix);
// "1.50 GiB", "512 MiB", "64 KiB": powers of 1024, for messages.
std::string format_bytes(uint64_t bytes);

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;

}  // namespace laneway::hw
