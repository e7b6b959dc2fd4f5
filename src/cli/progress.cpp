#include "cli/progress.h"

#include <cstdio>
#include <filesystem>
#include <unistd.h>

#include <fmt/format.h>

#include "cli/units.h"

namespace laneway::cli {

bool stderr_is_terminal() { return isatty(STDERR_FILENO) != 0; }

TerminalProgress::TerminalProgress(std::string label) : label_(std::move(label)), active_(stderr_is_terminal()) {}

TerminalProgress::~TerminalProgress() { finish(); }

void TerminalProgress::bytes(uint64_t done, uint64_t total) {
  if (!active_) return;
  std::string text = fmt::format("{}: {}", label_, format_bytes(done));
  if (total > 0) text += fmt::format(" of {} ({}%)", format_bytes(total), done * 100 / total);
  draw(text, total > 0 && done >= total);
}

void TerminalProgress::draw(const std::string& text, bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  std::fprintf(stderr, "\r%s\033[K", text.c_str());
  std::fflush(stderr);
}

void TerminalProgress::finish() {
  if (!active_ || !drawn_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

FileGrowthProgress::FileGrowthProgress(std::string label, std::string path, uint64_t expected_bytes) {
  if (!stderr_is_terminal()) return;
  thread_ = std::thread([this, label = std::move(label), path = std::move(path), expected_bytes] {
    TerminalProgress progress(label);
    while (!stop_.load()) {
      std::error_code ec;
      const auto size = std::filesystem::file_size(path, ec);
      progress.bytes(ec ? 0 : size, expected_bytes > size ? expected_bytes : 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
}

FileGrowthProgress::~FileGrowthProgress() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace laneway::cli
