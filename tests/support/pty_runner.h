// Runs the built laneway binary on a pseudo-terminal, as a person at a
// terminal would: stdin, stdout and stderr are the pty (isatty() is true),
// so terminal-only behaviour (progress lines, the chat of `run`, colour)
// can be tested. `input` is typed at once; the line discipline hands it to
// the program a line at a time, and echoes it into the output.
#pragma once

#include <string>

namespace laneway::test {

struct PtyResult {
  int exit_code = -1;  // -1 when killed (timeout) or not started
  std::string output;  // stdout and stderr together, as the terminal showed them (\r\n line ends)
};

// `args` is appended to the binary path and run by /bin/sh. `env` is put in
// front ("NO_COLOR=1 "), may be empty.
PtyResult run_laneway_pty(const std::string& args, const std::string& input = "", int timeout_s = 60,
                          const std::string& env = "");

}  // namespace laneway::test
