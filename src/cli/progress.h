// Progress of long work on a terminal: one line on stderr, redrawn at most
// ten times a second and erased when the work is done. Silent when stderr is
// not a terminal (logs, pipes, tests), so output there stays as it was.
//
// Not thread-safe: one owner updates it (FileGrowthProgress runs its own
// thread and owns its TerminalProgress).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

namespace laneway::cli {

// Whether stderr is a terminal (progress and colour go there only).
bool stderr_is_terminal();

class TerminalProgress {
 public:
  // `label` starts the line ("loading stories260K.gguf").
  explicit TerminalProgress(std::string label);
  ~TerminalProgress();
  TerminalProgress(const TerminalProgress&) = delete;
  TerminalProgress& operator=(const TerminalProgress&) = delete;

  bool active() const { return active_; }
  // "loading x.gguf: 312 MiB of 600 MiB (52%)"; total 0 = unknown.
  void bytes(uint64_t done, uint64_t total);
  // Erases the line (the destructor does too).
  void finish();

 private:
  void draw(const std::string& text, bool force);

  std::string label_;
  bool active_ = false;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// Shows a file's size as it grows, from a thread, while another writes it
// (synth writes through the GGUF writer, which reports nothing).
class FileGrowthProgress {
 public:
  FileGrowthProgress(std::string label, std::string path, uint64_t expected_bytes = 0);
  ~FileGrowthProgress();  // stops the thread and erases the line
  FileGrowthProgress(const FileGrowthProgress&) = delete;
  FileGrowthProgress& operator=(const FileGrowthProgress&) = delete;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace laneway::cli
