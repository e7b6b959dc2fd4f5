#include "server/ollama_api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace laneway::server {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

std::optional<OllamaError> parse(const std::string& body_text, OllamaEndpoint ep, OllamaRequest& out) {
  return parse_ollama_request(json::parse(body_text), ep, out);
}

// The error message for a body, "" when it parses.
std::string error_of(const std::string& body_text, OllamaEndpoint ep = OllamaEndpoint::generate) {
  OllamaRequest r;
  auto e = parse(body_text, ep, r);
  if (!e) return "";
  EXPECT_EQ(e->http_status, 400) << body_text;
  return e->message;
}

TEST(OllamaDuration, GoDurationStrings) {
  EXPECT_EQ(*parse_go_duration("5m"), 5min);
  EXPECT_EQ(*parse_go_duration("1h30m"), 90min);
  EXPECT_EQ(*parse_go_duration("300ms"), 300ms);
  EXPECT_EQ(*parse_go_duration("1.5h"), 90min);
  EXPECT_EQ(*parse_go_duration("2h45m10.5s"), 2h + 45min + 10500ms);
  EXPECT_EQ(*parse_go_duration("-1m"), -1min);
  EXPECT_EQ(*parse_go_duration("+10s"), 10s);
  EXPECT_EQ(*parse_go_duration("0"), 0ns);
  EXPECT_EQ(*parse_go_duration("-0"), 0ns);
  EXPECT_EQ(*parse_go_duration("7ns"), 7ns);
  EXPECT_EQ(*parse_go_duration("3us"), 3us);
  EXPECT_EQ(*parse_go_duration("3\xC2\xB5s"), 3us);
  EXPECT_EQ(*parse_go_duration(".5s"), 500ms);
  for (const char* bad : {"", "5", "10", "m", "5 m", "5x", "1h 2m", "abc", "--5m", "1.2.3s", "5m-", "9999999999h"}) {
    auto d = parse_go_duration(bad);
    EXPECT_FALSE(d.is_ok()) << bad;
    if (!d.is_ok()) {
      EXPECT_NE(d.status().message().find("invalid duration"), std::string::npos) << bad;
    }
  }
}

TEST(OllamaKeepAlive, NumbersAreSecondsZeroUnloadsNegativeKeeps) {
  std::optional<KeepAlive> k;
  ASSERT_FALSE(parse_keep_alive(json(300), k));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->mode, KeepAlive::Mode::for_duration);
  EXPECT_EQ(k->duration, 300s);
  ASSERT_FALSE(parse_keep_alive(json(0), k));
  EXPECT_EQ(k->mode, KeepAlive::Mode::unload_now);
  ASSERT_FALSE(parse_keep_alive(json("0s"), k));
  EXPECT_EQ(k->mode, KeepAlive::Mode::unload_now);
  ASSERT_FALSE(parse_keep_alive(json(-1), k));
  EXPECT_EQ(k->mode, KeepAlive::Mode::forever);
  ASSERT_FALSE(parse_keep_alive(json("-5m"), k));
  EXPECT_EQ(k->mode, KeepAlive::Mode::forever);
  ASSERT_FALSE(parse_keep_alive(json("1h30m"), k));
  EXPECT_EQ(k->mode, KeepAlive::Mode::for_duration);
  EXPECT_EQ(k->duration, 90min);
  ASSERT_FALSE(parse_keep_alive(json(2.9), k));  // whole seconds, as Ollama counts them
  EXPECT_EQ(k->duration, 2s);
  ASSERT_FALSE(parse_keep_alive(json(nullptr), k));
  EXPECT_FALSE(k);
  for (const json& bad : {json("soon"), json("5"), json(true), json::array({1}), json::object(), json(1e300)}) {
    auto e = parse_keep_alive(bad, k);
    ASSERT_TRUE(e) << bad.dump();
    EXPECT_EQ(e->http_status, 400);
    EXPECT_NE(e->message.find("keep_alive"), std::string::npos) << e->message;
  }
}

TEST(OllamaNames, LatestIsImplied) {
  EXPECT_EQ(ollama_full_name("llama3.2"), "llama3.2:latest");
  EXPECT_EQ(ollama_full_name("llama3.2:3b"), "llama3.2:3b");
  EXPECT_EQ(ollama_full_name("host:5000/ns/model"), "host:5000/ns/model:latest");
  EXPECT_TRUE(ollama_name_matches("stories260k", "stories260k"));
  EXPECT_TRUE(ollama_name_matches("stories260k:latest", "stories260k"));
  EXPECT_TRUE(ollama_name_matches("stories260k", "stories260k:latest"));
  EXPECT_TRUE(ollama_name_matches("Llama3.2:3B", "llama3.2:3b"));
  EXPECT_FALSE(ollama_name_matches("stories260k:q4", "stories260k"));
  EXPECT_FALSE(ollama_name_matches("llama3.2", "llama3.2:3b"));
  EXPECT_FALSE(ollama_name_matches("", "x"));
}

