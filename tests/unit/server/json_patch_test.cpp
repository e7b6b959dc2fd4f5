// The upstream body keeps every byte but `model`.
#include "server/json_patch.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace laneway::server {
namespace {

TEST(JsonPatch, ReplacesOnlyTheTopLevelModel) {
  const std::string body = R"({"model":"coder","temperature":1.0e0,"x":{"model":"inner"},"tools":[{"a":"}"}]})";
  EXPECT_EQ(*replace_json_model(body, "qwen2.5-coder-32b-awq"),
            R"({"model":"qwen2.5-coder-32b-awq","temperature":1.0e0,"x":{"model":"inner"},"tools":[{"a":"}"}]})");
}

TEST(JsonPatch, KeepsWhitespaceAndOrder) {
  const std::string body = "{ \"stream\" : true ,\n  \"model\" :\t\"a\\\"b\" , \"n\": 2 }";
  EXPECT_EQ(*replace_json_model(body, "up"), "{ \"stream\" : true ,\n  \"model\" :\t\"up\" , \"n\": 2 }");
}

TEST(JsonPatch, InsertsWhenAbsent) {
  EXPECT_EQ(*replace_json_model(R"({"prompt":"x"})", "m"), R"({"model":"m","prompt":"x"})");
  EXPECT_EQ(*replace_json_model("{}", "m"), R"({"model":"m"})");
  EXPECT_EQ(*replace_json_model(R"({"model":null})", "m"), R"({"model":"m"})");
}

TEST(JsonPatch, EscapesTheNewName) {
  EXPECT_EQ(*replace_json_model(R"({"model":"a"})", "we\"ird"), R"({"model":"we\"ird"})");
}

// Caught by the check tests/fuzz/json_patch_fuzz makes: only the key spelled "model" was
// replaced, so {"mod\u0065l": ...} got a second "model" in front and the
// client's (last) one won upstream.
TEST(JsonPatch, ReplacesAModelKeyWrittenWithEscapes) {
  const std::string body = R"({"mod\u0065l":"client","\u006dodel":"again","x":1})";
  const auto out = replace_json_model(body, "up");
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(*out, R"({"mod\u0065l":"up","\u006dodel":"up","x":1})");
  EXPECT_EQ(nlohmann::json::parse(*out).at("model"), "up");
  EXPECT_EQ(*replace_json_model(R"({"mode\u006c\n":1})", "up"), R"({"model":"up","mode\u006c\n":1})");
}

// Caught by the same check: the body's JSON parser skips a UTF-8
// byte order mark, the scanner did not, and the body went upstream unpatched.
TEST(JsonPatch, AllowsAByteOrderMark) {
  const std::string body = "\xEF\xBB\xBF {\"model\":\"client\"}";
  ASSERT_TRUE(nlohmann::json::accept(body));
  EXPECT_EQ(replace_json_model(body, "up"), "\xEF\xBB\xBF {\"model\":\"up\"}");
  EXPECT_EQ(replace_json_model("\xEF\xBB\xBF{}", "up"), "\xEF\xBB\xBF{\"model\":\"up\"}");
  EXPECT_FALSE(replace_json_model("\xEF\xBB[]", "up").has_value());
}

TEST(JsonPatch, RejectsNonObjects) {
  EXPECT_FALSE(replace_json_model("[1]", "m").has_value());
  EXPECT_FALSE(replace_json_model(R"({"model":)", "m").has_value());
}

}  // namespace
}  // namespace laneway::server
