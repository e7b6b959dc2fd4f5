// SIGTERM: stop accepting, finish the request in flight, exit 0; requests
// still queued are refused at once with 503 and Retry-After.
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

// --drain-delay-ms (orchestrators, docs/kubernetes.md): from SIGTERM on,
// readiness answers 503 `draining` while liveness and requests are still
// served for the delay; then the usual drain, and exit 0.
TEST(ServerShutdown, DrainDelayTurnsReadinessFirstAndKeepsServing) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--drain-delay-ms", "3000"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  const json lanes = json::parse(http_request(port, "GET", "/v1/lanes", "", {}).body);
  const std::string lane = lanes["data"][0]["name"];
  ASSERT_EQ(http_request(port, "GET", "/health?lane=" + lane, "", {}).status, 200);
  const auto t0 = std::chrono::steady_clock::now();
  kill(server.pid(), SIGTERM);
  // Readiness turns 503 at once (poll: the signal is handled asynchronously).
  HttpResponse ready;
  for (int i = 0; i < 100; ++i) {
    ready = http_request(port, "GET", "/health?lane=" + lane, "", {});
    if (ready.status != 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(ready.status, 503) << ready.body;
  const json rj = json::parse(ready.body, nullptr, false);
  EXPECT_EQ(rj["state"], "draining") << ready.body;
  EXPECT_EQ(http_request(port, "GET", "/lanes/" + lane + "/health", "", {}).status, 503);
  // Liveness and real requests still answer during the delay.
  EXPECT_EQ(http_request(port, "GET", "/health", "", {}).status, 200);
  const std::string body = json{{"prompt", "Once upon a time"}, {"max_tokens", 4}, {"temperature", 0}}.dump();
  const HttpResponse r = http_request(port, "POST", "/v1/completions", body, {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2500)) << "the checks above took too long to mean anything";
  EXPECT_EQ(server.stop(0, std::chrono::seconds(20)), 0) << server.output();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2900)) << "the delay was not kept";
  EXPECT_NE(server.output().find("readiness is 503"), std::string::npos) << server.output();
}

TEST(ServerShutdown, SigtermRefusesQueuedRequestsAtOnce) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--slots", "1", "--queue", "4", "--ctx", "256",
                        "--debug-token-delay-ms", "50", "--shutdown-grace-ms", "20000"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  auto lane = [&] {
    json j = json::parse(http_get(port, "/v1/lanes").body, nullptr, false);
    return j.is_discarded() || j["data"].empty() ? json::object() : j["data"][0];
  };
  auto wait_lane = [&](const char* key, int value) {
    for (int i = 0; i < 500; ++i) {
      if (lane().value(key, -1) == value) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  auto post = [&](const json& body) {
    return std::async(std::launch::async, [&port, text = body.dump()] {
      return http_request(port, "POST", "/v1/completions", text, {{"Content-Type", "application/json"}},
                          std::chrono::seconds(40));
    });
  };
  // 60 tokens at 50 ms: about 3 s, well inside the 20 s grace.
  auto running = post({{"prompt", "Once upon a time"}, {"max_tokens", 60}, {"temperature", 0}, {"ignore_eos", true},
                       {"stream", true}});
  ASSERT_TRUE(wait_lane("busy_slots", 1));
  auto queued_stream = post({{"prompt", "The dog"}, {"max_tokens", 5}, {"stream", true}});
  auto queued_whole = post({{"prompt", "One day"}, {"max_tokens", 5}});
  ASSERT_TRUE(wait_lane("queue_depth", 2)) << lane().dump();

  const auto t0 = std::chrono::steady_clock::now();
  kill(server.pid(), SIGTERM);
  for (auto* queued : {&queued_stream, &queued_whole}) {
    // At once, not after the running request or the grace period.
    ASSERT_EQ(queued->wait_for(std::chrono::seconds(2)), std::future_status::ready);
    HttpResponse r = queued->get();
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_FALSE(r.headers["retry-after"].empty());
    json j = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.body;  // a JSON error, not an event stream
    EXPECT_EQ(j["error"]["code"], "lane_unavailable") << r.body;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));

  // The grace period goes to the running one: it finishes normally.
  ASSERT_EQ(running.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  HttpResponse r = running.get();
  ASSERT_EQ(r.status, 200) << r.error;
  const auto events = sse_events(r.body);
  ASSERT_GE(events.size(), 2u) << r.body;
  EXPECT_EQ(events.back(), "[DONE]");
  json last = json::parse(events[events.size() - 2]);
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length") << r.body;
  EXPECT_EQ(server.stop(SIGTERM, std::chrono::seconds(20)), 0) << server.output();
}

}  // namespace
}  // namespace laneway::test