TEST(OllamaRequestParse, GenerateDefaultsFollowOllama) {
  OllamaRequest r;
  ASSERT_FALSE(parse(R"({"model": "m", "prompt": "Once"})", OllamaEndpoint::generate, r));
  EXPECT_EQ(r.completion.model, "m");
  EXPECT_EQ(r.completion.prompt, "Once");
  EXPECT_TRUE(r.stream);  // Ollama streams unless told not to
  EXPECT_FALSE(r.raw);
  EXPECT_FALSE(r.load_only);
  EXPECT_FLOAT_EQ(r.completion.sampling.temperature, 0.8f);
  EXPECT_EQ(r.completion.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(r.completion.sampling.top_p, 0.9f);
  EXPECT_FLOAT_EQ(r.completion.sampling.repeat_penalty, 1.1f);
  EXPECT_EQ(r.completion.sampling.penalty_last_n, 64);
  EXPECT_FALSE(r.completion.seed_given);
  EXPECT_FALSE(r.num_predict);
  EXPECT_FALSE(r.keep_alive);
}

TEST(OllamaRequestParse, OptionsMapOntoSampling) {
  OllamaRequest r;
  ASSERT_FALSE(parse(R"({"model": "m", "prompt": "p", "stream": false, "raw": true, "system": "be brief",
                         "keep_alive": "10m", "context": [1, 2, 3],
                         "options": {"temperature": 0, "top_k": 5, "top_p": 0.5, "min_p": 0.1, "seed": 42,
                                     "num_predict": 12, "num_ctx": 256, "repeat_penalty": 1.0,
                                     "presence_penalty": 0.5, "frequency_penalty": -0.5, "repeat_last_n": -1,
                                     "stop": ["\n\n", "END"], "mirostat": 2, "made_up": "x", "num_gpu": 1}})",
                     OllamaEndpoint::generate, r));
  EXPECT_FALSE(r.stream);
  EXPECT_TRUE(r.raw);
  EXPECT_EQ(r.system, "be brief");
  EXPECT_EQ(r.context, (std::vector<int32_t>{1, 2, 3}));
  ASSERT_TRUE(r.keep_alive);
  EXPECT_EQ(r.keep_alive->duration, 10min);
  const SamplingParams& s = r.completion.sampling;
  EXPECT_FLOAT_EQ(s.temperature, 0.0f);
  EXPECT_EQ(s.top_k, 5);
  EXPECT_FLOAT_EQ(s.top_p, 0.5f);
  EXPECT_FLOAT_EQ(s.min_p, 0.1f);
  EXPECT_FLOAT_EQ(s.repeat_penalty, 1.0f);
  EXPECT_FLOAT_EQ(s.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(s.frequency_penalty, -0.5f);
  EXPECT_EQ(s.penalty_last_n, -1);
  EXPECT_EQ(s.seed, 42u);
  EXPECT_TRUE(r.completion.seed_given);
  EXPECT_EQ(*r.num_predict, 12);
  EXPECT_EQ(*r.num_ctx, 256);
  EXPECT_EQ(r.completion.stop, (std::vector<std::string>{"\n\n", "END"}));
  std::vector<std::string> ignored = r.ignored_options;
  std::sort(ignored.begin(), ignored.end());
  EXPECT_EQ(ignored, (std::vector<std::string>{"made_up", "mirostat", "num_gpu"}));
}

TEST(OllamaRequestParse, NegativeSeedIsRandomAndIntegralFloatsAreIntegers) {
  OllamaRequest r;
  ASSERT_FALSE(parse(R"({"model": "m", "prompt": "p", "options": {"seed": -1, "num_predict": 8.0, "top_k": null}})",
                     OllamaEndpoint::generate, r));
  EXPECT_FALSE(r.completion.seed_given);
  EXPECT_EQ(*r.num_predict, 8);
  EXPECT_EQ(r.completion.sampling.top_k, 40);  // null keeps the default
}

