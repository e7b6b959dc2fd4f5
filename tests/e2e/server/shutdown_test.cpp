// SIGTERM: stop accepting, finish the request in flight, exit 0.
#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using json = nlohmann::json;

TEST(ServerShutdown, SigtermFinishesInFlightRequestsAndExitsZero) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--debug-token-delay-ms", "30",
                        "--shutdown-grace-ms", "20000"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  const std::string body = json{{"prompt", "Once upon a time"}, {"max_tokens", 30}, {"temperature", 0},
                                {"ignore_eos", true}, {"stream", true}}.dump();
  auto in_flight = std::async(std::launch::async, [&] {
    return http_request(port, "POST", "/v1/completions", body, {{"Content-Type", "application/json"}});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // ~10 tokens in
  const auto t0 = std::chrono::steady_clock::now();
  kill(server.pid(), SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // No new connections are accepted.
  EXPECT_EQ(http_request(port, "GET", "/health", "", {}, std::chrono::seconds(2)).status, 0);
  ASSERT_EQ(in_flight.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  HttpResponse r = in_flight.get();
  ASSERT_EQ(r.status, 200);
  const auto events = sse_events(r.body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  json last = json::parse(events[events.size() - 2]);
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length") << r.body;
  EXPECT_EQ(server.stop(SIGTERM, std::chrono::seconds(20)), 0) << server.output();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
}

TEST(ServerShutdown, GraceRunsOutCancelsWhatIsLeft) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--ctx", "2048", "--debug-token-delay-ms", "50",
                        "--shutdown-grace-ms", "300"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  const std::string body = json{{"prompt", "Once"}, {"max_tokens", 1000}, {"ignore_eos", true}, {"stream", true}}.dump();
  auto in_flight = std::async(std::launch::async, [&] {
    return http_request(port, "POST", "/v1/completions", body, {{"Content-Type", "application/json"}});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(server.stop(SIGTERM, std::chrono::seconds(15)), 0) << server.output();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));  // bounded, not 50 s of tokens
  ASSERT_EQ(in_flight.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  HttpResponse r = in_flight.get();
  // The stream ends with an error event instead of just stopping.
  EXPECT_NE(r.body.find("\"error\""), std::string::npos) << r.body.substr(r.body.size() > 400 ? r.body.size() - 400 : 0);
}

}  // namespace
}  // namespace laneway::test
