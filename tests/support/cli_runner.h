// Runs the built laneway binary as a black box: exit code, stdout, stderr.
#pragma once

#include <string>

namespace laneway::test {

struct CliResult {
  int exit_code = -1;  // -1 when killed by a signal or not started
  std::string out;
  std::string err;
};

// `args` is appended to the binary path and run by /bin/sh (quote as needed).
// `stdin_text`, when non-empty, is fed to the process's standard input.
// `shell_prefix` runs first in the same shell (e.g. "ulimit -f 64; exec").
CliResult run_laneway(const std::string& args, const std::string& stdin_text = "", const std::string& shell_prefix = "");

// The text `laneway run` generated: its stdout less the newline it ends with
// (added when the text does not end in one, for the shell's prompt).
inline std::string generated_text(const std::string& out) {
  return !out.empty() && out.back() == '\n' ? out.substr(0, out.size() - 1) : out;
}

}  // namespace laneway::test
