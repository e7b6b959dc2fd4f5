#include "server/json_body.h"

#include <vector>

namespace laneway::server {

using json = nlohmann::json;

std::string json_error_field(std::string_view raw) {
  struct Frame {
    bool array = false;
    std::string key;   // objects: the key being read
    size_t index = 0;  // arrays: the element being read
  };
  std::vector<Frame> frames;
  auto value_done = [&] {
    if (!frames.empty() && frames.back().array) ++frames.back().index;
  };
  auto track = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: frames.push_back({false, "", 0}); break;
      case json::parse_event_t::array_start: frames.push_back({true, "", 0}); break;
      case json::parse_event_t::key: frames.back().key = parsed.get<std::string>(); break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        frames.pop_back();
        value_done();
        break;
      case json::parse_event_t::value: value_done(); break;
    }
    return true;  // (discarding a container would silence the events inside it)
  };
  try {
    const json parsed = json::parse(raw, track);  // (void) does not silence warn_unused_result in GCC
    (void)parsed;
  } catch (const json::exception&) {
    // Expected: the frames now say where it stopped.
  }
  std::string path;
  for (const Frame& f : frames) {
    if (f.array) path += "[" + std::to_string(f.index) + "]";
    else path += (path.empty() ? "" : ".") + f.key;
  }
  return path;
}

std::optional<ApiError> parse_json_body(const std::string& raw, json& out) {
  if (raw.empty()) return invalid_json("the body is empty; send a JSON object");
  try {
    out = json::parse(raw);
    return std::nullopt;
  } catch (const json::parse_error& e) {
    return invalid_json(e.what());
  } catch (const json::out_of_range& e) {
    // 406: a number beyond what a double holds. Valid JSON, but no value we could use.
    std::string field = json_error_field(raw);
    if (field.empty()) field = "(body)";
    return bad_request("'" + field + "' holds a number too large to represent", field, "invalid_value");
  } catch (const json::exception& e) {
    return invalid_json(e.what());
  }
}

std::string json_type_name(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

}  // namespace laneway::server
