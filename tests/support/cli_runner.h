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
CliResult run_laneway(const std::string& args, const std::string& stdin_text = "");

}  // namespace laneway::test
