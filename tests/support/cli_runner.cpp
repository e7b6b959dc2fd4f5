#include "support/cli_runner.h"

#include <array>
#include <cstdio>
#include <fstream>
#include <sys/wait.h>

#include "support/testdata.h"

namespace laneway::test {

CliResult run_laneway(const std::string& args, const std::string& stdin_text, const std::string& shell_prefix) {
  static int counter = 0;
  const auto dir = scratch_dir("cli_run_" + std::to_string(counter++));
  const std::string err_path = (dir / "stderr").string();
  std::string cmd = (shell_prefix.empty() ? "" : shell_prefix + " ") + laneway_command() + " " + args + " 2>" + err_path;
  if (!stdin_text.empty()) {
    const std::string in_path = (dir / "stdin").string();
    std::ofstream(in_path, std::ios::binary) << stdin_text;
    cmd += " <" + in_path;
  } else {
    cmd += " </dev/null";
  }
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err_path);
  return r;
}

}  // namespace laneway::test
