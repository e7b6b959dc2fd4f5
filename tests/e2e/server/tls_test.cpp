// server.tls: every port of `laneway serve` speaks HTTPS with the configured
// certificate (a test CA made here with the openssl command): requests that
// verify against the CA are served on the main port, a lane's own port and
// the Ollama port; plain HTTP to a TLS port gets a clear 400 and the server
// goes on; a handshake that never finishes is dropped after the header
// timeout while others are served; bad certificate files stop the start with
// exit 2, the path and OpenSSL's reason.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server_harness.h"
#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;


// Certificates and a lanes.yaml whose tls paths are relative to its folder.
struct TlsSetup {
  std::filesystem::path dir;
  std::string error;  // "" when the certificates were made
  std::string ca() const { return (dir / "ca.pem").string(); }
  std::string config;

  explicit TlsSetup(const std::string& name, const std::string& lane_extra = "") {
    dir = scratch_dir(name);
    error = make_test_certificates(dir);
    config = (dir / "lanes.yaml").string();
    std::ofstream(config) << "server:\n  tls: { cert: server.pem, key: server.key }\n"
                             "lanes:\n  - name: stories\n    model: " +
                                 stories_model_path() + "\n    context: 256\n    default: true\n" + lane_extra;
  }
};

const std::string kChat =
    R"({"model": "stories", "messages": [{"role": "user", "content": "Once upon a time"}], "max_tokens": 8, "temperature": 0})";

TEST(ServerTls, HttpsVerifiesWithTheTestCaOnEveryPort) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const int lane_port = free_port();
  TlsSetup setup("server_tls_ports", "    listen: " + std::to_string(lane_port) + "\n");
  ASSERT_EQ(setup.error, "");
  ServerProcess server({"--config", setup.config, "--port", "0", "--ollama-port", "0"});
  ASSERT_TRUE(server.started()) << server.output();
  EXPECT_EQ(server.base_url().rfind("https://", 0), 0u) << server.output();
  const int port = server.port();

  HttpResponse health = https_request(port, setup.ca(), "GET", "/health");
  EXPECT_EQ(health.status, 200) << health.error << health.body;
  // By name as well as by address: the certificate covers both.
  EXPECT_EQ(https_request(port, setup.ca(), "GET", "/health", "", {}, std::chrono::seconds(30), "localhost").status, 200);
  HttpResponse chat = https_request(port, setup.ca(), "POST", "/v1/chat/completions", kChat,
                                    {{"Content-Type", "application/json"}});
  ASSERT_EQ(chat.status, 200) << chat.error << chat.body;
  const json c = json::parse(chat.body, nullptr, false);
  ASSERT_FALSE(c.is_discarded()) << chat.body;
  EXPECT_FALSE(c["choices"][0]["message"]["content"].get<std::string>().empty());

  // Streamed: SSE over TLS, chunk by chunk, ending in [DONE].
  json streamed = json::parse(kChat);
  streamed["stream"] = true;
  HttpResponse sse = https_request(port, setup.ca(), "POST", "/v1/chat/completions", streamed.dump(),
                                   {{"Content-Type", "application/json"}});
  ASSERT_EQ(sse.status, 200) << sse.error << sse.body;
  const auto events = sse_events(sse.body);
  ASSERT_GE(events.size(), 3u) << sse.body;
  EXPECT_EQ(events.back(), "[DONE]");

  // The lane's own port and the Ollama port speak TLS too.
  HttpResponse models = https_request(lane_port, setup.ca(), "GET", "/v1/models");
  EXPECT_EQ(models.status, 200) << models.error << models.body;
  const int ollama = server.ollama_port();
  ASSERT_GT(ollama, 0) << server.output();
  HttpResponse ollama_chat = https_request(
      ollama, setup.ca(), "POST", "/api/chat",
      R"({"model": "stories", "messages": [{"role": "user", "content": "Hi"}], "stream": false, "options": {"num_predict": 4}})",
      {{"Content-Type", "application/json"}});
  EXPECT_EQ(ollama_chat.status, 200) << ollama_chat.error << ollama_chat.body;

  // A client that does not trust the test CA refuses the server: the
  // certificate really is the configured one.
  HttpResponse untrusted = https_request(port, "", "GET", "/health", "", {}, std::chrono::seconds(10));
  EXPECT_EQ(untrusted.status, 0);
  EXPECT_NE(untrusted.error.find("certificate verify failed"), std::string::npos) << untrusted.error;
  // ...and neither does a client that checks for another name.
  HttpResponse wrong_name = https_request(port, setup.ca(), "GET", "/health", "", {}, std::chrono::seconds(10), "example.com");
  EXPECT_EQ(wrong_name.status, 0) << wrong_name.body;
  EXPECT_EQ(https_request(port, setup.ca(), "GET", "/health").status, 200);
}