TEST(OllamaRequestParse, ChatMessages) {
  OllamaRequest r;
  ASSERT_FALSE(parse(R"({"model": "m", "messages": [{"role": "system", "content": "s"},
                         {"role": "user", "content": "hi", "images": []},
                         {"role": "assistant", "content": "hello", "thinking": "hmm"}]})",
                     OllamaEndpoint::chat, r));
  ASSERT_EQ(r.completion.messages.size(), 3u);
  EXPECT_EQ(r.completion.messages[1].role, "user");
  EXPECT_EQ(r.completion.messages[1].content, "hi");
  EXPECT_EQ(r.completion.endpoint, Endpoint::chat);
  EXPECT_FALSE(r.load_only);
  ASSERT_FALSE(parse(R"({"model": "m", "messages": []})", OllamaEndpoint::chat, r));
  EXPECT_TRUE(r.load_only);
  ASSERT_FALSE(parse(R"({"model": "m"})", OllamaEndpoint::generate, r));
  EXPECT_TRUE(r.load_only);
}

TEST(OllamaRequestParse, BadInputNamesTheField) {
  struct Case {
    const char* body;
    const char* needle;
    OllamaEndpoint ep = OllamaEndpoint::generate;
  };
  const Case cases[] = {
      {R"({"prompt": "p"})", "model is required"},
      {R"({"model": 3, "prompt": "p"})", "'model'"},
      {R"({"model": "", "prompt": "p"})", "model is required"},
      {R"({"model": "m", "prompt": 5})", "'prompt'"},
      {R"({"model": "m", "prompt": "p", "stream": "yes"})", "'stream'"},
      {R"({"model": "m", "prompt": "p", "raw": 1})", "'raw'"},
      {R"({"model": "m", "prompt": "p", "format": "json"})", "'format'"},
      {R"({"model": "m", "prompt": "p", "format": {"type": "object"}})", "'format'"},
      {R"({"model": "m", "prompt": "p", "template": "{{ .Prompt }}"})", "'template'"},
      {R"({"model": "m", "prompt": "p", "suffix": "end"})", "'suffix'"},
      {R"({"model": "m", "prompt": "p", "images": ["aGk="]})", "'images'"},
      {R"({"model": "m", "prompt": "p", "think": true})", "'think'"},
      {R"({"model": "m", "prompt": "p", "context": [1, "two"]})", "'context[1]'"},
      {R"({"model": "m", "prompt": "p", "context": [-4]})", "'context[0]'"},
      {R"({"model": "m", "prompt": "p", "keep_alive": "forever"})", "keep_alive"},
      {R"({"model": "m", "prompt": "p", "options": []})", "'options'"},
      {R"({"model": "m", "prompt": "p", "options": {"temperature": "hot"}})", "'options.temperature'"},
      {R"({"model": "m", "prompt": "p", "options": {"temperature": -1}})", "temperature"},
      {R"({"model": "m", "prompt": "p", "options": {"num_predict": "ten"}})", "'options.num_predict'"},
      {R"({"model": "m", "prompt": "p", "options": {"num_predict": 1.5}})", "'options.num_predict'"},
      {R"({"model": "m", "prompt": "p", "options": {"num_ctx": 0}})", "'options.num_ctx'"},
      {R"({"model": "m", "prompt": "p", "options": {"top_k": -3}})", "'options.top_k'"},
      {R"({"model": "m", "prompt": "p", "options": {"top_p": 1.5}})", "top_p"},
      {R"({"model": "m", "prompt": "p", "options": {"stop": "x"}})", "'options.stop'"},
      {R"({"model": "m", "prompt": "p", "options": {"stop": [""]}})", "'options.stop[0]'"},
      {R"({"model": "m", "prompt": "p", "options": {"seed": true}})", "'options.seed'"},
      {R"({"model": "m", "prompt": "p", "options": {"repeat_last_n": -2}})", "'options.repeat_last_n'"},
      {R"({"model": "m", "messages": "hi"})", "'messages'", OllamaEndpoint::chat},
      {R"({"model": "m", "messages": [{"content": "x"}]})", "'messages[0].role'", OllamaEndpoint::chat},
      {R"({"model": "m", "messages": [{"role": "robot", "content": "x"}]})", "messages[0].role", OllamaEndpoint::chat},
      {R"({"model": "m", "messages": [{"role": "user", "content": 7}]})", "'messages[0].content'", OllamaEndpoint::chat},
      {R"({"model": "m", "messages": [{"role": "tool", "content": "x"}]})", "messages[0].role", OllamaEndpoint::chat},
      {R"({"model": "m", "messages": [{"role": "user", "content": "x", "images": ["aGk="]}]})", "'messages[0].images'",
       OllamaEndpoint::chat},
      {R"({"model": "m", "messages": [], "tools": [{"type": "function"}]})", "'tools'", OllamaEndpoint::chat},
  };
  for (const Case& c : cases) {
    const std::string msg = error_of(c.body, c.ep);
    EXPECT_NE(msg.find(c.needle), std::string::npos) << c.body << " -> '" << msg << "'";
  }
  // Not an object at all.
  OllamaRequest r;
  auto e = parse_ollama_request(json::array(), OllamaEndpoint::generate, r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->http_status, 400);
}

