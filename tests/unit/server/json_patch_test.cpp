// The upstream body keeps every byte but `model`.
#include "server/json_patch.h"

#include <gtest/gtest.h>

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

TEST(JsonPatch, RejectsNonObjects) {
  EXPECT_FALSE(replace_json_model("[1]", "m").has_value());
  EXPECT_FALSE(replace_json_model(R"({"model":)", "m").has_value());
}

}  // namespace
}  // namespace laneway::server
