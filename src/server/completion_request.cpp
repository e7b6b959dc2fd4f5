#include "server/completion_request.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "server/json_body.h"

namespace laneway::server {

using json = nlohmann::json;

namespace {

ApiError wrong_type(const std::string& field, const std::string& expected, const json& got) {
  return bad_request("Invalid type for '" + field + "': expected " + expected + ", but got " + json_type_name(got) + ".",
                     field, "invalid_type");
}

std::optional<ApiError> number_in(const json& body, const char* field, double lo, double hi, bool lo_open, float& out) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) return wrong_type(field, "a number", *it);
  const double v = it->get<double>();
  if (!std::isfinite(v) || v > hi || (lo_open ? v <= lo : v < lo)) {
    return bad_request(fmt::format("'{}' must be {} {} and at most {}, got {}", field, lo_open ? "above" : "at least", lo,
                                   hi, it->dump()),
                       field);
  }
  out = static_cast<float>(v);
  return std::nullopt;
}

// The text of a message's `content`: a string or an array of text parts.
std::optional<ApiError> content_text(const json& content, const std::string& field, std::string& out) {
  if (content.is_string()) {
    out = content.get<std::string>();
    return std::nullopt;
  }
  if (!content.is_array()) return wrong_type(field, "a string or an array of content parts", content);
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string pf = fmt::format("{}[{}]", field, i);
    if (!part.is_object()) return wrong_type(pf, "a content part object", part);
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) return bad_request("'" + pf + ".type' is required", pf + ".type");
    if (*type != "text") return unsupported_field(pf + ".type", "content parts of type '" + type->get<std::string>() +
                                                                    "' (only 'text')");
    auto text = part.find("text");
    if (text == part.end() || !text->is_string()) return wrong_type(pf + ".text", "a string", part.value("text", json()));
    for (const auto& [k, v] : part.items()) {
      if (k != "type" && k != "text") return unsupported_field(pf + "." + k);
    }
    out += text->get<std::string>();
  }
  return std::nullopt;
}

std::optional<ApiError> parse_messages(const json& body, CompletionRequest& out) {
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) return bad_request("Missing required parameter: 'messages'.", "messages", "missing_required_parameter");
  if (!it->is_array()) return wrong_type("messages", "an array", *it);
  if (it->empty()) return bad_request("'messages' must contain at least one message", "messages", "empty_array");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string mf = fmt::format("messages[{}]", i);
    if (!m.is_object()) return wrong_type(mf, "an object", m);
    ChatMessage msg;
    auto role = m.find("role");
    if (role == m.end()) return bad_request("Missing required parameter: '" + mf + ".role'.", mf + ".role", "missing_required_parameter");
    if (!role->is_string()) return wrong_type(mf + ".role", "a string", *role);
    msg.role = role->get<std::string>();
    if (msg.role == "tool" || msg.role == "function") return unsupported_field(mf + ".role", "tool messages");
    if (msg.role != "system" && msg.role != "developer" && msg.role != "user" && msg.role != "assistant") {
      return bad_request("Invalid value for '" + mf + ".role': '" + msg.role +
                             "' (expected system, developer, user or assistant)",
                         mf + ".role");
    }
    for (const auto& [k, v] : m.items()) {
      if (k == "role" || k == "content") continue;
      if (k == "name") {
        if (!v.is_string()) return wrong_type(mf + ".name", "a string", v);
        continue;
      }
      if ((k == "tool_calls" && v.is_array() && v.empty()) || v.is_null()) continue;
      return unsupported_field(mf + "." + k);
    }
    auto content = m.find("content");
    if (content == m.end() || content->is_null()) {
      return bad_request("Missing required parameter: '" + mf + ".content'.", mf + ".content", "missing_required_parameter");
    }
    if (auto e = content_text(*content, mf + ".content", msg.content)) return e;
    out.messages.push_back(std::move(msg));
  }
  return std::nullopt;
}

