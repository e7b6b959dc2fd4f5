#include "support/pty_runner.h"

#include <chrono>
#include <csignal>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/testdata.h"

namespace laneway::test {

PtyResult run_laneway_pty(const std::string& args, const std::string& input, int timeout_s, const std::string& env) {
  PtyResult r;
  const std::string cmd = "exec env " + (env.empty() ? std::string() : env + " ") + laneway_binary().string() + " " + args;
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  if (pid < 0) return r;
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  if (!input.empty()) {
    // Typed ahead; a terminal's input queue holds it until the program reads.
    ssize_t off = 0;
    while (off < static_cast<ssize_t>(input.size())) {
      const ssize_t n = write(master, input.data() + off, input.size() - static_cast<size_t>(off));
      if (n <= 0) break;
      off += n;
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      break;
    }
    pollfd p{master, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;  // EIO: the child closed the terminal
    r.output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  close(master);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace laneway::test
