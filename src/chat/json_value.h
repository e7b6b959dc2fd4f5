// Conversion between nlohmann::json and template Values. Object key order
// is kept (nlohmann::ordered_json) because templates iterate dicts in
// insertion order, and json.dumps output follows it.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "chat/value.h"
#include "core/status.h"

namespace laneway::chat {

// Integers stay integers, floats floats. Fails (invalid_argument) past
// kMaxValueDepth levels of nesting.
Result<Value> value_from_json(const nlohmann::ordered_json& json);
// Parses JSON text, keeping key order.
Result<Value> value_from_json_text(std::string_view text);

}  // namespace laneway::chat
