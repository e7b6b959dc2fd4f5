// The OpenAI routes against a stories260K lane: non-streamed and streamed
// answers agree, completions equal `laneway run`, stop strings never leak,
// lanes are reachable by name, alias, "auto" and their own base URL, and
// /metrics passes promtool.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "server_harness.h"
#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using json = nlohmann::json;

class ServerApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(stories_model_path())) return;
    const auto dir = scratch_dir("server_api");
    const std::string config = (dir / "lanes.yaml").string();
    std::ofstream(config) << "lanes:\n"
                             "  - name: stories\n    aliases: [ \"tiny\" ]\n    model: " + stories_model_path() +
                                 "\n    context: 256\n    slots: 2\n    queue: 4\n    default: true\n";
    server_ = new ServerProcess({"--config", config, "--port", "0"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    LANEWAY_REQUIRE_FILE(stories_model_path());
    ASSERT_TRUE(server_ && server_->started()) << (server_ ? server_->output() : "");
  }
  static int port() { return server_->port(); }
  static json post_json(const std::string& target, const json& body) {
    HttpResponse r = http_post(port(), target, body.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // Concatenated text of a streamed answer, checking the event sequence.
  static std::string streamed_text(const std::string& target, json body, std::string* finish = nullptr,
                                   json* usage = nullptr) {
    body["stream"] = true;
    HttpResponse r = http_post(port(), target, body.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.headers["content-type"].find("text/event-stream"), std::string::npos);
    const auto events = sse_events(r.body);
    EXPECT_FALSE(events.empty());
    EXPECT_EQ(events.empty() ? "" : events.back(), "[DONE]");
    std::string text;
    const bool chat = target.find("chat") != std::string::npos;
    for (const auto& e : events) {
      if (e == "[DONE]") break;
      json j = json::parse(e);
      EXPECT_FALSE(j.contains("error")) << e;
      if (j.contains("usage") && j["usage"].is_object() && usage) *usage = j["usage"];
      if (j["choices"].empty()) continue;
      const json& c = j["choices"][0];
      if (chat) {
        if (c["delta"].contains("content")) text += c["delta"]["content"].get<std::string>();
      } else {
        text += c["text"].get<std::string>();
      }
      if (!c["finish_reason"].is_null() && finish) *finish = c["finish_reason"];
    }
    return text;
  }
  static ServerProcess* server_;
};
ServerProcess* ServerApi::server_ = nullptr;

TEST_F(ServerApi, HealthModelsAndLanes) {
  EXPECT_EQ(http_get(port(), "/health").status, 200);
  EXPECT_EQ(http_get(port(), "/health?lane=stories").status, 200);
  EXPECT_EQ(http_get(port(), "/lanes/stories/health").status, 200);
  json models = json::parse(http_get(port(), "/v1/models").body);
  std::set<std::string> ids;
  for (const auto& m : models["data"]) ids.insert(m["id"].get<std::string>());
  EXPECT_TRUE(ids.count("stories") && ids.count("tiny"));
  json lanes = json::parse(http_get(port(), "/v1/lanes").body);
  ASSERT_EQ(lanes["data"].size(), 1u);
  const json& l = lanes["data"][0];
  EXPECT_EQ(l["state"], "ready");
  EXPECT_EQ(l["slots"], 2);
  EXPECT_EQ(l["queue_capacity"], 4);
  EXPECT_EQ(l["context_tokens"], 256);
  EXPECT_GT(l["memory"]["weight_bytes"].get<int64_t>(), 0);
}

TEST_F(ServerApi, CompletionsEqualLanewayRunAndStreamEqualsWhole) {
  const std::string prompt = "Once upon a time";
  json body = {{"model", "stories"}, {"prompt", prompt}, {"max_tokens", 40}, {"temperature", 0}};
  json whole = post_json("/v1/completions", body);
  ASSERT_TRUE(whole.is_object());
  const std::string text = whole["choices"][0]["text"];
  EXPECT_EQ(whole["object"], "text_completion");
  EXPECT_EQ(whole["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(whole["usage"]["completion_tokens"], 40);
  EXPECT_EQ(whole["usage"]["total_tokens"].get<int>(),
            whole["usage"]["prompt_tokens"].get<int>() + whole["usage"]["completion_tokens"].get<int>());
  EXPECT_TRUE(whole["id"].is_string() && whole["created"].is_number());
  std::string finish;
  EXPECT_EQ(streamed_text("/v1/completions", body, &finish), text);
  EXPECT_EQ(finish, "length");

  const CliResult run = run_laneway("run -m '" + stories_model_path() + "' -p '" + prompt + "' -n 40 --temp 0");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(generated_text(run.out), text);
}

TEST_F(ServerApi, ChatEqualsLanewayRunOnTheRenderedTemplate) {
  json body = {{"model", "tiny"},
               {"messages", {{{"role", "system"}, {"content", "You tell stories."}}, {{"role", "user"}, {"content", "Tell me about a dog."}}}},
               {"max_tokens", 30},
               {"temperature", 0}};
  json whole = post_json("/v1/chat/completions", body);
  ASSERT_TRUE(whole.is_object());
  EXPECT_EQ(whole["object"], "chat.completion");
  EXPECT_EQ(whole["model"], "tiny");
  EXPECT_EQ(whole["choices"][0]["message"]["role"], "assistant");
  const std::string text = whole["choices"][0]["message"]["content"];
  EXPECT_EQ(streamed_text("/v1/chat/completions", body), text);

  // stories260K has no chat template: the documented ChatML fallback applies.
  const std::string rendered =
      "<|im_start|>system\nYou tell stories.<|im_end|>\n<|im_start|>user\nTell me about a dog.<|im_end|>\n"
      "<|im_start|>assistant\n";
  const auto file = scratch_dir("server_api_chat") / "prompt.txt";
  std::ofstream(file, std::ios::binary) << rendered;
  const CliResult run = run_laneway("run -m '" + stories_model_path() + "' -f '" + file.string() + "' -n 30 --temp 0");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(generated_text(run.out), text);
}

TEST_F(ServerApi, StopStringsNeverLeak) {
  json body = {{"prompt", "Once upon a time"}, {"max_tokens", 60}, {"temperature", 0}};
  const std::string full = post_json("/v1/completions", body)["choices"][0]["text"];
  // Stop at a word the greedy text contains, in the middle of the answer.
  const std::string stop = "girl";
  const size_t at = full.find(stop);
  ASSERT_NE(at, std::string::npos) << full;
  body["stop"] = json::array({stop, "zzzz-never"});
  json whole = post_json("/v1/completions", body);
  const std::string text = whole["choices"][0]["text"];
  EXPECT_EQ(text, full.substr(0, at));
  EXPECT_EQ(whole["choices"][0]["finish_reason"], "stop");
  std::string finish;
  EXPECT_EQ(streamed_text("/v1/completions", body, &finish), text);
  EXPECT_EQ(finish, "stop");
  body["stop"] = stop;  // a single string works too
  EXPECT_EQ(post_json("/v1/completions", body)["choices"][0]["text"], text);
}

TEST_F(ServerApi, IncludeUsageSendsAFinalUsageChunk) {
  json body = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 5}, {"temperature", 0},
               {"stream_options", {{"include_usage", true}}}};
  json usage;
  streamed_text("/v1/chat/completions", body, nullptr, &usage);
  ASSERT_TRUE(usage.is_object());
  EXPECT_EQ(usage["completion_tokens"], 5);
  EXPECT_GT(usage["prompt_tokens"].get<int>(), 0);
}

TEST_F(ServerApi, LaneBaseUrlAndAutoRouting) {
  json body = {{"prompt", "The cat"}, {"max_tokens", 10}, {"temperature", 0}};
  const std::string by_default = post_json("/v1/completions", body)["choices"][0]["text"];
  body["model"] = "auto";
  EXPECT_EQ(post_json("/v1/completions", body)["choices"][0]["text"], by_default);
  body["model"] = "anything-goes-on-a-lane-url";
  json lane = post_json("/lanes/stories/v1/completions", body);
  EXPECT_EQ(lane["choices"][0]["text"], by_default);
  EXPECT_EQ(http_get(port(), "/lanes/stories/v1/models").status, 200);
}

TEST_F(ServerApi, SeededSamplingIsReproducible) {
  json body = {{"prompt", "Once"}, {"max_tokens", 20}, {"temperature", 0.9}, {"seed", 1234}};
  const std::string a = post_json("/v1/completions", body)["choices"][0]["text"];
  const std::string b = post_json("/v1/completions", body)["choices"][0]["text"];
  EXPECT_EQ(a, b);
  // Other seeds give other texts (20 tokens at 0.9: four seeds all equal to
  // the first would mean the seed is ignored).
  int differ = 0;
  for (int seed : {1, 2, 3, 4}) {
    body["seed"] = seed;
    differ += post_json("/v1/completions", body)["choices"][0]["text"] != a ? 1 : 0;
  }
  EXPECT_GE(differ, 3);
  // Temperature 0 is greedy: the seed changes nothing.
  body["temperature"] = 0;
  body["seed"] = 1;
  const std::string greedy = post_json("/v1/completions", body)["choices"][0]["text"];
  body["seed"] = 99999;
  EXPECT_EQ(post_json("/v1/completions", body)["choices"][0]["text"], greedy);
}

// "auto" (or no model) picks the lane with the largest min_prompt_tokens not
// above the prompt's token count, else the default lane: three lanes, and
// prompts on each side of each threshold.
TEST(ServerAutoRouting, ThreeLanesEachSideOfEachThreshold) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_auto");
  const std::string config = (dir / "lanes.yaml").string();
  const std::string m = stories_model_path();
  std::ofstream(config) << "lanes:\n"
                           "  - name: short\n    model: " + m + "\n    context: 256\n    default: true\n"
                           "  - name: mid\n    model: " + m + "\n    context: 256\n    min_prompt_tokens: 20\n"
                           "  - name: long\n    model: " + m + "\n    context: 256\n    min_prompt_tokens: 60\n";
  ServerProcess server({"--config", config, "--port", "0"});
  ASSERT_TRUE(server.started()) << server.output();
  std::set<int64_t> seen;
  for (int words : {16, 17, 18, 19, 20, 21, 56, 57, 58, 59, 60, 61}) {
    std::string prompt;
    for (int i = 0; i < words; ++i) prompt += i == 0 ? "the" : " the";
    for (bool omit : {false, true}) {
      json body = {{"prompt", prompt}, {"max_tokens", 1}, {"temperature", 0}};
      if (!omit) body["model"] = "auto";
      HttpResponse r = http_post(server.port(), "/v1/completions", body.dump());
      ASSERT_EQ(r.status, 200) << r.body;
      const json j = json::parse(r.body);
      const int64_t n = j["usage"]["prompt_tokens"].get<int64_t>();
      const std::string want = n >= 60 ? "long" : n >= 20 ? "mid" : "short";
      EXPECT_EQ(j["model"], want) << n << " prompt tokens" << (omit ? " (model omitted)" : "");
      seen.insert(n);
    }
  }
  // The prompts covered both sides of both thresholds.
  for (int64_t n : {19, 20, 59, 60}) EXPECT_TRUE(seen.count(n)) << "no prompt of " << n << " tokens";
  // A lane named explicitly wins over the rule.
  json named = {{"prompt", "the"}, {"max_tokens", 1}, {"model", "long"}};
  EXPECT_EQ(json::parse(http_post(server.port(), "/v1/completions", named.dump()).body)["model"], "long");
}

TEST_F(ServerApi, MetricsPassPromtool) {
  post_json("/v1/completions", {{"prompt", "Hi"}, {"max_tokens", 3}});
  HttpResponse r = http_get(port(), "/metrics");
  ASSERT_EQ(r.status, 200);
  for (const char* name : {"laneway_requests_total", "laneway_prompt_tokens_total", "laneway_generated_tokens_total",
                           "laneway_tokens_per_second", "laneway_queue_depth", "laneway_busy_slots",
                           "laneway_kv_cache_usage_ratio", "laneway_upstream_healthy",
                           "laneway_time_to_first_token_seconds_bucket"}) {
    EXPECT_NE(r.body.find(name), std::string::npos) << name;
  }
  EXPECT_NE(r.body.find("laneway_requests_total{lane=\"stories\",route=\"/v1/completions\",status=\"200\"}"),
            std::string::npos);
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    if (testdata_required()) FAIL() << "promtool is missing (Debian package prometheus)";
    GTEST_SKIP() << "promtool is missing (install the prometheus package)";
  }
  const auto file = scratch_dir("server_metrics") / "metrics.txt";
  std::ofstream(file) << r.body;
  const int rc = std::system(("promtool check metrics < '" + file.string() + "'").c_str());
  EXPECT_EQ(rc, 0) << r.body;
}

TEST_F(ServerApi, ApiKeysGuardV1AndLaneRoutes) {
  const auto dir = scratch_dir("server_keys");
  ServerProcess keyed({"-m", stories_model_path(), "--port", "0", "--api-key", "sk-one", "--api-key", "sk-two"});
  ASSERT_TRUE(keyed.started()) << keyed.output();
  EXPECT_EQ(http_get(keyed.port(), "/health").status, 200);  // liveness stays open
  EXPECT_EQ(http_get(keyed.port(), "/v1/models").status, 401);
  EXPECT_EQ(http_request(keyed.port(), "GET", "/v1/models", "", {{"Authorization", "Bearer sk-two"}}).status, 200);
  EXPECT_EQ(http_request(keyed.port(), "GET", "/lanes/stories260k/health", "", {{"Authorization", "Bearer sk-one"}}).status, 200);
  EXPECT_EQ(http_get(keyed.port(), "/lanes/stories260k/health").status, 401);
  EXPECT_NE(keyed.output().find("Authorization: Bearer sk-one"), std::string::npos);  // the curl line works as printed
}

}  // namespace
}  // namespace laneway::test
