// libFuzzer target: what Laneway rewrites or writes in JSON on the wire.
//  - Requests to upstream lanes: replace_json_model() on arbitrary bodies
//    (the first byte picks the upstream model name, the rest is the body).
//    For a body that is a JSON object, the result must be a JSON object with
//    `model` set to the upstream name and every other member unchanged: a
//    client must not be able to keep its own `model` past the rewrite.
//  - Streamed and whole responses of embedded lanes: the same bytes as
//    generated text through SseFormatter and completion_response(). Every
//    event is one "data: <JSON>\n\n" line whose JSON parses and, for valid
//    UTF-8, carries the text unchanged. (Upstream responses are relayed byte
//    for byte; nothing rewrites them.)
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/json_patch.h"
#include "server/sse.h"

namespace {

using json = nlohmann::json;
using laneway::server::Endpoint;

json parse_or_discarded(std::string_view text) {
  try {
    return json::parse(text, nullptr, /*allow_exceptions=*/false);
  } catch (const json::exception&) {
    return json::value_t::discarded;  // out_of_range (1e999) still throws
  }
}

void check_request_patch(std::string_view body, std::string_view model) {
  const auto patched = laneway::server::replace_json_model(body, model);
  const json in = parse_or_discarded(body);
  if (in.is_discarded() || !in.is_object()) return;  // the route refuses these before patching
  if (!patched) std::abort();
  const json out = parse_or_discarded(*patched);
  if (!out.is_object()) std::abort();
  const auto m = out.find("model");
  if (m == out.end() || !m->is_string() || m->get_ref<const std::string&>() != model) std::abort();
  json in_rest = in, out_rest = out;
  in_rest.erase("model");
  out_rest.erase("model");
  if (in_rest != out_rest) std::abort();
}

// The JSON of one SSE event; aborts unless it is exactly "data: <one line>\n\n".
json event_json(const std::string& event) {
  if (event.rfind("data: ", 0) != 0 || event.size() < 8 || event.compare(event.size() - 2, 2, "\n\n") != 0) std::abort();
  const std::string_view payload(event.data() + 6, event.size() - 8);
  if (payload.find('\n') != std::string_view::npos || payload.find('\r') != std::string_view::npos) std::abort();
  const json j = parse_or_discarded(payload);
  if (!j.is_object()) std::abort();
  return j;
}

bool valid_utf8(std::string_view text) {
  try {
    (void)json(std::string(text)).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

void check_responses(std::string_view text, const std::string& model, Endpoint endpoint) {
  const std::string s(text);
  const laneway::server::SseFormatter sse(endpoint, "chatcmpl-" + s.substr(0, 16), 1765100000, model, true);
  const json chunk = event_json(sse.text_chunk(text));
  const json& choice = chunk.at("choices").at(0);
  if (endpoint == Endpoint::chat && s.empty()) {
    if (choice.at("delta").contains("content")) std::abort();  // an empty piece is an empty delta
  } else {
    const json& got = endpoint == Endpoint::chat ? choice.at("delta").at("content") : choice.at("text");
    // Invalid UTF-8 is replaced (U+FFFD); anything else arrives as generated.
    if (got.get_ref<const std::string&>() != s && valid_utf8(s)) std::abort();
  }
  (void)event_json(laneway::server::SseFormatter::error_event(laneway::server::bad_request(s, s)));
  const json whole =
      parse_or_discarded(laneway::server::completion_response(endpoint, "id", 1765100000, model, s, "stop", 3, 4));
  if (!whole.is_object()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 64 * 1024) return 0;
  // The first byte: bits 0-1 pick the model name, bit 2 the endpoint of the responses.
  static constexpr std::string_view kModels[] = {"qwen2.5-coder-32b-awq", "we\"ird\\name\n", "模型/ü", ""};
  const std::string_view model = kModels[data[0] % 4];
  const Endpoint endpoint = (data[0] & 4) ? Endpoint::completions : Endpoint::chat;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  check_request_patch(body, model);
  check_responses(body, std::string(model), endpoint);
  return 0;
}