std::optional<ApiError> parse_prompt(const json& body, CompletionRequest& out) {
  auto it = body.find("prompt");
  if (it == body.end() || it->is_null()) return bad_request("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter");
  const json* p = &*it;
  if (p->is_array()) {
    if (p->empty()) return bad_request("'prompt' must not be empty", "prompt", "empty_array");
    const bool all_ints = std::all_of(p->begin(), p->end(), [](const json& v) { return v.is_number_integer(); });
    if (all_ints) {
      for (const auto& v : *p) {
        const int64_t id = v.get<int64_t>();
        if (id < 0 || id > std::numeric_limits<int32_t>::max()) return bad_request(fmt::format("'prompt' holds an invalid token id {}", id), "prompt");
        out.prompt_token_ids.push_back(static_cast<int32_t>(id));
      }
      return std::nullopt;
    }
    if (p->size() > 1) return unsupported_field("prompt", "more than one prompt per request");
    p = &(*p)[0];
    if (p->is_array()) {  // [[1, 2, 3]]
      for (const auto& v : *p) {
        if (!v.is_number_integer()) return wrong_type("prompt[0]", "an array of token ids", *p);
        const int64_t id = v.get<int64_t>();
        if (id < 0 || id > std::numeric_limits<int32_t>::max()) return bad_request(fmt::format("'prompt' holds an invalid token id {}", id), "prompt");
        out.prompt_token_ids.push_back(static_cast<int32_t>(id));
      }
      if (out.prompt_token_ids.empty()) return bad_request("'prompt' must not be empty", "prompt", "empty_array");
      return std::nullopt;
    }
  }
  if (!p->is_string()) return wrong_type("prompt", "a string, an array of strings or an array of token ids", *it);
  out.prompt = p->get<std::string>();
  if (out.prompt.empty()) return bad_request("'prompt' must not be empty", "prompt", "empty_string");
  return std::nullopt;
}

// A field the engine does not implement is fine only when its value asks for
// nothing (n: 1, logprobs: false, tools: [], ...).
bool neutral(const std::string& key, const json& v) {
  if (v.is_null()) return true;
  if (key == "n" || key == "best_of") return v.is_number_integer() && v.get<int64_t>() == 1;
  if (key == "logprobs") return (v.is_boolean() && !v.get<bool>()) || (v.is_number_integer() && v.get<int64_t>() == 0);
  if (key == "echo" || key == "store" || key == "parallel_tool_calls") return v.is_boolean() && (!v.get<bool>() || key == "parallel_tool_calls");
  if (key == "tools" || key == "functions") return v.is_array() && v.empty();
  if (key == "tool_choice" || key == "function_call") return v.is_string() && v.get<std::string>() == "none";
  if (key == "response_format") return v.is_object() && v.size() == 1 && v.value("type", "") == "text";
  if (key == "logit_bias" || key == "metadata") return v.is_object() && v.empty();
  if (key == "suffix") return v.is_string() && v.get<std::string>().empty();
  if (key == "service_tier") return v.is_string() && (v.get<std::string>() == "auto" || v.get<std::string>() == "default");
  return false;
}

}  // namespace

