// Upstream services that misbehave, played by a scripted fake behind a real
// `laneway serve`: one that never answers, one that stalls mid-stream, one
// that dies mid-event, one that sends a malformed event stream, one that
// truncates a JSON body and one that answers no HTTP at all. Each client gets
// a timeout, an error event, a truncated (never complete-looking) response or
// a 5xx within the request timeout, never a hang and never a torn event; the
// front keeps serving and holds no connection or descriptor afterwards.
// (An upstream killed with SIGKILL mid-stream, failover and recovery:
// upstream_test.cpp and upstream_replicas_test.cpp.)
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "fake_server.h"
#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

namespace net = boost::asio;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// What the fake sends for a POST, chosen by the `model` the front forwards
// (each lane's upstream_model names one).
const char* const kBehaviours[] = {"ok", "silent", "stall", "torn", "garbage", "short", "nohttp"};

std::string chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + std::string(data) + "\r\n";
}

const std::string kSseHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
const std::string kEvent = "data: {\"choices\":[{\"index\":0,\"text\":\"Once\"}]}\n\n";
const std::string kTornEvent = "data: {\"choices\":[{\"index\":0,\"te";

// The malformed stream: not JSON, raw bytes, odd fields, CRs, a 2 MiB line
// (longer than the front holds back), no [DONE]. Relayed byte for byte.
std::string garbage_body() {
  std::string b = "data: this is not json\n\n";
  b += std::string("\x00\xff\xfe binary\n\n", 13);
  b += "event: weird\nid: 3\nretry: x\n\n";
  b += "data: a\rdata: b\r\r";
  b += "data: " + std::string(2 << 20, 'x') + "\n\n";
  b += "data: {\"unterminated\": ";
  return b;
}

class FakeUpstream {
 public:
  int port() const { return server_.port(); }
  int posts(const std::string& behaviour) {
    std::lock_guard<std::mutex> lock(mu_);
    return posts_[behaviour];
  }
  // POST connections the front closed while the fake still held them open.
  int hung_up(const std::string& behaviour) {
    std::lock_guard<std::mutex> lock(mu_);
    return hung_up_[behaviour];
  }

 private:
  static net::awaitable<void> send(net::ip::tcp::socket& sock, const std::string& bytes) {
    co_await net::async_write(sock, net::buffer(bytes), net::as_tuple(net::use_awaitable));
  }

