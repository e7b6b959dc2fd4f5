// Request parsing for embedded lanes: native structs out, named fields in errors.
#include "server/completion_request.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace laneway::server {
namespace {

using json = nlohmann::json;

std::optional<ApiError> parse(const std::string& text, Endpoint ep, CompletionRequest& out) {
  return parse_completion_request(json::parse(text), ep, out);
}

TEST(CompletionRequest, ChatFieldsBecomeNativeParams) {
  CompletionRequest r;
  auto e = parse(R"({"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
                     "max_tokens":7,"temperature":0,"top_p":0.5,"top_k":3,"min_p":0.1,"seed":42,"stop":"x",
                     "presence_penalty":0.5,"frequency_penalty":-0.5,"stream":true,"stream_options":{"include_usage":true},
                     "n":1,"logprobs":false,"tools":[],"response_format":{"type":"text"},"user":"u"})",
                 Endpoint::chat, r);
  ASSERT_FALSE(e) << e->message;
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].content, "ab");
  EXPECT_EQ(r.max_tokens, 7);
  EXPECT_EQ(r.sampling.temperature, 0.0f);
  EXPECT_EQ(r.sampling.top_k, 3);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.5f);
  EXPECT_EQ(r.sampling.seed, 42u);
  EXPECT_TRUE(r.seed_given);
  EXPECT_EQ(r.stop, std::vector<std::string>{"x"});
  EXPECT_TRUE(r.stream && r.include_usage);
}

TEST(CompletionRequest, OpenAiDefaults) {
  CompletionRequest r;
  ASSERT_FALSE(parse(R"({"prompt":"hi"})", Endpoint::completions, r));
  EXPECT_EQ(r.sampling.temperature, 1.0f);
  EXPECT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_EQ(r.sampling.top_k, 0);
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_FALSE(r.seed_given);
  EXPECT_EQ(r.prompt, "hi");
}

TEST(CompletionRequest, PromptAsTokenIds) {
  CompletionRequest r;
  ASSERT_FALSE(parse(R"({"prompt":[1,2,3]})", Endpoint::completions, r));
  EXPECT_EQ(r.prompt_token_ids, (std::vector<int32_t>{1, 2, 3}));
  ASSERT_FALSE(parse(R"({"prompt":[[4,5]]})", Endpoint::completions, r));
  EXPECT_EQ(r.prompt_token_ids, (std::vector<int32_t>{4, 5}));
  ASSERT_FALSE(parse(R"({"prompt":["text"]})", Endpoint::completions, r));
  EXPECT_EQ(r.prompt, "text");
}

TEST(CompletionRequest, UnsupportedFieldsAreNamed) {
  for (const char* field : {R"("n":3)", R"("tools":[{"type":"function"}])", R"("logprobs":true)",
                            R"("response_format":{"type":"json_schema"})", R"("tool_choice":"auto")"}) {
    CompletionRequest r;
    auto e = parse(std::string(R"({"messages":[{"role":"user","content":"x"}],)") + field + "}", Endpoint::chat, r);
    ASSERT_TRUE(e) << field;
    EXPECT_EQ(e->code, "unsupported_field") << field;
    EXPECT_NE(e->message.find(e->param), std::string::npos);
    EXPECT_EQ(std::string(field).find(e->param), 1u) << field;  // the param is the field
  }
}

TEST(CompletionRequest, WrongTypesNameTheField) {
  CompletionRequest r;
  auto e = parse(R"({"messages":[{"role":"user","content":"x"}],"top_k":"3"})", Endpoint::chat, r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "top_k");
  EXPECT_EQ(e->code, "invalid_type");
  e = parse(R"({"messages":[{"role":"user","content":"x"},{"role":"user"}]})", Endpoint::chat, r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "messages[1].content");
}

TEST(CompletionRequest, EstimateCountsMessageText) {
  EXPECT_EQ(estimate_prompt_tokens(json::parse(R"({"messages":[{"role":"user","content":"12345678"}]})")), 3);
  EXPECT_EQ(estimate_prompt_tokens(json::parse(R"({"prompt":"1234567890123456"})")), 4);
  EXPECT_EQ(estimate_prompt_tokens(json::parse("[]")), 0);
}

}  // namespace
}  // namespace laneway::server

namespace laneway::server {
namespace {

TEST(CompletionRequest, NullModelIsNotOmitted) {
  CompletionRequest r;
  auto e = parse(R"({"model":null,"messages":[{"role":"user","content":"a"}]})", Endpoint::chat, r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->http_status, 400);
  EXPECT_EQ(e->param, "model");
  EXPECT_EQ(e->code, "invalid_type");
}

TEST(CompletionRequest, StopStringsUpToOurLimit) {
  auto stops = [](size_t n) {
    json body = {{"prompt", "a"}, {"stop", json::array()}};
    for (size_t i = 0; i < n; ++i) body["stop"].push_back("s" + std::to_string(i));
    return body;
  };
  CompletionRequest r;
  // More than OpenAI's 4 is fine up to ours.
  EXPECT_FALSE(parse_completion_request(stops(5), Endpoint::completions, r));
  EXPECT_FALSE(parse_completion_request(stops(kMaxStopStrings), Endpoint::completions, r));
  EXPECT_EQ(r.stop.size(), kMaxStopStrings);
  auto e = parse_completion_request(stops(kMaxStopStrings + 1), Endpoint::completions, r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "stop");
  EXPECT_EQ(e->http_status, 400);
}

}  // namespace
}  // namespace laneway::server
