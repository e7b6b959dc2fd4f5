// At least 40 kinds of bad input, each answered with a 4xx in OpenAI's error
// shape {"error": {"message", "type", "code"}}, while the server keeps serving.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using json = nlohmann::json;

struct BadCase {
  std::string name;
  std::string method;
  std::string target;
  std::string body;
  int status;
  std::string code;  // expected error.code ("" = any)
  std::map<std::string, std::string> headers = {{"Authorization", "Bearer sk-test"}};
};

std::string config_for(const std::string& model) {
  return "server:\n  api_keys: [ \"sk-test\" ]\n  max_body_bytes: 64KiB\n"
         "lanes:\n"
         "  - name: stories\n    aliases: [ \"tiny\" ]\n    model: " + model + "\n    context: 128\n    slots: 2\n    queue: 4\n    default: true\n"
         "  - name: small_body\n    model: " + model + "\n    context: 128\n    max_body_bytes: 1KiB\n";
}

TEST(ServerBadInput, FortyKindsOfBadInputGet4xxInOpenAiShape) {
  const std::string model = stories_model_path();
  LANEWAY_REQUIRE_FILE(model);
  const auto dir = scratch_dir("server_bad_input");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << config_for(model);
  ServerProcess server({"--config", config, "--port", "0"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();

  const std::string chat = "/v1/chat/completions";
  const std::string cmpl = "/v1/completions";
  const std::string msgs = R"("messages":[{"role":"user","content":"Hi"}])";
  auto with = [&](const std::string& extra) { return "{" + msgs + "," + extra + "}"; };
  std::string long_prompt;
  for (int i = 0; i < 200; ++i) long_prompt += "Once upon a time there was a cat. ";
  std::string big_body = with("\"user\":\"" + std::string(2000, 'x') + "\"");
  std::string huge_body = with("\"user\":\"" + std::string(70 * 1024, 'x') + "\"");

  std::vector<BadCase> cases = {
      {"malformed json", "POST", chat, R"({"model":)", 400, "invalid_json"},
      {"trailing garbage", "POST", chat, with("\"max_tokens\":3") + "}", 400, "invalid_json"},
      {"body is an array", "POST", chat, "[1,2]", 400, "invalid_type"},
      {"body is a string", "POST", chat, R"("hello")", 400, "invalid_type"},
      {"empty body", "POST", chat, "", 400, "invalid_json"},
      {"invalid utf-8", "POST", chat, "{\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", 400, "invalid_json"},
      {"messages missing", "POST", chat, R"({"model":"stories"})", 400, "missing_required_parameter"},
      {"messages not an array", "POST", chat, R"({"messages":"hi"})", 400, "invalid_type"},
      {"messages empty", "POST", chat, R"({"messages":[]})", 400, "empty_array"},
      {"message not an object", "POST", chat, R"({"messages":["hi"]})", 400, "invalid_type"},
      {"role missing", "POST", chat, R"({"messages":[{"content":"hi"}]})", 400, "missing_required_parameter"},
      {"role unknown", "POST", chat, R"({"messages":[{"role":"wizard","content":"hi"}]})", 400, "invalid_value"},
      {"role wrong type", "POST", chat, R"({"messages":[{"role":7,"content":"hi"}]})", 400, "invalid_type"},
      {"content missing", "POST", chat, R"({"messages":[{"role":"user"}]})", 400, "missing_required_parameter"},
      {"content wrong type", "POST", chat, R"({"messages":[{"role":"user","content":42}]})", 400, "invalid_type"},
      {"image content part", "POST", chat,
       R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})", 400, "unsupported_field"},
      {"tool message", "POST", chat, R"({"messages":[{"role":"tool","content":"x","tool_call_id":"a"}]})", 400, "unsupported_field"},
      {"unknown model", "POST", chat, with(R"("model":"gpt-4o")"), 404, "model_not_found"},
      {"model wrong type", "POST", chat, with(R"("model":5)"), 400, "invalid_type"},
      {"max_tokens zero", "POST", chat, with(R"("max_tokens":0)"), 400, "invalid_value"},
      {"max_tokens negative", "POST", chat, with(R"("max_tokens":-5)"), 400, "invalid_value"},
      {"max_tokens huge", "POST", chat, with(R"("max_tokens":1000000000000)"), 400, "invalid_value"},
      {"max_tokens beyond uint64", "POST", chat, with(R"("max_tokens":99999999999999999999999)"), 400, "invalid_type"},
      {"max_tokens string", "POST", chat, with(R"("max_tokens":"ten")"), 400, "invalid_type"},
      {"max_tokens fraction", "POST", chat, with(R"("max_tokens":1.5)"), 400, "invalid_type"},
      {"temperature too high", "POST", chat, with(R"("temperature":3)"), 400, "invalid_value"},
      {"temperature string", "POST", chat, with(R"("temperature":"hot")"), 400, "invalid_type"},
      {"top_p zero", "POST", chat, with(R"("top_p":0)"), 400, "invalid_value"},
      {"top_p above one", "POST", chat, with(R"("top_p":1.5)"), 400, "invalid_value"},
      {"top_k negative", "POST", chat, with(R"("top_k":-1)"), 400, "invalid_value"},
      {"min_p above one", "POST", chat, with(R"("min_p":2)"), 400, "invalid_value"},
      {"presence_penalty too high", "POST", chat, with(R"("presence_penalty":5)"), 400, "invalid_value"},
      {"frequency_penalty too low", "POST", chat, with(R"("frequency_penalty":-3)"), 400, "invalid_value"},
      {"seed string", "POST", chat, with(R"("seed":"abc")"), 400, "invalid_type"},
      {"stop number", "POST", chat, with(R"("stop":123)"), 400, "invalid_type"},
      {"stop list with number", "POST", chat, with(R"("stop":["a",1])"), 400, "invalid_type"},
      {"stop empty string", "POST", chat, with(R"("stop":[""])"), 400, "invalid_value"},
      {"stop too many", "POST", chat,
       with(R"("stop":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17"])"), 400, "invalid_value"},
      {"stream not boolean", "POST", chat, with(R"("stream":"yes")"), 400, "invalid_type"},
      {"stream_options without stream", "POST", chat, with(R"("stream_options":{"include_usage":true})"), 400, "invalid_value"},
      {"n above one", "POST", chat, with(R"("n":2)"), 400, "unsupported_field"},
      {"tools", "POST", chat, with(R"("tools":[{"type":"function","function":{"name":"f"}}])"), 400, "unsupported_field"},
      {"response_format json", "POST", chat, with(R"("response_format":{"type":"json_object"})"), 400, "unsupported_field"},
      {"logprobs", "POST", chat, with(R"("logprobs":true)"), 400, "unsupported_field"},
      {"logit_bias", "POST", chat, with(R"("logit_bias":{"50":10})"), 400, "unsupported_field"},
      {"unknown field", "POST", chat, with(R"("frobnicate":true)"), 400, "unknown_parameter"},
      {"prompt field on chat", "POST", chat, with(R"("prompt":"x")"), 400, "unknown_parameter"},
      {"prompt longer than context", "POST", chat,
       R"({"messages":[{"role":"user","content":")" + long_prompt + R"("}]})", 400, "context_length_exceeded"},
      {"prompt longer than context (lane url)", "POST", "/lanes/stories/v1/completions",
       R"({"prompt":")" + long_prompt + R"("})", 400, "context_length_exceeded"},
      {"completions prompt missing", "POST", cmpl, R"({"max_tokens":3})", 400, "missing_required_parameter"},
      {"completions prompt number", "POST", cmpl, R"({"prompt":12})", 400, "invalid_type"},
      {"completions prompt empty", "POST", cmpl, R"({"prompt":""})", 400, "empty_string"},
      {"completions token outside vocab", "POST", cmpl, R"({"prompt":[1, 999999]})", 400, "invalid_value"},
      {"completions several prompts", "POST", cmpl, R"({"prompt":["a","b"]})", 400, "unsupported_field"},
      {"completions echo", "POST", cmpl, R"({"prompt":"a","echo":true})", 400, "unsupported_field"},
      {"messages on completions", "POST", cmpl, R"({"prompt":"a","messages":[]})", 400, "unknown_parameter"},
      {"body over the lane's limit", "POST", "/lanes/small_body/v1/chat/completions", big_body, 413, "request_too_large"},
      {"body over the server's limit", "POST", chat, huge_body, 413, "request_too_large"},
      {"unknown route", "GET", "/v2/things", "", 404, "unknown_route"},
      {"unknown v1 route", "POST", "/v1/embeddings", R"({"input":"x"})", 404, "unknown_route"},
      {"unknown lane", "GET", "/lanes/nope/v1/models", "", 404, "lane_not_found"},
      {"unknown lane health", "GET", "/health?lane=nope", "", 404, "lane_not_found"},
      {"wrong method on chat", "GET", chat, "", 405, "method_not_allowed"},
      {"wrong method on models", "POST", "/v1/models", "{}", 405, "method_not_allowed"},
      {"wrong method on health", "DELETE", "/health", "", 405, "method_not_allowed"},
      {"missing api key", "GET", "/v1/models", "", 401, "invalid_api_key", {}},
      {"wrong api key", "POST", chat, with(R"("max_tokens":2)"), 401, "invalid_api_key", {{"Authorization", "Bearer sk-nope"}}},
      {"not a bearer key", "GET", "/v1/lanes", "", 401, "invalid_api_key", {{"Authorization", "Basic c2s6dGVzdA=="}}},
  };
  ASSERT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    auto headers = c.headers;
    if (c.method == "POST") headers.emplace("Content-Type", "application/json");
    HttpResponse r = http_request(port, c.method, c.target, c.body, headers);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body << r.error;
    json j = json::parse(r.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << c.name << ": body is not JSON: " << r.body;
    ASSERT_TRUE(j.contains("error") && j["error"].is_object()) << c.name << ": " << r.body;
    const json& e = j["error"];
    EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << c.name;
    EXPECT_TRUE(e["type"].is_string()) << c.name;
    ASSERT_TRUE(e["code"].is_string()) << c.name << ": " << r.body;
    if (!c.code.empty()) {
      EXPECT_EQ(e["code"].get<std::string>(), c.code) << c.name << ": " << r.body;
    }
    // An unsupported field is named, never silently ignored.
    if (c.code == "unsupported_field") {
      EXPECT_TRUE(e["param"].is_string()) << c.name << ": " << r.body;
    }
    ASSERT_TRUE(server.alive()) << "server died on: " << c.name << "\n" << server.output();
  }

  // Broken HTTP itself, on raw connections.
  const std::string garbage = raw_exchange(port, "GARBAGE\r\n\r\n");
  EXPECT_NE(garbage.find("400"), std::string::npos) << garbage;
  EXPECT_NE(garbage.find("\"error\""), std::string::npos) << garbage;
  const std::string lying_length = raw_exchange(
      port, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test\r\nContent-Length: 999999999\r\n\r\n{}");
  EXPECT_NE(lying_length.find("413"), std::string::npos) << lying_length;

  // Still serving.
  EXPECT_EQ(http_get(port, "/health").status, 200);
  HttpResponse ok = http_post(port, chat, with(R"("max_tokens":4,"temperature":0)"), {{"Authorization", "Bearer sk-test"}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(server.alive());
}

// Client mistakes that used to pass or answer 500: each is a 400 naming its field.
TEST(ServerBadInput, OverflowingNumbersNullModelStopLimitAndPromptParam) {
  const std::string model = stories_model_path();
  LANEWAY_REQUIRE_FILE(model);
  const auto dir = scratch_dir("server_bad_input_fields");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << config_for(model);
  ServerProcess server({"--config", config, "--port", "0"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  const std::map<std::string, std::string> key = {{"Authorization", "Bearer sk-test"}};
  const std::string chat = "/v1/chat/completions";
  const std::string cmpl = "/v1/completions";
  const std::string msgs = R"("messages":[{"role":"user","content":"Hi"}])";
  auto stops = [](int n) {
    json list = json::array();
    for (int i = 0; i < n; ++i) list.push_back("zz-never-" + std::to_string(i));
    return list.dump();
  };
  std::string long_prompt;
  for (int i = 0; i < 200; ++i) long_prompt += "Once upon a time there was a cat. ";

  struct FieldCase {
    std::string name, target, body;
    int status;
    std::string code, param;
  };
  const std::vector<FieldCase> cases = {
      {"max_tokens overflows a double", chat, "{" + msgs + R"(,"max_tokens":1e999})", 400, "invalid_value", "max_tokens"},
      {"temperature overflows a double", chat, "{" + msgs + R"(,"temperature":-1e999})", 400, "invalid_value", "temperature"},
      {"overflow inside a message", chat, R"({"messages":[{"role":"user","content":1e999}]})", 400, "invalid_value",
       "messages[0].content"},
      {"overflow on completions", cmpl, R"({"prompt":"a","top_p":2e308})", 400, "invalid_value", "top_p"},
      {"overflow on a lane url", "/lanes/stories/v1/completions", R"({"prompt":"a","seed":1e999})", 400, "invalid_value", "seed"},
      {"model null on chat", chat, "{" + msgs + R"(,"model":null})", 400, "invalid_type", "model"},
      {"model null on completions", cmpl, R"({"prompt":"a","model":null})", 400, "invalid_type", "model"},
      {"17 stop strings", cmpl, R"({"prompt":"a","max_tokens":2,"stop":)" + stops(17) + "}", 400, "invalid_value", "stop"},
      {"prompt longer than context on completions", cmpl, R"({"prompt":")" + long_prompt + R"("})", 400,
       "context_length_exceeded", "prompt"},
      {"prompt longer than context on a lane url", "/lanes/stories/v1/completions", R"({"prompt":")" + long_prompt + R"("})",
       400, "context_length_exceeded", "prompt"},
      {"messages longer than context", chat, R"({"messages":[{"role":"user","content":")" + long_prompt + R"("}]})", 400,
       "context_length_exceeded", "messages"},
      {"5 stop strings", cmpl, R"({"prompt":"a","max_tokens":2,"stop":)" + stops(5) + "}", 200, "", ""},
      {"16 stop strings", chat, "{" + msgs + R"(,"max_tokens":2,"stop":)" + stops(16) + "}", 200, "", ""},
  };
  for (const auto& c : cases) {
    HttpResponse r = http_post(port, c.target, c.body, key);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body << r.error;
    if (c.status == 200) continue;
    json j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(!j.is_discarded() && j.contains("error")) << c.name << ": " << r.body;
    EXPECT_EQ(j["error"]["code"], c.code) << c.name << ": " << r.body;
    EXPECT_EQ(j["error"]["param"], c.param) << c.name << ": " << r.body;
    EXPECT_EQ(j["error"]["type"], "invalid_request_error") << c.name;
    const std::string message = j["error"]["message"];
    if (c.code == "invalid_value" && c.param != "stop") {
      EXPECT_NE(message.find(c.param), std::string::npos) << c.name << ": " << message;
    }
    if (c.code == "context_length_exceeded") {
      // Completions have a prompt, not messages.
      EXPECT_EQ(message.find(c.param == "prompt" ? "messages" : "prompt"), std::string::npos) << c.name << ": " << message;
      EXPECT_NE(message.find(c.param), std::string::npos) << c.name << ": " << message;
    }
  }
  EXPECT_TRUE(server.alive()) << server.output();
}

}  // namespace
}  // namespace laneway::test
