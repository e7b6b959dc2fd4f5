#include "chat/json_value.h"

#include <cmath>

#include "chat/errors.h"

namespace laneway::chat {
namespace {

Value convert(const nlohmann::ordered_json& j, uint32_t depth) {
  if (depth > kMaxValueDepth) {
    throw_template_error(TemplateErrorKind::limit, fmt::format("JSON nests deeper than {} levels", kMaxValueDepth));
  }
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float: return Value(j.get<double>());
    case nlohmann::json::value_t::string: return Value(j.get_ref<const std::string&>());
    case nlohmann::json::value_t::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(convert(item, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      ValueDict d;
      d.entries.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it) d.entries.emplace_back(Value(it.key()), convert(it.value(), depth + 1));
      return Value::dict(std::move(d));
    }
    default: return Value::none();
  }
}

}  // namespace

Result<Value> value_from_json(const nlohmann::ordered_json& json) {
  try {
    return convert(json, 0);
  } catch (const TemplateError& e) {
    return invalid_argument_error("{}", e.message);
  }
}

Result<Value> value_from_json_text(std::string_view text) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_argument_error("not valid JSON");
  return value_from_json(j);
}

}  // namespace laneway::chat
