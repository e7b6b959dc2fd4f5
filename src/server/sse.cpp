#include "server/sse.h"

#include <nlohmann/json.hpp>

namespace laneway::server {

using json = nlohmann::json;

namespace {

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
std::string event(const json& j) { return "data: " + dump(j) + "\n\n"; }

json usage(int64_t prompt_tokens, int64_t completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

}  // namespace

std::string SseFormatter::chunk(std::string_view text, bool role, std::string_view finish_reason) const {
  json choice = {{"index", 0}, {"logprobs", nullptr}};
  choice["finish_reason"] = finish_reason.empty() ? json(nullptr) : json(finish_reason);
  json j;
  if (endpoint_ == Endpoint::chat) {
    json delta = json::object();
    if (role) delta["role"] = "assistant";
    if (role || !text.empty()) delta["content"] = text;
    choice["delta"] = delta;
    j = {{"id", id_}, {"object", "chat.completion.chunk"}, {"created", created_}, {"model", model_}};
  } else {
    choice["text"] = text;
    j = {{"id", id_}, {"object", "text_completion"}, {"created", created_}, {"model", model_}};
  }
  j["system_fingerprint"] = "laneway";
  j["choices"] = json::array({choice});
  if (include_usage_) j["usage"] = nullptr;
  return event(j);
}

std::string SseFormatter::role_chunk() const { return chunk("", true, ""); }
std::string SseFormatter::text_chunk(std::string_view text) const { return chunk(text, false, ""); }
std::string SseFormatter::finish_chunk(std::string_view finish_reason) const { return chunk("", false, finish_reason); }

std::string SseFormatter::usage_chunk(int64_t prompt_tokens, int64_t completion_tokens) const {
  json j = {{"id", id_},
            {"object", endpoint_ == Endpoint::chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created_},
            {"model", model_},
            {"system_fingerprint", "laneway"},
            {"choices", json::array()},
            {"usage", usage(prompt_tokens, completion_tokens)}};
  return event(j);
}

std::string SseFormatter::error_event(const ApiError& error) { return "data: " + error.to_json() + "\n\n"; }

std::string completion_response(Endpoint endpoint, const std::string& id, int64_t created, const std::string& model,
                                const std::string& text, std::string_view finish_reason, int64_t prompt_tokens,
                                int64_t completion_tokens) {
  json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish_reason}};
  json j;
  if (endpoint == Endpoint::chat) {
    choice["message"] = {{"role", "assistant"}, {"content", text}};
    j = {{"id", id}, {"object", "chat.completion"}, {"created", created}, {"model", model}};
  } else {
    choice["text"] = text;
    j = {{"id", id}, {"object", "text_completion"}, {"created", created}, {"model", model}};
  }
  j["system_fingerprint"] = "laneway";
  j["choices"] = json::array({choice});
  j["usage"] = usage(prompt_tokens, completion_tokens);
  return dump(j);
}

size_t sse_complete_prefix(std::string_view bytes, size_t from) {
  size_t end = 0;
  for (size_t i = from; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c != '\n' && c != '\r') continue;
    // An empty line: a line ending at the start of a line (bytes[0] starts
    // one; "\r\n" is one ending, so a '\n' after '\r' starts none).
    const bool line_start = i == 0 || bytes[i - 1] == '\n' || (bytes[i - 1] == '\r' && c != '\n');
    if (!line_start) continue;
    if (c == '\n') {
      end = i + 1;
    } else if (i + 1 == bytes.size()) {
      break;  // a '\r' last may be the first half of "\r\n": not known yet
    } else {
      end = bytes[i + 1] == '\n' ? i + 2 : i + 1;
    }
  }
  return end;
}

}  // namespace laneway::server
