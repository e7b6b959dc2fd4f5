// Slow and hostile clients: a body that stops arriving gets 408 after the
// body inactivity timeout (not the 300 s whole-body limit); connections past
// --max-connections get 503 with a log line, and the server serves again
// once some close; 256 clients sending headers a byte at a time do not
// delay anyone else.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using Clock = std::chrono::steady_clock;


void send_all(int fd, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

std::vector<std::string> serve_args() {
  return {"-m", stories_model_path(), "--ctx", "256", "--slots", "1"};
}

TEST(HttpLimits, ABodyThatStopsArrivingGets408AfterTheInactivityTimeout) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  auto args = serve_args();
  args.insert(args.end(), {"--debug-body-idle-timeout-ms", "700"});
  ServerProcess server(args);
  ASSERT_TRUE(server.started()) << server.output();
  const auto t0 = Clock::now();
  // 20 of the 100 bytes announced, then nothing (the connection stays open).
  const std::string reply = raw_exchange(server.port(),
                                         "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                         "Content-Length: 100\r\n\r\n{\"prompt\": \"Once up",
                                         std::chrono::seconds(20), /*half_close=*/false);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_NE(reply.find("408"), std::string::npos) << reply;
  EXPECT_NE(reply.find("Request body timed out"), std::string::npos) << reply;
  EXPECT_GT(seconds, 0.5);
  EXPECT_LT(seconds, 5.0) << "408 came after " << seconds << " s";
  // A body arriving slowly but steadily is read in full.
  const int fd = connect_raw(server.port());
  ASSERT_GE(fd, 0);
  const std::string body = R"({"prompt": "Once upon a time", "max_tokens": 2, "temperature": 0})";
  send_all(fd, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
               "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  for (size_t i = 0; i < body.size(); i += 16) {
    send_all(fd, body.substr(i, 16));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // under the 700 ms pause each time
  }
  std::string got;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
}

TEST(HttpLimits, ConnectionsPastTheCapGet503AndALogLine) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  auto args = serve_args();
  args.insert(args.end(), {"--max-connections", "8"});
  ServerProcess server(args);
  ASSERT_TRUE(server.started()) << server.output();
  std::vector<int> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(connect_raw(server.port()));
    ASSERT_GE(idle.back(), 0);
  }
  // Once the server has accepted the eight, the next connection is refused.
  HttpResponse full;
  for (int attempt = 0; attempt < 50 && full.status != 503; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    full = http_get(server.port(), "/health");
  }
  EXPECT_EQ(full.status, 503) << full.body << full.error;
  EXPECT_NE(full.body.find("too_many_connections"), std::string::npos) << full.body;
  for (int i = 0; i < 4; ++i) ::close(idle[static_cast<size_t>(i)]);
  EXPECT_TRUE(wait_for_status(server.port(), "/health", 200, std::chrono::seconds(5)));
  for (size_t i = 4; i < idle.size(); ++i) ::close(idle[i]);
  EXPECT_NE(server.output().find("too many open connections"), std::string::npos) << server.output();
}

TEST(HttpLimits, TwoHundredFiftySixSlowHeaderClientsDelayNoOne) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server(serve_args());
  ASSERT_TRUE(server.started()) << server.output();
  std::vector<int> slow;
  for (int i = 0; i < 256; ++i) {
    const int fd = connect_raw(server.port());
    ASSERT_GE(fd, 0) << "connection " << i;
    send_all(fd, "GET /health HTTP/1.1\r\nHo");
    slow.push_back(fd);
  }
  // A byte a second from each, while others are served.
  double worst = 0;
  for (int round = 0; round < 3; ++round) {
    for (int fd : slow) send_all(fd, "s");
    const auto t0 = Clock::now();
    HttpResponse r = http_post(server.port(), "/v1/completions",
                               R"({"prompt": "Once upon a time", "max_tokens": 4, "temperature": 0})");
    worst = std::max(worst, std::chrono::duration<double>(Clock::now() - t0).count());
    EXPECT_EQ(r.status, 200) << r.body << r.error;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::printf("256 slow-header clients open: worst completion %.3f s\n", worst);
  EXPECT_LT(worst, 1.0);
  for (int fd : slow) ::close(fd);
}

}  // namespace
}  // namespace laneway::test
