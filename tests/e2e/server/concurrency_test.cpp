// 16 concurrent streaming clients on one lane with 4 slots and a queue of 8,
// generation held slow by the test-only per-token delay: exactly 12 are
// accepted and answer exactly what they answer alone, exactly 4 get 429 with
// Retry-After, and nothing hangs. Also: a client that hangs up frees its slot.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <thread>

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

}  // namespace
}  // namespace laneway::test
