#include "hw/root_fs.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

namespace laneway::hw {

RootFs::RootFs(std::filesystem::path root) : root_(std::move(root)) {
  if (root_.empty()) root_ = "/";
}

std::filesystem::path RootFs::resolve(std::string_view machine_path) const {
  while (!machine_path.empty() && machine_path.front() == '/') machine_path.remove_prefix(1);
  return root_ / std::filesystem::path(machine_path);
}

bool RootFs::exists(std::string_view machine_path) const {
  std::error_code ec;
  return std::filesystem::exists(resolve(machine_path), ec);
}

bool RootFs::is_dir(std::string_view machine_path) const {
  std::error_code ec;
  return std::filesystem::is_directory(resolve(machine_path), ec);
}

std::optional<std::string> RootFs::read_text(std::string_view machine_path) const {
  std::ifstream in(resolve(machine_path), std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return ss.str();
}

std::optional<std::string> RootFs::read_line(std::string_view machine_path) const {
  auto text = read_text(machine_path);
  if (!text) return std::nullopt;
  std::string_view v = *text;
  v = v.substr(0, v.find('\n'));
  v = trim(v);
  if (v.empty()) return std::nullopt;
  return std::string(v);
}

std::optional<uint64_t> RootFs::read_u64(std::string_view machine_path) const {
  auto line = read_line(machine_path);
  if (!line) return std::nullopt;
  return parse_u64(*line);
}

std::vector<std::string> RootFs::list_dir(std::string_view machine_path) const {
  std::vector<std::string> names;
  std::error_code ec;
  std::filesystem::directory_iterator it(resolve(machine_path), ec);
  if (ec) return names;
  for (const auto& entry : it) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string_view trim(std::string_view s) {
  const char* ws = " \t\r\n\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    const size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  s = trim(s);
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string format_bytes(uint64_t bytes) {
  auto scaled = [&](uint64_t unit, const char* name) {
    const double v = double(bytes) / double(unit);
    // Whole numbers print without decimals: "512 MiB", "64 KiB".
    if (bytes % unit == 0) return fmt::format("{} {}", bytes / unit, name);
    return fmt::format("{:.1f} {}", v, name);
  };
  if (bytes >= kGiB) return scaled(kGiB, "GiB");
  if (bytes >= kMiB) return scaled(kMiB, "MiB");
  if (bytes >= kKiB) return scaled(kKiB, "KiB");
  return fmt::format("{} B", bytes);
}

}  // namespace laneway::hw
