// https:// upstreams: a test-only TLS relay (Boost.Asio SSL) in front of a
// real `laneway serve`, with certificates made here by the openssl CLI (a
// test CA, a server certificate for 127.0.0.1 and localhost, one for another
// name, and a second CA). The front verifies the chain against the system CAs
// plus `ca_file` and the host name: with the right CA the lane serves what the
// upstream answers; without it, with the wrong CA, or with a certificate for
// another name, the lane is unhealthy and requests get a 503 naming the
// certificate failure.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "fake_server.h"
#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using namespace net::experimental::awaitable_operators;

std::string write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

bool run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

// A CA (key + self-signed certificate) under dir/<name>.{key,pem}.
bool make_ca(const std::filesystem::path& dir, const std::string& name) {
  const std::string base = (dir / name).string();
  return run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj '/CN=" + name +
             "' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -keyout '" + base +
             ".key' -out '" + base + ".pem'");
}

// A server certificate dir/<name>.{key,pem} for `san` (e.g. "IP:127.0.0.1,DNS:localhost"), signed by dir/<ca>.
bool make_server_cert(const std::filesystem::path& dir, const std::string& name, const std::string& ca, const std::string& san) {
  const std::string base = (dir / name).string(), ca_base = (dir / ca).string();
  write_file(dir / (name + ".ext"), "subjectAltName=" + san +
                                        "\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n");
  return run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/CN=" + name + "' -keyout '" +
             base + ".key' -out '" + base + ".csr'") &&
         run("openssl x509 -req -days 2 -in '" + base + ".csr' -CA '" + ca_base + ".pem' -CAkey '" + ca_base +
             ".key' -CAcreateserial -extfile '" + base + ".ext' -out '" + base + ".pem'");
}

// TLS on 127.0.0.1:<ephemeral>, relaying each connection's bytes to a plain
// HTTP server on 127.0.0.1:backend_port (and back) until either side closes.
class TlsRelay {
 public:
  TlsRelay(const std::string& cert, const std::string& key, int backend_port)
      : ctx_(ssl::context::tls_server), backend_port_(backend_port) {
    ctx_.use_certificate_chain_file(cert);
    ctx_.use_private_key_file(key, ssl::context::pem);
    server_.emplace([this](tcp::socket sock) { return session(std::move(sock)); });  // once ctx_ holds its files
  }
  int port() const { return server_->port(); }
  int handshakes_ok() const { return ok_.load(); }
  int handshakes_failed() const { return failed_.load(); }

 private:
  template <class From, class To>
  static net::awaitable<void> pump(From& from, To& to) {
    std::array<char, 16384> buf;
    for (;;) {
      auto [ec, n] = co_await from.async_read_some(net::buffer(buf), net::as_tuple(net::use_awaitable));
      if (n > 0) {
        auto [wec, wn] = co_await net::async_write(to, net::buffer(buf.data(), n), net::as_tuple(net::use_awaitable));
        if (wec) co_return;
      }
      if (ec) co_return;
    }
  }
  net::awaitable<void> session(tcp::socket sock) {
    ssl::stream<tcp::socket> tls(std::move(sock), ctx_);
    auto [hec] = co_await tls.async_handshake(ssl::stream_base::server, net::as_tuple(net::use_awaitable));
    if (hec) {
      ++failed_;
      co_return;
    }
    ++ok_;
    tcp::socket back(co_await net::this_coro::executor);
    auto [cec] = co_await back.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), backend_port_),
                                             net::as_tuple(net::use_awaitable));
    if (cec) co_return;
    co_await (pump(tls, back) || pump(back, tls));
    auto [sec] = co_await tls.async_shutdown(net::as_tuple(net::use_awaitable));
    (void)sec;
  }

  ssl::context ctx_;
  int backend_port_ = 0;
  std::atomic<int> ok_{0}, failed_{0};
  std::optional<FakeServer> server_;  // last: its sessions stop first
};