TEST(ServerTls, PlainHttpToTheTlsPortFailsCleanlyAndTheServerKeepsServing) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  TlsSetup setup("server_tls_plain");
  ASSERT_EQ(setup.error, "");
  ServerProcess server({"--config", setup.config, "--port", "0"});
  ASSERT_TRUE(server.started()) << server.output();
  const auto t0 = Clock::now();
  const std::string reply = raw_exchange(server.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", std::chrono::seconds(10),
                                         /*half_close=*/false);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(reply.rfind("HTTP/1.1 400 ", 0), 0u) << reply;
  EXPECT_NE(reply.find("https://"), std::string::npos) << reply;
  EXPECT_LT(seconds, 5.0) << "the answer comes at once and the connection closes";
  // The Beast client sees a clean 400 as well, and a POST with a body too.
  EXPECT_EQ(http_get(server.port(), "/health").status, 400);
  EXPECT_EQ(http_post(server.port(), "/v1/chat/completions", kChat).status, 400);
  // Garbage that is neither TLS nor HTTP: closed, nothing answered in plain text.
  const std::string garbage = raw_exchange(server.port(), std::string(64, '\x01'), std::chrono::seconds(10));
  EXPECT_EQ(garbage.find("HTTP/1.1"), std::string::npos) << garbage;
  for (int i = 0; i < 3; ++i) {
    HttpResponse ok = https_request(server.port(), setup.ca(), "POST", "/v1/chat/completions", kChat,
                                    {{"Content-Type", "application/json"}});
    EXPECT_EQ(ok.status, 200) << ok.error << ok.body;
  }
  EXPECT_TRUE(server.alive());
}

TEST(ServerTls, AHandshakeThatNeverFinishesIsTimedOutWhileOthersAreServed) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  TlsSetup setup("server_tls_handshake");
  ASSERT_EQ(setup.error, "");
  ServerProcess server({"--config", setup.config, "--port", "0", "--debug-header-timeout-ms", "2000"});
  ASSERT_TRUE(server.started()) << server.output();
  // 64 clients that connect and never say a word, 64 that send the first
  // bytes of a TLS record header and stall.
  std::vector<int> stalled;
  const auto t0 = Clock::now();
  for (int i = 0; i < 128; ++i) {
    const int fd = connect_raw(server.port());
    ASSERT_GE(fd, 0) << i;
    if (i % 2 == 1) (void)::send(fd, "\x16\x03\x01\x02", 4, MSG_NOSIGNAL);
    stalled.push_back(fd);
  }
  // Meanwhile others are served over TLS, promptly.
  double worst = 0;
  for (int i = 0; i < 3; ++i) {
    const auto r0 = Clock::now();
    HttpResponse r = https_request(server.port(), setup.ca(), "POST", "/v1/chat/completions", kChat,
                                   {{"Content-Type", "application/json"}});
    worst = std::max(worst, std::chrono::duration<double>(Clock::now() - r0).count());
    EXPECT_EQ(r.status, 200) << r.error << r.body;
  }
  EXPECT_LT(worst, 2.0) << "stalled handshakes must not hold up other clients";
  // Every stalled connection is closed by the server after the 2 s timeout:
  // recv() sees the end (0, or a reset), never data-less waiting forever.
  double first_close = 1e9;
  double last_close = 0;
  size_t closed = 0;
  for (int fd : stalled) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(t0 + std::chrono::seconds(20) - Clock::now());
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count()))) == 1) {
      char buf[256];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      // A TLS alert may come first for the half-sent record; then the end.
      if (n > 0) {
        pollfd q{fd, POLLIN, 0};
        if (poll(&q, 1, 5000) == 1 && ::recv(fd, buf, sizeof buf, 0) > 0) continue;
      }
      const double at = std::chrono::duration<double>(Clock::now() - t0).count();
      first_close = std::min(first_close, at);
      last_close = std::max(last_close, at);
      ++closed;
    }
  }
  for (int fd : stalled) ::close(fd);
  std::printf("128 stalled TLS handshakes: closed %zu, first after %.3f s, last after %.3f s; worst request %.3f s\n",
              closed, first_close, last_close, worst);
  EXPECT_EQ(closed, stalled.size());
  EXPECT_GE(first_close, 1.5) << "closed before the header timeout";
  EXPECT_LT(last_close, 15.0);
  EXPECT_EQ(https_request(server.port(), setup.ca(), "GET", "/health").status, 200);
}