  // Reads until the peer closes: the front giving up on this request.
  net::awaitable<void> hold_until_hangup(net::ip::tcp::socket& sock, const std::string& behaviour) {
    std::array<char, 256> buf;
    for (;;) {
      auto [ec, n] = co_await sock.async_read_some(net::buffer(buf), net::as_tuple(net::use_awaitable));
      if (ec) break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++hung_up_[behaviour];
  }

  net::awaitable<void> pause(std::chrono::milliseconds d) {
    net::steady_timer timer(co_await net::this_coro::executor, d);
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  }

  net::awaitable<void> session(net::ip::tcp::socket sock) {
    std::string in;
    auto [ec, n] = co_await net::async_read_until(sock, net::dynamic_buffer(in), "\r\n\r\n", net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    if (in.rfind("POST", 0) != 0) {  // health checks
      co_await send(sock, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\nConnection: close\r\n\r\n"
                          "{\"object\":\"list\",\"data\":[]}");
      co_return;
    }
    size_t length = 0;
    if (auto at = in.find("Content-Length: "); at != std::string::npos) length = std::stoul(in.substr(at + 16));
    const size_t body_at = in.find("\r\n\r\n") + 4;
    while (in.size() < body_at + length) {
      std::array<char, 4096> buf;
      auto [rec, got] = co_await sock.async_read_some(net::buffer(buf), net::as_tuple(net::use_awaitable));
      if (rec) co_return;
      in.append(buf.data(), got);
    }
    const json body = json::parse(in.substr(body_at), nullptr, false);
    const std::string behaviour = body.is_object() ? body.value("model", "") : "";
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++posts_[behaviour];
    }
    if (behaviour == "ok") {
      co_await send(sock, kSseHead + chunk(kEvent) + chunk("data: [DONE]\n\n") + "0\r\n\r\n");
    } else if (behaviour == "silent") {
      co_await hold_until_hangup(sock, behaviour);
    } else if (behaviour == "stall") {
      co_await send(sock, kSseHead + chunk(kEvent) + chunk(kTornEvent));
      co_await hold_until_hangup(sock, behaviour);
    } else if (behaviour == "torn") {
      co_await send(sock, kSseHead + chunk(kEvent) + chunk(kTornEvent));
      co_await pause(std::chrono::milliseconds(100));  // let the front relay what it can first
      // closed here, without the last chunk
    } else if (behaviour == "garbage") {
      const std::string b = garbage_body();
      std::string out = kSseHead;
      for (size_t at = 0; at < b.size(); at += 7000) out += chunk(std::string_view(b).substr(at, 7000));
      co_await send(sock, out + "0\r\n\r\n");
    } else if (behaviour == "short") {
      co_await send(sock, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n"
                          "{\"choices\":[{\"index\":0,\"text\":\"Once upon");
      co_await pause(std::chrono::milliseconds(100));
    } else if (behaviour == "nohttp") {
      co_await send(sock, "HELLO THERE\r\n\r\n");
    }
  }

  std::mutex mu_;
  std::map<std::string, int> posts_;
  std::map<std::string, int> hung_up_;
  FakeServer server_{[this](net::ip::tcp::socket sock) { return session(std::move(sock)); }};
};

// One service per behaviour (all on the fake's port), so that ejecting one
// replica leaves the other lanes' health alone.
std::string front_config(const std::filesystem::path& dir, int fake_port) {
  std::string services = "services:\n", lanes = "lanes:\n";
  for (const char* b : kBehaviours) {
    services += std::string("  - name: svc_") + b + "\n    url: http://127.0.0.1:" + std::to_string(fake_port) + "/v1\n";
    lanes += std::string("  - name: ") + b + "\n    service: svc_" + b + "\n    upstream_model: " + b + "\n";
  }
  const auto path = dir / "front.yaml";
  std::ofstream(path) << services << lanes;
  return path.string();
}

int open_fds(pid_t pid) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) ++n;
  return n;
}

struct Timed {
  HttpResponse r;
  double seconds;
};

Timed post(int port, const std::string& lane, bool stream) {
  const json body = {{"model", lane}, {"prompt", "Once upon a time"}, {"max_tokens", 8}, {"stream", stream}};
  const auto t0 = Clock::now();
  HttpResponse r = http_request(port, "POST", "/v1/completions", body.dump(), {{"Content-Type", "application/json"}},
                                std::chrono::seconds(30));
  return {std::move(r), std::chrono::duration<double>(Clock::now() - t0).count()};
}

// Every event of a relayed stream is whole: JSON (or [DONE]), never torn.
void expect_whole_events(const std::vector<std::string>& events) {
  for (const auto& e : events) {
    if (e == "[DONE]") continue;
    EXPECT_TRUE(json::accept(e)) << "a torn or malformed event reached the client: " << e;
  }
}

