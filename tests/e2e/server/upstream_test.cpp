// A second Laneway as the upstream service behind two lanes: proxied answers
// equal direct ones, fields the embedded engine rejects pass through to the
// upstream untouched, an upstream killed mid-stream ends the client's stream
// with an error event and turns both lanes unhealthy, and a restart brings
// them back. Unhealthy lanes answer 503 fast or fall back.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using json = nlohmann::json;

std::string write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

// Upstream: two embedded lanes over the same model, so each upstream_model exists.
std::string upstream_config(const std::filesystem::path& dir) {
  const std::string m = stories_model_path();
  return write_file(dir / "upstream.yaml",
                    "lanes:\n"
                    "  - name: story_a\n    model: " + m + "\n    context: 256\n    slots: 2\n"
                    "  - name: story_b\n    model: " + m + "\n    context: 256\n    slots: 2\n");
}

std::string front_config(const std::filesystem::path& dir, int upstream_port) {
  return write_file(dir / "front.yaml",
                    "services:\n"
                    "  - name: up\n    url: http://127.0.0.1:" + std::to_string(upstream_port) + "/v1\n"
                    "  - name: dead\n    url: http://127.0.0.1:1/v1\n"
                    "lanes:\n"
                    "  - name: alpha\n    service: up\n    upstream_model: story_a\n"
                    "  - name: beta\n    service: up\n    upstream_model: story_b\n    aliases: [ \"b\" ]\n"
                    "  - name: gamma\n    service: dead\n    fallback: local\n"
                    "  - name: delta\n    service: dead\n"
                    "  - name: local\n    model: " + stories_model_path() + "\n    context: 256\n");
}

json completion(int port, const std::string& target, json body) {
  HttpResponse r = http_post(port, target, body.dump());
  EXPECT_EQ(r.status, 200) << target << ": " << r.body;
  return json::parse(r.body, nullptr, false);
}