std::optional<ApiError> parse_completion_request(const json& body, Endpoint endpoint, CompletionRequest& out) {
  out = CompletionRequest{};
  out.endpoint = endpoint;
  if (!body.is_object()) return wrong_type("(body)", "a JSON object", body);
  // OpenAI's defaults: temperature 1, top_p 1; no top-k or min-p unless asked.
  out.sampling.temperature = 1.0f;
  out.sampling.top_p = 1.0f;
  out.sampling.top_k = 0;
  out.sampling.min_p = 0.0f;
  out.sampling.penalty_last_n = -1;  // OpenAI penalties count the whole generation

  static const char* kChatOnly[] = {"messages", "max_completion_tokens", "top_logprobs", "tools", "tool_choice",
                                    "functions", "function_call", "parallel_tool_calls", "response_format", "store",
                                    "metadata", "modalities", "audio", "prediction", "reasoning_effort",
                                    "web_search_options"};
  static const char* kCompletionsOnly[] = {"prompt", "echo", "best_of", "suffix"};
  static const char* kCommon[] = {"model", "max_tokens", "temperature", "top_p", "top_k", "min_p", "repeat_penalty",
                                  "presence_penalty", "frequency_penalty", "seed", "stop", "stream", "stream_options",
                                  "n", "logprobs", "logit_bias", "user", "ignore_eos", "service_tier"};
  for (const auto& item : body.items()) {
    // (a plain reference: clang before 16 cannot capture a structured binding)
    const std::string& key = item.key();
    auto in = [&](const auto& list) { return std::find(std::begin(list), std::end(list), key) != std::end(list); };
    const bool known = in(kCommon) || (endpoint == Endpoint::chat ? in(kChatOnly) : in(kCompletionsOnly));
    if (!known) {
      if (in(kChatOnly) || in(kCompletionsOnly)) {
        return bad_request("'" + key + "' is not a parameter of " +
                               (endpoint == Endpoint::chat ? "/v1/chat/completions" : "/v1/completions"),
                           key, "unknown_parameter");
      }
      return bad_request("Unrecognized request argument supplied: '" + key + "'", key, "unknown_parameter");
    }
  }

  if (auto it = body.find("model"); it != body.end()) {
    // null is not "omitted": OpenAI refuses it, and so do we.
    if (!it->is_string()) return wrong_type("model", "a string", *it);
    out.model = it->get<std::string>();
  }
  if (endpoint == Endpoint::chat) {
    if (auto e = parse_messages(body, out)) return e;
  } else {
    if (auto e = parse_prompt(body, out)) return e;
  }

  for (const char* key : {"n", "best_of", "logprobs", "top_logprobs", "echo", "store", "tools", "functions", "tool_choice",
                          "function_call", "parallel_tool_calls", "response_format", "logit_bias", "metadata", "suffix",
                          "modalities", "audio", "prediction", "reasoning_effort", "web_search_options", "service_tier"}) {
    auto it = body.find(key);
    if (it == body.end() || neutral(key, *it)) continue;
    if ((std::string(key) == "n" || std::string(key) == "best_of") && it->is_number_integer() && it->get<int64_t>() < 1) {
      return bad_request(fmt::format("'{}' must be at least 1, got {}", key, it->dump()), key);
    }
    if (std::string(key) == "n" && !it->is_number_integer()) return wrong_type("n", "an integer", *it);
    return unsupported_field(key, std::string(key) == "n" ? "only n = 1" : "");
  }

  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_number_integer()) return wrong_type(key, "an integer", *it);
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return bad_request(fmt::format("'{}' is too large: {}", key, it->dump()), key);
    }
    const int64_t v = it->get<int64_t>();
    if (v < 1) return bad_request(fmt::format("'{}' must be at least 1, got {}", key, v), key);
    out.max_tokens = v;
  }

  if (auto e = number_in(body, "temperature", 0, 2, false, out.sampling.temperature)) return e;
  if (auto e = number_in(body, "top_p", 0, 1, true, out.sampling.top_p)) return e;
  if (auto e = number_in(body, "min_p", 0, 1, false, out.sampling.min_p)) return e;
  if (auto e = number_in(body, "presence_penalty", -2, 2, false, out.sampling.presence_penalty)) return e;
  if (auto e = number_in(body, "frequency_penalty", -2, 2, false, out.sampling.frequency_penalty)) return e;
  if (auto e = number_in(body, "repeat_penalty", 0, 10, true, out.sampling.repeat_penalty)) return e;
  if (auto it = body.find("top_k"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer()) return wrong_type("top_k", "an integer", *it);
    if (it->get<int64_t>() < 0 || it->get<int64_t>() > std::numeric_limits<int32_t>::max()) {
      return bad_request("'top_k' must be 0 (off) or more, got " + it->dump(), "top_k");
    }
    out.sampling.top_k = static_cast<int32_t>(it->get<int64_t>());
  }
  if (auto it = body.find("seed"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer()) return wrong_type("seed", "an integer", *it);
    out.sampling.seed = it->is_number_unsigned() ? it->get<uint64_t>() : static_cast<uint64_t>(it->get<int64_t>());
    out.seed_given = true;
  }
  if (auto it = body.find("stop"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      out.stop.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (size_t i = 0; i < it->size(); ++i) {
        if (!(*it)[i].is_string()) return wrong_type(fmt::format("stop[{}]", i), "a string", (*it)[i]);
        out.stop.push_back((*it)[i].get<std::string>());
      }
    } else {
      return wrong_type("stop", "a string or an array of strings", *it);
    }
    if (out.stop.size() > kMaxStopStrings) {
      return bad_request(fmt::format("'stop' may hold at most {} strings, got {}", kMaxStopStrings, out.stop.size()), "stop");
    }
    for (const auto& s : out.stop) {
      if (s.empty()) return bad_request("'stop' strings must not be empty", "stop");
    }
  }
  if (auto it = body.find("stream"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) return wrong_type("stream", "a boolean", *it);
    out.stream = it->get<bool>();
  }
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return wrong_type("stream_options", "an object", *it);
    if (!out.stream) return bad_request("'stream_options' is only allowed when 'stream' is true", "stream_options");
    for (const auto& [k, v] : it->items()) {
      if (k != "include_usage") return unsupported_field("stream_options." + k);
      if (!v.is_boolean()) return wrong_type("stream_options.include_usage", "a boolean", v);
      out.include_usage = v.get<bool>();
    }
  }
  if (auto it = body.find("user"); it != body.end() && !it->is_null() && !it->is_string()) {
    return wrong_type("user", "a string", *it);
  }
  if (auto it = body.find("ignore_eos"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) return wrong_type("ignore_eos", "a boolean", *it);
    out.ignore_eos = it->get<bool>();
  }
  return std::nullopt;
}

int64_t estimate_prompt_tokens(const json& body) {
  if (!body.is_object()) return 0;
  size_t bytes = 0;
  // Every string under messages/prompt counts (content parts, names, ...).
  auto add = [&](auto&& self, const json& v) -> void {
    if (v.is_string()) bytes += v.get_ref<const std::string&>().size();
    else if (v.is_structured()) for (const auto& item : v) self(self, item);
  };
  if (auto it = body.find("messages"); it != body.end()) add(add, *it);
  if (auto it = body.find("prompt"); it != body.end()) add(add, *it);
  return static_cast<int64_t>(bytes / 4);
}

}  // namespace laneway::server