TEST(ServerUpstreamTls, VerifiesChainAndHostName) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  if (!run("command -v openssl")) {
    if (testdata_required()) FAIL() << "the openssl CLI is missing (Debian package openssl)";
    GTEST_SKIP() << "the openssl CLI is missing";
  }
  const auto dir = scratch_dir("server_upstream_tls");
  ASSERT_TRUE(make_ca(dir, "test-ca"));
  ASSERT_TRUE(make_ca(dir, "other-ca"));
  ASSERT_TRUE(make_server_cert(dir, "server", "test-ca", "IP:127.0.0.1,DNS:localhost"));
  ASSERT_TRUE(make_server_cert(dir, "wrong-name", "test-ca", "DNS:wrong.example"));

  const std::string up_cfg = write_file(dir / "upstream.yaml", "lanes:\n  - name: story\n    model: " + stories_model_path() +
                                                                   "\n    context: 256\n    slots: 2\n");
  ServerProcess upstream({"--config", up_cfg, "--port", "0"});
  ASSERT_TRUE(upstream.started()) << upstream.output();
  TlsRelay good((dir / "server.pem").string(), (dir / "server.key").string(), upstream.port());
  TlsRelay wrong_name((dir / "wrong-name.pem").string(), (dir / "wrong-name.key").string(), upstream.port());
  const std::string ca = (dir / "test-ca.pem").string(), other_ca = (dir / "other-ca.pem").string();
  const std::string g = std::to_string(good.port()), w = std::to_string(wrong_name.port());
  const std::string front_cfg = write_file(
      dir / "front.yaml",
      "services:\n"
      "  - name: tls_ok\n    url: https://127.0.0.1:" + g + "/v1\n    ca_file: " + ca + "\n"
      "  - name: tls_localhost\n    url: https://localhost:" + g + "/v1\n    ca_file: " + ca + "\n"
      "  - name: tls_no_ca\n    url: https://127.0.0.1:" + g + "/v1\n"
      "  - name: tls_other_ca\n    url: https://127.0.0.1:" + g + "/v1\n    ca_file: " + other_ca + "\n"
      "  - name: tls_wrong_name\n    url: https://127.0.0.1:" + w + "/v1\n    ca_file: " + ca + "\n"
      "lanes:\n"
      "  - name: secure\n    service: tls_ok\n    upstream_model: story\n"
      "  - name: by_name\n    service: tls_localhost\n    upstream_model: story\n"
      "  - name: no_ca\n    service: tls_no_ca\n    upstream_model: story\n"
      "  - name: other_ca\n    service: tls_other_ca\n    upstream_model: story\n"
      "  - name: wrong_name\n    service: tls_wrong_name\n    upstream_model: story\n");
  ServerProcess front({"--config", front_cfg, "--port", "0", "--health-interval-ms", "200"});
  ASSERT_TRUE(front.started()) << front.output();
  const int port = front.port();

  // The right CA: healthy, and answers equal the upstream's own.
  ASSERT_TRUE(wait_for_status(port, "/lanes/secure/health", 200, std::chrono::seconds(10))) << front.output();
  ASSERT_TRUE(wait_for_status(port, "/lanes/by_name/health", 200, std::chrono::seconds(10))) << front.output();
  const json body = {{"prompt", "Once upon a time"}, {"max_tokens", 12}, {"temperature", 0}};
  json direct_body = body, proxied_body = body;
  direct_body["model"] = "story";
  const HttpResponse direct = http_post(upstream.port(), "/v1/completions", direct_body.dump());
  ASSERT_EQ(direct.status, 200) << direct.body;
  const std::string want = json::parse(direct.body)["choices"][0]["text"];
  for (const char* lane : {"secure", "by_name"}) {
    proxied_body["model"] = lane;
    const HttpResponse r = http_post(port, "/v1/completions", proxied_body.dump());
    ASSERT_EQ(r.status, 200) << lane << ": " << r.body;
    EXPECT_EQ(json::parse(r.body)["choices"][0]["text"], want) << lane;
  }
  // Streamed through TLS too.
  proxied_body["model"] = "secure";
  proxied_body["stream"] = true;
  const HttpResponse s = http_post(port, "/v1/completions", proxied_body.dump());
  ASSERT_EQ(s.status, 200) << s.body;
  std::string text;
  for (const auto& e : sse_events(s.body)) {
    if (e == "[DONE]") break;
    const json j = json::parse(e);
    if (!j["choices"].empty()) text += j["choices"][0]["text"].get<std::string>();
  }
  EXPECT_EQ(text, want);
  EXPECT_GT(good.handshakes_ok(), 0);

  // Unknown CA, another CA, another name: unhealthy, and requests get a 503 that names the certificate failure.
  struct Refused {
    const char* lane;
    const char* why;
  } refused[] = {{"no_ca", "certificate verify failed"},
                 {"other_ca", "certificate verify failed"},
                 {"wrong_name", "does not name 127.0.0.1"}};
  for (const auto& r : refused) {
    const std::string health = std::string("/lanes/") + r.lane + "/health";
    ASSERT_TRUE(wait_for_status(port, health, 503, std::chrono::seconds(10))) << r.lane;
    const HttpResponse h = http_get(port, health);
    EXPECT_NE(h.body.find(r.why), std::string::npos) << r.lane << ": " << h.body;
    json b = body;
    b["model"] = r.lane;
    const HttpResponse a = http_post(port, "/v1/completions", b.dump());
    EXPECT_EQ(a.status, 503) << r.lane << ": " << a.body;
    EXPECT_NE(a.body.find(r.why), std::string::npos) << r.lane << ": " << a.body;
    std::printf("%s: HTTP %d: %s\n", r.lane, a.status, a.body.c_str());
  }
  EXPECT_GT(wrong_name.handshakes_failed(), 0);  // the front hung up on the wrong certificate
}

}  // namespace
}  // namespace laneway::test
