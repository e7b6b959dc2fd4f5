#include "cli/units.h"

#include <fmt/format.h>

namespace laneway::cli {

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes) / 1024.0;
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(kUnits)) {
    v /= 1024.0;
    ++u;
  }
  if (v >= 100) return fmt::format("{:.0f} {}", v, kUnits[u]);
  if (v >= 10) return fmt::format("{:.1f} {}", v, kUnits[u]);
  return fmt::format("{:.2f} {}", v, kUnits[u]);
}

std::string format_tokens(int64_t tokens) {
  if (tokens > 0 && tokens % (int64_t{1} << 20) == 0) return fmt::format("{}M", tokens >> 20);
  if (tokens > 0 && tokens % 1024 == 0) return fmt::format("{}k", tokens >> 10);
  return std::to_string(tokens);
}

int64_t round_down_tokens(int64_t tokens) { return tokens >= 1024 ? tokens / 1024 * 1024 : tokens; }

}  // namespace laneway::cli