TEST(OllamaRequestParse, NeutralValuesOfUnsupportedFieldsAreFine) {
  EXPECT_EQ(error_of(R"({"model": "m", "prompt": "p", "format": "", "template": "", "suffix": "", "images": [],
                         "think": false, "unknown_top_level": 1})"),
            "");
  EXPECT_EQ(error_of(R"({"model": "m", "messages": [], "tools": [], "format": null})", OllamaEndpoint::chat), "");
}

TEST(OllamaMaxTokens, NumPredictSemantics) {
  OllamaRequest r;
  EXPECT_EQ(ollama_max_tokens(r, 10, 128), 118);  // absent: until the context is full
  r.num_predict = 20;
  EXPECT_EQ(ollama_max_tokens(r, 10, 128), 20);
  r.num_predict = 500;
  EXPECT_EQ(ollama_max_tokens(r, 10, 128), 118);  // bounded by the context
  r.num_predict = 0;
  EXPECT_EQ(ollama_max_tokens(r, 10, 128), 0);
  for (int64_t neg : {-1, -2, -7}) {  // -1 infinite, -2 fill the context, others as Ollama: unlimited
    r.num_predict = neg;
    EXPECT_EQ(ollama_max_tokens(r, 10, 128), 118) << neg;
  }
  EXPECT_EQ(ollama_max_tokens(r, 200, 128), 0);
}

TEST(OllamaFormat, Rfc3339InUtcWithGoNanoseconds) {
  using namespace std::chrono;
  const system_clock::time_point t = system_clock::time_point(seconds(1700000000)) + nanoseconds(123456000);
  EXPECT_EQ(rfc3339_utc(t), "2023-11-14T22:13:20.123456Z");
  EXPECT_EQ(rfc3339_utc(system_clock::time_point(seconds(0))), "1970-01-01T00:00:00Z");
}

TEST(OllamaFormat, ChunksAndFinalObjects) {
  const std::string chunk = ollama_chunk(OllamaEndpoint::generate, "m", "2024-01-01T00:00:00Z", "Once");
  ASSERT_EQ(chunk.back(), '\n');
  EXPECT_EQ(chunk.find('\n'), chunk.size() - 1);  // one line
  const json c = json::parse(chunk);
  EXPECT_EQ(c["model"], "m");
  EXPECT_EQ(c["response"], "Once");
  EXPECT_EQ(c["done"], false);

  const json cc = json::parse(ollama_chunk(OllamaEndpoint::chat, "m", "t", "a\nb"));
  EXPECT_EQ(cc["message"]["role"], "assistant");
  EXPECT_EQ(cc["message"]["content"], "a\nb");

  OllamaStats s{1000, 5, 7, 300, 9, 600};
  const std::vector<int32_t> ctx = {1, 2, 3};
  const std::string fin = ollama_final(OllamaEndpoint::generate, "m", "t", "", "length", s, &ctx);
  EXPECT_EQ(fin.find('\n'), fin.size() - 1);
  const json f = json::parse(fin);
  EXPECT_EQ(f["done"], true);
  EXPECT_EQ(f["done_reason"], "length");
  EXPECT_EQ(f["context"], json::array({1, 2, 3}));
  EXPECT_EQ(f["total_duration"], 1000);
  EXPECT_EQ(f["load_duration"], 5);
  EXPECT_EQ(f["prompt_eval_count"], 7);
  EXPECT_EQ(f["prompt_eval_duration"], 300);
  EXPECT_EQ(f["eval_count"], 9);
  EXPECT_EQ(f["eval_duration"], 600);
  const json fc = json::parse(ollama_final(OllamaEndpoint::chat, "m", "t", "whole", "stop", s, nullptr));
  EXPECT_EQ(fc["message"]["content"], "whole");
  EXPECT_FALSE(fc.contains("context"));
}

TEST(OllamaErrors, OllamaShape) {
  const OllamaError e = ollama_bad_request("bad \xff thing");
  const json j = json::parse(e.to_json());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.size(), 1u);
  EXPECT_TRUE(j["error"].is_string());
  const OllamaError from = ollama_error_from(payload_too_large(10, "x"));
  EXPECT_EQ(from.http_status, 413);
  EXPECT_NE(from.message.find("10 bytes"), std::string::npos);
}

}  // namespace
}  // namespace laneway::server