TEST(ServerUpstream, ProxyPassThroughKillAndRecover) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_upstream");
  const std::string up_cfg = upstream_config(dir);
  auto upstream = std::make_unique<ServerProcess>(std::vector<std::string>{"--config", up_cfg, "--port", "0",
                                                                           "--debug-token-delay-ms", "20"});
  ASSERT_TRUE(upstream->started()) << upstream->output();
  const int up_port = upstream->port();
  ServerProcess front({"--config", front_config(dir, up_port), "--port", "0", "--health-interval-ms", "200"});
  ASSERT_TRUE(front.started()) << front.output();
  const int port = front.port();
  ASSERT_TRUE(wait_for_status(port, "/lanes/alpha/health", 200, std::chrono::seconds(10))) << front.output();
  ASSERT_TRUE(wait_for_status(port, "/lanes/beta/health", 200, std::chrono::seconds(10)));

  // Proxied answers equal direct ones, chat and completions, whole and streamed.
  const json chat = {{"messages", {{{"role", "user"}, {"content", "Tell me a story"}}}}, {"max_tokens", 16}, {"temperature", 0}};
  const json cmpl = {{"prompt", "Once upon a time"}, {"max_tokens", 16}, {"temperature", 0}};
  for (const auto& [lane, upstream_model] : {std::pair{"alpha", "story_a"}, std::pair{"beta", "story_b"}}) {
    json direct_body = chat, proxied_body = chat;
    direct_body["model"] = upstream_model;
    proxied_body["model"] = lane;
    const json direct = completion(up_port, "/v1/chat/completions", direct_body);
    const json proxied = completion(port, "/v1/chat/completions", proxied_body);
    EXPECT_EQ(proxied["choices"][0]["message"]["content"], direct["choices"][0]["message"]["content"]);
    EXPECT_EQ(proxied["model"], upstream_model);  // the upstream saw upstream_model

    json c_direct = cmpl, c_proxied = cmpl;
    c_direct["model"] = upstream_model;
    c_proxied["model"] = lane;
    const json d = completion(up_port, "/v1/completions", c_direct);
    EXPECT_EQ(completion(port, "/v1/completions", c_proxied)["choices"][0]["text"], d["choices"][0]["text"]);
    // By the lane's own base URL, streamed: relayed events, same text.
    c_proxied["stream"] = true;
    HttpResponse s = http_post(port, std::string("/lanes/") + lane + "/v1/completions", c_proxied.dump());
    ASSERT_EQ(s.status, 200) << s.body;
    std::string text;
    const auto events = sse_events(s.body);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back(), "[DONE]");
    for (const auto& e : events) {
      if (e == "[DONE]") break;
      json j = json::parse(e);
      if (!j["choices"].empty()) text += j["choices"][0]["text"].get<std::string>();
    }
    EXPECT_EQ(text, d["choices"][0]["text"].get<std::string>());
  }

  // Fields the embedded engine rejects are not rejected by the proxy: they
  // reach the upstream untouched, which (an embedded Laneway) names them.
  json with_logprobs = chat;
  with_logprobs["model"] = "b";
  with_logprobs["logprobs"] = true;
  with_logprobs["x_custom_field"] = json{{"nested", {1, 2.50, "three"}}};
  HttpResponse r = http_post(port, "/v1/chat/completions", with_logprobs.dump());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("x_custom_field"), std::string::npos) << r.body;  // the upstream saw it
  with_logprobs.erase("x_custom_field");
  r = http_post(port, "/v1/chat/completions", with_logprobs.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("logprobs"), std::string::npos) << r.body;
  // The same field on the embedded lane is rejected by Laneway itself.
  with_logprobs["model"] = "local";
  r = http_post(port, "/v1/chat/completions", with_logprobs.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("unsupported_field"), std::string::npos) << r.body;

  // An unhealthy lane falls back (gamma -> local) or answers 503 fast (delta).
  ASSERT_TRUE(wait_for_status(port, "/lanes/gamma/health", 503, std::chrono::seconds(5)));
  json g = cmpl;
  g["model"] = "gamma";
  const json via_fallback = completion(port, "/v1/completions", g);
  g["model"] = "local";
  EXPECT_EQ(via_fallback["choices"][0]["text"], completion(port, "/v1/completions", g)["choices"][0]["text"]);
  g["model"] = "delta";
  const auto t0 = std::chrono::steady_clock::now();
  r = http_post(port, "/v1/completions", g.dump());
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
  EXPECT_FALSE(r.headers["retry-after"].empty());
  EXPECT_NE(r.body.find("lane_unavailable"), std::string::npos);

  // Kill the upstream mid-stream: the client gets an error event, no hang.
  json slow = cmpl;
  slow["model"] = "alpha";
  slow["max_tokens"] = 200;
  slow["ignore_eos"] = true;
  slow["stream"] = true;
  auto streaming = std::async(std::launch::async, [&] {
    return http_request(port, "POST", "/v1/completions", slow.dump(), {{"Content-Type", "application/json"}},
                        std::chrono::seconds(30));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // ~20 tokens relayed
  kill(upstream->pid(), SIGKILL);
  ASSERT_EQ(streaming.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "the client stream hangs";
  HttpResponse killed = streaming.get();
  EXPECT_EQ(killed.status, 200);
  const auto events = sse_events(killed.body);
  ASSERT_GE(events.size(), 2u) << killed.body;
  EXPECT_NE(events.front().find("\"choices\""), std::string::npos);  // it was mid-stream
  EXPECT_NE(events.back().find("\"error\""), std::string::npos) << events.back();
  EXPECT_EQ(http_get(port, "/lanes/alpha/health").status, 503);
  EXPECT_EQ(http_get(port, "/lanes/beta/health").status, 503);
  EXPECT_EQ(http_get(port, "/health").status, 200);  // liveness is not readiness
  json down = cmpl;
  down["model"] = "beta";
  EXPECT_EQ(http_post(port, "/v1/completions", down.dump()).status, 503);

  // Restart it on the same port: both lanes recover.
  upstream.reset();
  ServerProcess restarted({"--config", up_cfg, "--port", std::to_string(up_port)});
  ASSERT_TRUE(restarted.started()) << restarted.output();
  EXPECT_TRUE(wait_for_status(port, "/lanes/alpha/health", 200, std::chrono::seconds(10)));
  EXPECT_TRUE(wait_for_status(port, "/lanes/beta/health", 200, std::chrono::seconds(10)));
  EXPECT_EQ(http_post(port, "/v1/completions", down.dump()).status, 200);
  const json lanes = json::parse(http_get(port, "/v1/lanes").body);
  for (const auto& l : lanes["data"]) {
    if (l["name"] == "alpha") {
      EXPECT_EQ(l["upstream"]["healthy"], true);
    }
    if (l["name"] == "delta") {
      EXPECT_FALSE(l["last_error"].is_null());
    }
  }
}

}  // namespace
}  // namespace laneway::test
