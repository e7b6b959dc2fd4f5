// Replaces the top-level "model" of a JSON object in its text, leaving every
// other byte as the client sent it (number formats, key order, unknown
// fields): upstream lanes must receive the body untouched apart from `model`.
// The member counts however its name is written ("mod\u0065l" too), so no
// client keeps its own `model` past the rewrite; a leading UTF-8 byte order
// mark is allowed, as the JSON parser that validated the body allows it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace laneway::server {

// nullopt when `body` is not a JSON object the scanner can walk (the caller
// validated it as JSON already, so that means "not an object").
std::optional<std::string> replace_json_model(std::string_view body, std::string_view model);

}  // namespace laneway::server
