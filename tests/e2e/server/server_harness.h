// Black-box helpers for `laneway serve` tests: start the real binary on a
// free port (--port 0; the port is read from its "listening on" line), talk
// HTTP (or HTTPS, with a test CA) to it, and always stop it (SIGKILL in the
// destructor if still alive).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace laneway::test {

class ServerProcess {
 public:
  // Starts `laneway serve <args>` and waits until it listens and its eager
  // lanes have loaded or failed ("lanes settled"), or it exits. With
  // wait_for_lanes false it returns as soon as it listens.
  explicit ServerProcess(const std::vector<std::string>& args, std::chrono::seconds start_timeout = std::chrono::seconds(60),
                         bool wait_for_lanes = true);
  // Any other program that prints "listening on http://HOST:PORT" once it
  // listens (a fake upstream); argv[0] is its path.
  struct Program {
    std::vector<std::string> argv;
  };
  explicit ServerProcess(const Program& program, std::chrono::seconds start_timeout = std::chrono::seconds(30));
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool started() const { return port_ > 0; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // https:// when the server said it listens with TLS.
  std::string base_url() const { return (tls_ ? "https" : "http") + std::string("://127.0.0.1:") + std::to_string(port_); }
  // The port of `--ollama-port` (from its "Ollama API also on" line); 0 when none.
  int ollama_port();
  // What the process printed so far (stdout + stderr), for failure messages.
  std::string output();

  // Sends a signal and waits up to `timeout` for the exit; returns the exit
  // code (-1 when it did not exit in time or died by a signal).
  int stop(int signal, std::chrono::milliseconds timeout);
  bool alive();

 private:
  void launch(std::vector<std::string> argv, std::chrono::seconds start_timeout, bool wait_for_lanes);
  void drain();
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
  bool tls_ = false;
  std::string output_;
  int exit_code_ = -2;  // -2: not reaped yet
};

struct HttpResponse {
  int status = 0;  // 0: no response (connection failed)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string error;  // transport error, when status == 0
};

// A plain TCP connection to 127.0.0.1:port (a file descriptor), -1 when refused.
int connect_raw(int port);

HttpResponse http_request(int port, const std::string& method, const std::string& target, const std::string& body = "",
                          const std::map<std::string, std::string>& headers = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));
inline HttpResponse http_get(int port, const std::string& target) { return http_request(port, "GET", target); }
inline HttpResponse http_post(int port, const std::string& target, const std::string& body,
                              const std::map<std::string, std::string>& headers = {}) {
  auto h = headers;
  h.emplace("Content-Type", "application/json");
  return http_request(port, "POST", target, body, h);
}
// Writes raw bytes, reads until the server closes or `timeout`; returns what came back.
std::string raw_exchange(int port, const std::string& bytes, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                         bool half_close = true);

// The `data:` payloads of an SSE body, in order ("[DONE]" included).
std::vector<std::string> sse_events(const std::string& body);

// Polls `done()` every 20 ms until it is true (true) or `timeout` passes (false).
template <typename Pred>
bool wait_until(Pred done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// Polls GET target until it answers `status` or the timeout passes.
bool wait_for_status(int port, const std::string& target, int status, std::chrono::milliseconds timeout);

std::string stories_model_path();  // testdata models/stories260K.gguf

// A "kB" field of /proc/PID/status in bytes ("VmRSS", "VmHWM"); 0 when absent.
uint64_t proc_status_bytes(pid_t pid, const std::string& field);

// HTTPS with Boost.Asio SSL: verifies the server's certificate against
// `ca_file` and the name `host` (an IP address or DNS name); `ca_file` ""
// uses the system's CAs (a test certificate then fails: status 0, error says why).
HttpResponse https_request(int port, const std::string& ca_file, const std::string& method, const std::string& target,
                           const std::string& body = "", const std::map<std::string, std::string>& headers = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(60),
                           const std::string& host = "127.0.0.1");

// One TLS connection (verified against `ca_file`) to hold open or to feed
// piece by piece, for tests of slow and hostile clients over TLS.
class TlsConnection {
 public:
  TlsConnection(int port, const std::string& ca_file);  // connects and finishes the handshake
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  bool send(const std::string& bytes);
  // What the server sends until it closes (or ends TLS) or `timeout` passes.
  std::string read_until_close(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string error_;
};

// A test PKI made with the `openssl` command in `dir`: ca.pem (a self-signed
// CA), server.pem + server.key (signed by it, for 127.0.0.1 and localhost),
// other.key (a key of no certificate). "" on success, else what failed.
std::string make_test_certificates(const std::filesystem::path& dir);

// A TCP port that was free a moment ago (for `listen: PORT` in tests).
int free_port();

}  // namespace laneway::test