TEST(ServerTls, BadCertificateFilesStopTheStartWithExit2) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_tls_bad");
  ASSERT_EQ(make_test_certificates(dir), "");
  std::ofstream(dir / "garbage.pem") << "not a certificate\n";
  struct Case {
    std::string cert, key, expect;
  };
  const std::vector<Case> cases = {
      {(dir / "missing.pem").string(), (dir / "server.key").string(), "server.tls.cert: cannot read " + (dir / "missing.pem").string()},
      {(dir / "server.pem").string(), (dir / "missing.key").string(), "server.tls.key: cannot read " + (dir / "missing.key").string()},
      {(dir / "garbage.pem").string(), (dir / "server.key").string(), "holds no usable PEM certificate chain"},
      {(dir / "server.pem").string(), (dir / "garbage.pem").string(), "holds no usable PEM private key"},
      {(dir / "server.pem").string(), (dir / "other.key").string(), "does not belong to the certificate"},
  };
  for (const Case& c : cases) {
    const std::string config = (dir / "lanes.yaml").string();
    std::ofstream(config) << "server:\n  tls: { cert: " + c.cert + ", key: " + c.key + " }\nlanes:\n  - name: s\n    model: " +
                                 stories_model_path() + "\n    context: 128\n";
    ServerProcess server({"--config", config, "--port", "0"}, std::chrono::seconds(30));
    EXPECT_FALSE(server.started()) << server.output();
    EXPECT_EQ(server.stop(SIGKILL, std::chrono::seconds(10)), 2) << server.output();
    EXPECT_NE(server.output().find(c.expect), std::string::npos) << c.expect << "\n" << server.output();
  }
  // The same files from the command line; one without the other is refused.
  ServerProcess flags({"-m", stories_model_path(), "--port", "0", "--tls-cert", (dir / "server.pem").string(), "--tls-key",
                       (dir / "other.key").string()},
                      std::chrono::seconds(30));
  EXPECT_FALSE(flags.started());
  EXPECT_NE(flags.output().find("does not belong to the certificate"), std::string::npos) << flags.output();
  ServerProcess half({"-m", stories_model_path(), "--port", "0", "--tls-cert", (dir / "server.pem").string()},
                     std::chrono::seconds(30));
  EXPECT_FALSE(half.started());
  EXPECT_NE(half.output().find("--tls-cert and --tls-key go together"), std::string::npos) << half.output();
}

TEST(ServerTls, ConfigCheckWantsTheTlsFiles) {
  const auto dir = scratch_dir("server_tls_config_check");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << "server:\n  tls: { cert: cert.pem, key: key.pem }\nlanes:\n  - name: s\n    model: /m/s.gguf\n";
  CliResult missing = run_laneway("config check '" + config + "'");
  EXPECT_EQ(missing.exit_code, 2) << missing.out << missing.err;
  EXPECT_NE(missing.err.find("server.tls.cert: " + (dir / "cert.pem").string() + " does not exist"), std::string::npos)
      << missing.err;
  std::ofstream(dir / "cert.pem") << "x";
  CliResult no_key = run_laneway("config check '" + config + "'");
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_NE(no_key.err.find("server.tls.key: " + (dir / "key.pem").string() + " does not exist"), std::string::npos)
      << no_key.err;
  std::ofstream(dir / "key.pem") << "x";
  CliResult ok = run_laneway("config check '" + config + "'");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("tls: cert " + (dir / "cert.pem").string()), std::string::npos) << ok.out;
}

