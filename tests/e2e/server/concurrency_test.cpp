// 16 concurrent streaming clients on one lane with 4 slots and a queue of 8,
// generation held slow by the test-only per-token delay: exactly 12 are
// accepted and answer exactly what they answer alone, exactly 4 get 429 with
// Retry-After, and nothing hangs. Also: a client that hangs up frees its slot,
// and one that hangs up while queued leaves the queue at once.
#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "held_request.h"
#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using json = nlohmann::json;

std::string stream_text(const HttpResponse& r) {
  std::string text;
  for (const auto& e : sse_events(r.body)) {
    if (e == "[DONE]") break;
    json j = json::parse(e, nullptr, false);
    if (j.is_discarded() || j.contains("error") || j["choices"].empty()) continue;
    text += j["choices"][0]["text"].get<std::string>();
  }
  return text;
}

TEST(ServerLoad, SixteenClientsFourSlotsQueueEight) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--slots", "4", "--queue", "8", "--ctx", "256",
                        "--debug-token-delay-ms", "40"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  const std::vector<std::string> prompts = {"Once upon a time", "The dog", "Lily and Ben", "One day"};
  auto body = [&](size_t i) {
    return json{{"prompt", prompts[i % prompts.size()]}, {"max_tokens", 24}, {"temperature", 0}, {"stream", true}}.dump();
  };
  // Each prompt served alone first.
  std::vector<std::string> alone;
  for (size_t i = 0; i < prompts.size(); ++i) {
    HttpResponse r = http_post(port, "/v1/completions", body(i));
    ASSERT_EQ(r.status, 200) << r.body;
    alone.push_back(stream_text(r));
    ASSERT_FALSE(alone.back().empty());
  }

  // 24 tokens x 40 ms: an accepted request holds its slot about a second, so
  // all 16 arrive while the first 4 still run.
  std::vector<std::future<HttpResponse>> clients;
  for (size_t i = 0; i < 16; ++i) {
    clients.push_back(std::async(std::launch::async, [&, i] {
      return http_request(port, "POST", "/v1/completions", body(i), {{"Content-Type", "application/json"}},
                          std::chrono::seconds(60));
    }));
  }
  int ok = 0, limited = 0;
  for (size_t i = 0; i < clients.size(); ++i) {
    ASSERT_EQ(clients[i].wait_for(std::chrono::seconds(90)), std::future_status::ready) << "client " << i << " hangs";
    HttpResponse r = clients[i].get();
    if (r.status == 200) {
      ++ok;
      const auto events = sse_events(r.body);
      ASSERT_FALSE(events.empty());
      EXPECT_EQ(events.back(), "[DONE]");
      EXPECT_EQ(stream_text(r), alone[i % prompts.size()]) << "client " << i;
    } else {
      EXPECT_EQ(r.status, 429) << r.body << r.error;
      if (r.status != 429) continue;
      ++limited;
      EXPECT_FALSE(r.headers["retry-after"].empty());
      json j = json::parse(r.body);
      EXPECT_EQ(j["error"]["code"], "rate_limit_exceeded");
      EXPECT_EQ(j["error"]["type"], "rate_limit_error");
    }
  }
  EXPECT_EQ(ok, 12);
  EXPECT_EQ(limited, 4);
  EXPECT_EQ(http_get(port, "/health").status, 200);
}

TEST(ServerLoad, ClientThatHangsUpFreesItsSlot) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--slots", "1", "--ctx", "1024",
                        "--debug-token-delay-ms", "50"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  const std::string body = json{{"prompt", "Once"}, {"max_tokens", 900}, {"ignore_eos", true}, {"stream", true}}.dump();
  const std::string request = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  // Reads for half a second (a few tokens), then closes the connection.
  const std::string partial = raw_exchange(port, request, std::chrono::milliseconds(500), /*half_close=*/false);
  EXPECT_NE(partial.find("data: "), std::string::npos) << partial;
  // 900 tokens at 50 ms would hold the slot 45 s; cancelled, it frees within a step.
  bool freed = false;
  for (int i = 0; i < 40 && !freed; ++i) {
    json lanes = json::parse(http_get(port, "/v1/lanes").body);
    freed = lanes["data"][0]["busy_slots"] == 0;
    if (!freed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(freed);
  // The one slot takes the next request at once.
  HttpResponse next = http_post(port, "/v1/completions", json{{"prompt", "Hi"}, {"max_tokens", 2}}.dump());
  EXPECT_EQ(next.status, 200) << next.body;
}

json lane_state(int port) {
  HttpResponse r = http_get(port, "/v1/lanes");
  json j = json::parse(r.body, nullptr, false);
  return j.is_discarded() || !j.contains("data") || j["data"].empty() ? json::object() : j["data"][0];
}

// Polls /v1/lanes until `pred` holds or `timeout` passes.
bool wait_for_lane(int port, const std::function<bool(const json&)>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(lane_state(port))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(ServerLoad, QueuedClientThatHangsUpLeavesTheQueueAtOnce) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--slots", "1", "--queue", "4", "--ctx", "1024",
                        "--debug-token-delay-ms", "50"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  // 900 tokens at 50 ms: the one slot stays busy for 45 s unless its client leaves.
  const std::string long_body = json{{"prompt", "Once"}, {"max_tokens", 900}, {"ignore_eos", true}, {"stream", true}}.dump();
  HeldRequest running(port, "/v1/completions", long_body);
  ASSERT_TRUE(running.sent());
  ASSERT_TRUE(wait_for_lane(port, [](const json& l) { return l.value("busy_slots", 0) == 1; }, std::chrono::seconds(10)));

  // Three wait: two that will leave, then one that stays.
  HeldRequest leaves_1(port, "/v1/completions", long_body);
  HeldRequest leaves_2(port, "/v1/completions", json{{"prompt", "The dog"}, {"max_tokens", 900}}.dump());
  ASSERT_TRUE(leaves_1.sent() && leaves_2.sent());
  ASSERT_TRUE(wait_for_lane(port, [](const json& l) { return l.value("queue_depth", 0) == 2; }, std::chrono::seconds(10)));
  auto stays = std::async(std::launch::async, [&] {
    return http_post(port, "/v1/completions", json{{"prompt", "Hi"}, {"max_tokens", 3}, {"temperature", 0}}.dump());
  });
  ASSERT_TRUE(wait_for_lane(port, [](const json& l) { return l.value("queue_depth", 0) == 3; }, std::chrono::seconds(10)))
      << lane_state(port).dump();

  leaves_1.close();
  leaves_2.close();
  const auto t0 = std::chrono::steady_clock::now();
  // Their places are given up now, not when the slot frees (45 s from now).
  EXPECT_TRUE(wait_for_lane(port, [](const json& l) { return l.value("queue_depth", -1) == 1; }, std::chrono::seconds(3)))
      << lane_state(port).dump();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  json l = lane_state(port);
  EXPECT_EQ(l["busy_slots"], 1);  // the running one is untouched
  EXPECT_NE(stays.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
  HttpResponse metrics = http_get(port, "/metrics");
  EXPECT_NE(metrics.body.find("laneway_queue_depth{lane=\"stories260k\"} 1\n"), std::string::npos) << metrics.body;

  // The slot frees: the one that stayed is served next.
  running.close();
  ASSERT_EQ(stays.wait_for(std::chrono::seconds(15)), std::future_status::ready);
  HttpResponse r = stays.get();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(wait_for_lane(port, [](const json& s) { return s.value("queue_depth", -1) == 0 && s.value("busy_slots", -1) == 0; },
                            std::chrono::seconds(5)));
}

}  // namespace
}  // namespace laneway::test