TEST(ServerUpstreamFaults, TimeoutsErrorEventsAndTruncationNeverAHang) {
  FakeUpstream fake;
  const auto dir = scratch_dir("server_upstream_faults");
  constexpr int kTimeoutMs = 2000;
  ServerProcess front({"--config", front_config(dir, fake.port()), "--port", "0", "--health-interval-ms", "200",
                       "--request-timeout-ms", std::to_string(kTimeoutMs)});
  ASSERT_TRUE(front.started()) << front.output();
  const int port = front.port();
  for (const char* b : kBehaviours) {
    ASSERT_TRUE(wait_for_status(port, std::string("/lanes/") + b + "/health", 200, std::chrono::seconds(10))) << b;
  }
  int fds_before = open_fds(front.pid());
  for (int i = 0; i < 10; ++i) {  // the least over a second: a health probe may hold one for a moment
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fds_before = std::min(fds_before, open_fds(front.pid()));
  }
  const double timeout_s = kTimeoutMs / 1000.0;

  // A well-behaved stream, relayed whole.
  {
    const Timed t = post(port, "ok", true);
    ASSERT_EQ(t.r.status, 200) << t.r.error << t.r.body;
    EXPECT_EQ(t.r.body, kEvent + "data: [DONE]\n\n");
  }

  // Never answers: 504 at the request timeout, not retried, the upstream
  // connection closed by the front; the lane stays ready (slow is not down).
  {
    const Timed t = post(port, "silent", false);
    EXPECT_EQ(t.r.status, 504) << t.r.error << t.r.body;
    EXPECT_NE(t.r.body.find("did not answer within 2000 ms"), std::string::npos) << t.r.body;
    EXPECT_GE(t.seconds, timeout_s - 0.1);
    EXPECT_LT(t.seconds, timeout_s + 3);
    std::printf("silent upstream: HTTP %d after %.2f s (timeout %.1f s)\n", t.r.status, t.seconds, timeout_s);
    const Timed s = post(port, "silent", true);  // streamed: nothing sent yet, the same 504
    EXPECT_EQ(s.r.status, 504) << s.r.body;
    EXPECT_EQ(fake.posts("silent"), 2);
    EXPECT_TRUE(wait_until([&] { return fake.hung_up("silent") == 2; }, std::chrono::seconds(3)));
    EXPECT_EQ(http_get(port, "/lanes/silent/health").status, 200);
  }

  // Stalls mid-stream, mid-event: the events that ended, then an error event
  // at the timeout; the half event is not relayed.
  {
    const Timed t = post(port, "stall", true);
    ASSERT_EQ(t.r.status, 200) << t.r.error << t.r.body;
    EXPECT_TRUE(t.r.error.empty()) << "the stream did not end cleanly: " << t.r.error;
    const auto events = sse_events(t.r.body);
    ASSERT_EQ(events.size(), 2u) << t.r.body;
    EXPECT_EQ("data: " + events[0] + "\n\n", kEvent);
    EXPECT_NE(events[1].find("\"error\""), std::string::npos);
    EXPECT_NE(events[1].find("did not finish within 2000 ms"), std::string::npos) << events[1];
    expect_whole_events(events);
    EXPECT_GE(t.seconds, timeout_s - 0.1);
    EXPECT_LT(t.seconds, timeout_s + 3);
    std::printf("stalled upstream: error event after %.2f s\n", t.seconds);
    EXPECT_TRUE(wait_until([&] { return fake.hung_up("stall") == 1; }, std::chrono::seconds(3)));
  }

  // Dies mid-event: at once, the whole events and an error event, never
  // retried (bytes went out); the replica is ejected and comes back when its
  // health check passes.
  {
    const Timed t = post(port, "torn", true);
    ASSERT_EQ(t.r.status, 200) << t.r.error << t.r.body;
    EXPECT_TRUE(t.r.error.empty()) << t.r.error;
    const auto events = sse_events(t.r.body);
    ASSERT_EQ(events.size(), 2u) << t.r.body;
    EXPECT_EQ("data: " + events[0] + "\n\n", kEvent);
    EXPECT_NE(events[1].find("closed the connection mid-response"), std::string::npos) << events[1];
    expect_whole_events(events);
    EXPECT_LT(t.seconds, 1.5);
    EXPECT_EQ(fake.posts("torn"), 1);
    EXPECT_EQ(http_get(port, "/lanes/torn/health").status, 503);
    const auto t0 = Clock::now();
    EXPECT_TRUE(wait_for_status(port, "/lanes/torn/health", 200, std::chrono::seconds(10)));
    std::printf("upstream closed mid-event: error event after %.2f s; the lane ready again %.2f s later\n", t.seconds,
                std::chrono::duration<double>(Clock::now() - t0).count());
  }

  // A malformed event stream that ends cleanly: relayed byte for byte (the
  // front is a pass-through; the client's parser judges it), complete.
  {
    const Timed t = post(port, "garbage", true);
    std::printf("malformed event stream (%zu bytes): relayed whole in %.3f s\n", t.r.body.size(), t.seconds);
    ASSERT_EQ(t.r.status, 200) << t.r.error;
    EXPECT_TRUE(t.r.error.empty()) << t.r.error;
    EXPECT_EQ(t.r.body.size(), garbage_body().size());
    const std::string want = garbage_body();
    size_t diverge = 0;
    while (diverge < want.size() && diverge < t.r.body.size() && want[diverge] == t.r.body[diverge]) ++diverge;
    EXPECT_EQ(diverge, want.size()) << "the relayed stream differs from byte " << diverge << ": "
                                    << t.r.body.substr(diverge, 400);
  }

  // A JSON body shorter than its Content-Length: the client sees a truncated
  // response (the connection closes), never a complete-looking one.
  {
    const Timed t = post(port, "short", false);
    EXPECT_EQ(t.r.status, 0) << "a truncated upstream body reached the client as complete: " << t.r.body;
    EXPECT_NE(t.r.error.find("partial message"), std::string::npos) << t.r.error;
    EXPECT_LT(t.seconds, 1.5);
  }

  // No HTTP at all: a fast 5xx naming the service (the one replica is ejected).
  {
    const Timed t = post(port, "nohttp", false);
    EXPECT_TRUE(t.r.status == 502 || t.r.status == 503) << t.r.status << " " << t.r.body;
    EXPECT_LT(t.seconds, 1.5);
    EXPECT_GE(fake.posts("nohttp"), 1);
  }

  // The front is fine: live, other lanes serve, no connection left behind.
  EXPECT_EQ(http_get(port, "/health").status, 200);
  EXPECT_EQ(post(port, "ok", true).r.status, 200);
  int fds_after = open_fds(front.pid());
  EXPECT_TRUE(wait_until([&] { return (fds_after = open_fds(front.pid())) <= fds_before; }, std::chrono::seconds(5)))
      << fds_after << " descriptors open, " << fds_before << " before";
  std::printf("front descriptors: %d before the faults, %d after\n", fds_before, fds_after);
  EXPECT_TRUE(front.alive());
}

