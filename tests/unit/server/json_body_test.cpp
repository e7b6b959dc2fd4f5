// Request bodies that are not usable JSON are the client's 400, naming the
// field where a number overflows a double.
#include "server/json_body.h"

#include <gtest/gtest.h>

namespace laneway::server {
namespace {

using json = nlohmann::json;

TEST(JsonBody, NumberOverflowNamesItsField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"max_tokens": 1e999})", "max_tokens"},
      {R"({"model":"m","temperature":-1e999})", "temperature"},
      {R"({"messages":[{"role":"user"},{"role":"user","content":1e400}]})", "messages[1].content"},
      {R"({"prompt":[1,2,[3,4e999]]})", "prompt[2][1]"},
      {R"({"a":{"b":[{"c":{}}, 5e999]}})", "a.b[1]"},
      {R"(1e999)", "(body)"},
  };
  for (const auto& [text, field] : cases) {
    json out;
    auto e = parse_json_body(text, out);
    ASSERT_TRUE(e) << text;
    EXPECT_EQ(e->http_status, 400) << text;
    EXPECT_EQ(e->code, "invalid_value") << text;
    EXPECT_EQ(e->param, field) << text;
    EXPECT_NE(e->message.find(field), std::string::npos) << e->message;
  }
}

TEST(JsonBody, MalformedAndEmptyAreInvalidJson) {
  json out;
  for (const char* text : {"", "{", R"({"a":1}})", "nul"}) {
    auto e = parse_json_body(text, out);
    ASSERT_TRUE(e) << text;
    EXPECT_EQ(e->http_status, 400);
    EXPECT_EQ(e->code, "invalid_json") << text;
  }
  EXPECT_FALSE(parse_json_body(R"({"max_tokens": 1e300, "x": [1, 2]})", out));
  EXPECT_EQ(out["x"][1], 2);
}

}  // namespace
}  // namespace laneway::server
