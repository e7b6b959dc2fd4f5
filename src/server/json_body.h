// Parses a request body as JSON, turning every way it can fail into the
// client's 400 (never a 500): malformed text is invalid_json; a number too
// large for a double ("max_tokens": 1e999, anywhere in the body) is
// invalid_value naming the field it sits in ("messages[0].content").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/api_error.h"

namespace laneway::server {

std::optional<ApiError> parse_json_body(const std::string& raw, nlohmann::json& out);

// Where the parser stopped in `raw`, as a field path ("max_tokens",
// "messages[1].content", "prompt[3]"); "" when at the top level. Parses again,
// so call it only on failure.
std::string json_error_field(std::string_view raw);

// "null", "a boolean", "an integer", "a number", "a string", "an array" or
// "an object": a value's JSON type as error messages name it.
std::string json_type_name(const nlohmann::json& v);

}  // namespace laneway::server