// An upstream that keeps connections alive: the front reuses one connection
// for a run of requests (no connect, no handshake each time), streamed or
// not. One that closes every connection after its answer without saying so
// (as a server whose keep-alive timeout passed does): each request finds its
// kept connection closed, goes once more on a new one, and succeeds; the
// replica is never ejected for it.
class KeepAliveUpstream {
 public:
  explicit KeepAliveUpstream(bool close_after_each) : close_(close_after_each) {}
  int port() const { return server_.port(); }
  int post_connections() const { return post_connections_.load(); }
  int posts() const { return posts_.load(); }

 private:
  net::awaitable<void> session(net::ip::tcp::socket sock) {
    std::string in;
    bool counted = false;
    for (;;) {
      auto [ec, n] = co_await net::async_read_until(sock, net::dynamic_buffer(in), "\r\n\r\n", net::as_tuple(net::use_awaitable));
      if (ec) co_return;
      const size_t head_end = in.find("\r\n\r\n") + 4;
      size_t length = 0;
      if (auto at = in.find("Content-Length: "); at != std::string::npos && at < head_end) length = std::stoul(in.substr(at + 16));
      while (in.size() < head_end + length) {
        std::array<char, 4096> buf;
        auto [rec, got] = co_await sock.async_read_some(net::buffer(buf), net::as_tuple(net::use_awaitable));
        if (rec) co_return;
        in.append(buf.data(), got);
      }
      const bool post = in.rfind("POST", 0) == 0;
      const bool stream = post && in.substr(head_end, length).find("\"stream\":true") != std::string::npos;
      in.erase(0, head_end + length);
      std::string out;
      if (!post) {
        out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{\"object\":\"list\",\"data\":[]}";
      } else {
        ++posts_;
        if (!counted) ++post_connections_, counted = true;
        if (stream) {
          out = kSseHead.substr(0, kSseHead.find("Connection: close")) + "\r\n" + chunk(kEvent) + chunk("data: [DONE]\n\n") + "0\r\n\r\n";
        } else {
          const std::string body = R"({"choices":[{"index":0,"text":"Once upon a time"}]})";
          out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        }
      }
      auto [wec, wn] = co_await net::async_write(sock, net::buffer(out), net::as_tuple(net::use_awaitable));
      if (wec) co_return;
      if (post && close_) co_return;  // closed without a word, as after a keep-alive timeout
    }
  }

  const bool close_;
  std::atomic<int> post_connections_{0};
  std::atomic<int> posts_{0};
  FakeServer server_{[this](net::ip::tcp::socket sock) { return session(std::move(sock)); }};
};

TEST(ServerUpstreamFaults, KeptConnectionsAreReusedAndAClosedOneIsNotHeldAgainstTheReplica) {
  for (const bool close_after_each : {false, true}) {
    SCOPED_TRACE(close_after_each ? "the upstream closes after each answer" : "keep-alive");
    KeepAliveUpstream up(close_after_each);
    const auto dir = scratch_dir("server_upstream_keepalive");
    const auto cfg = dir / "front.yaml";
    std::ofstream(cfg) << "services:\n  - name: svc\n    url: http://127.0.0.1:" << up.port()
                       << "/v1\nlanes:\n  - name: up\n    service: svc\n";
    ServerProcess front({"--config", cfg.string(), "--port", "0", "--health-interval-ms", "60000"});
    ASSERT_TRUE(front.started()) << front.output();
    const int port = front.port();
    ASSERT_TRUE(wait_for_status(port, "/lanes/up/health", 200, std::chrono::seconds(10)));
    int fds_before = open_fds(front.pid());
    for (int i = 0; i < 10; ++i) {  // the least over half a second: the first probe's connection may still be open
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      fds_before = std::min(fds_before, open_fds(front.pid()));
    }
    for (int i = 0; i < 6; ++i) {
      const Timed t = post(port, "up", i % 2 == 1);
      ASSERT_EQ(t.r.status, 200) << i << ": " << t.r.error << t.r.body;
      EXPECT_TRUE(t.r.error.empty()) << t.r.error;
      if (i % 2 == 1) {
        EXPECT_EQ(t.r.body, kEvent + "data: [DONE]\n\n");
      }
    }
    EXPECT_EQ(up.posts(), 6);
    EXPECT_EQ(up.post_connections(), close_after_each ? 6 : 1);
    const json lanes = json::parse(http_get(port, "/v1/lanes").body);
    json replica;
    for (const auto& l : lanes["data"]) {
      if (l["name"] == "up") replica = l["upstream"]["replicas"][0];
    }
    EXPECT_EQ(replica["ejections_total"], 0) << replica.dump();
    EXPECT_EQ(replica["healthy"], true) << replica.dump();
    // The kept connection is closed once idle past 4 s: no descriptor stays behind.
    EXPECT_TRUE(wait_until([&] { return open_fds(front.pid()) <= fds_before; }, std::chrono::seconds(8)))
        << open_fds(front.pid()) << " descriptors, " << fds_before << " before";
  }
}

}  // namespace
}  // namespace laneway::test