// The limits of plain HTTP hold after the handshake: header size (431), body
// size (413), a body that stops arriving (408 after the inactivity timeout),
// a header that never ends (408 after the header timeout).
TEST(ServerTls, RequestLimitsHoldOverTls) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  TlsSetup setup("server_tls_limits");
  ASSERT_EQ(setup.error, "");
  std::ofstream(setup.config, std::ios::app) << "    max_body_bytes: 1KiB\n";
  ServerProcess server({"--config", setup.config, "--port", "0", "--debug-body-idle-timeout-ms", "700",
                        "--debug-header-timeout-ms", "1500"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  {
    TlsConnection c(port, setup.ca());
    ASSERT_TRUE(c.ok()) << c.error();
    c.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70'000, 'a') + "\r\n\r\n");
    const std::string reply = c.read_until_close(std::chrono::seconds(10));
    EXPECT_EQ(reply.rfind("HTTP/1.1 431 ", 0), 0u) << reply.substr(0, 200);
  }
  {
    TlsConnection c(port, setup.ca());
    ASSERT_TRUE(c.ok()) << c.error();
    c.send("POST /lanes/stories/v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: 5000\r\n\r\n" + std::string(5000, ' '));
    const std::string reply = c.read_until_close(std::chrono::seconds(10));
    EXPECT_EQ(reply.rfind("HTTP/1.1 413 ", 0), 0u) << reply.substr(0, 200);
  }
  {
    TlsConnection c(port, setup.ca());
    ASSERT_TRUE(c.ok()) << c.error();
    const auto t0 = Clock::now();
    c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
           "{\"prompt\": \"Once u");
    const std::string reply = c.read_until_close(std::chrono::seconds(10));
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    EXPECT_EQ(reply.rfind("HTTP/1.1 408 ", 0), 0u) << reply.substr(0, 200);
    EXPECT_NE(reply.find("Request body timed out"), std::string::npos) << reply;
    EXPECT_GE(s, 0.6);
    EXPECT_LT(s, 8.0);
    std::printf("TLS body stalled: 408 after %.3f s (inactivity timeout 0.7 s)\n", s);
  }
  {
    TlsConnection c(port, setup.ca());
    ASSERT_TRUE(c.ok()) << c.error();
    const auto t0 = Clock::now();
    c.send("GET /health HTTP/1.1\r\nHo");
    const std::string reply = c.read_until_close(std::chrono::seconds(10));
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    EXPECT_EQ(reply.rfind("HTTP/1.1 408 ", 0), 0u) << reply.substr(0, 200);
    EXPECT_GE(s, 1.2);
    EXPECT_LT(s, 9.0);
  }
  EXPECT_EQ(https_request(port, setup.ca(), "GET", "/health").status, 200);
}

// --max-connections counts TLS connections: past it a client gets a 503
// over TLS, and is served again once some close.
TEST(ServerTls, MaxConnectionsHoldsOverTls) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  TlsSetup setup("server_tls_max_connections");
  ASSERT_EQ(setup.error, "");
  ServerProcess server({"--config", setup.config, "--port", "0", "--max-connections", "6"});
  ASSERT_TRUE(server.started()) << server.output();
  std::vector<std::unique_ptr<TlsConnection>> idle;
  for (int i = 0; i < 6; ++i) {
    idle.push_back(std::make_unique<TlsConnection>(server.port(), setup.ca()));
    ASSERT_TRUE(idle.back()->ok()) << idle.back()->error();
  }
  HttpResponse full;
  for (int attempt = 0; attempt < 50 && full.status != 503; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    full = https_request(server.port(), setup.ca(), "GET", "/health", "", {}, std::chrono::seconds(10));
  }
  EXPECT_EQ(full.status, 503) << full.body << full.error;
  EXPECT_NE(full.body.find("too_many_connections"), std::string::npos) << full.body;
  idle.resize(3);  // three close
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    served = https_request(server.port(), setup.ca(), "GET", "/health", "", {}, std::chrono::seconds(10)).status == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(served);
  EXPECT_NE(server.output().find("too many open connections"), std::string::npos) << server.output();
}

}  // namespace
}  // namespace laneway::test
