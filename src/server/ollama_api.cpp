#include "server/ollama_api.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "server/json_body.h"

#include "sampling/sampling_params.h"

namespace laneway::server {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

namespace {

OllamaError wrong_type(const std::string& field, const std::string& expected, const json& got) {
  return ollama_bad_request(fmt::format("invalid type for '{}': expected {}, got {}", field, expected, json_type_name(got)));
}

OllamaError unsupported(const std::string& field, const std::string& what) {
  return ollama_bad_request(
      fmt::format("'{}' is not supported by Laneway yet ({}); remove it from the request", field, what));
}

// An integer, also when written as 3.0 (JavaScript clients may); fractions are an error.
std::optional<OllamaError> read_int(const json& v, const std::string& field, int64_t& out) {
  if (v.is_number_unsigned()) {
    if (v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return ollama_bad_request(fmt::format("'{}' is too large: {}", field, v.dump()));
    }
    out = static_cast<int64_t>(v.get<uint64_t>());
    return std::nullopt;
  }
  if (v.is_number_integer()) {
    out = v.get<int64_t>();
    return std::nullopt;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.0e18) {
      out = static_cast<int64_t>(d);
      return std::nullopt;
    }
  }
  return wrong_type(field, "an integer", v);
}

std::optional<OllamaError> read_float(const json& v, const std::string& field, float& out) {
  if (!v.is_number()) return wrong_type(field, "a number", v);
  const double d = v.get<double>();
  if (!std::isfinite(d) || std::fabs(d) > 1e30)
    return ollama_bad_request(fmt::format("'{}' is out of range: {}", field, v.dump()));
  out = static_cast<float>(d);
  return std::nullopt;
}

std::optional<OllamaError> read_string(const json& body, const char* field, std::string& out) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) return wrong_type(field, "a string", *it);
  out = it->get<std::string>();
  return std::nullopt;
}

std::optional<OllamaError> read_bool(const json& body, const char* field, bool& out) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return wrong_type(field, "a boolean", *it);
  out = it->get<bool>();
  return std::nullopt;
}

std::optional<OllamaError> parse_options(const json& options, OllamaRequest& out) {
  if (options.is_null()) return std::nullopt;
  if (!options.is_object()) return wrong_type("options", "an object", options);
  SamplingParams& s = out.completion.sampling;
  for (const auto& [key, v] : options.items()) {
    if (v.is_null()) continue;  // as Ollama: a null option keeps its default
    const std::string field = "options." + key;
    int64_t i = 0;
    if (key == "num_ctx") {
      if (auto e = read_int(v, field, i)) return e;
      if (i < 1) return ollama_bad_request(fmt::format("'{}' must be at least 1, got {}", field, i));
      out.num_ctx = i;
    } else if (key == "num_predict") {
      if (auto e = read_int(v, field, i)) return e;
      out.num_predict = i;
    } else if (key == "top_k") {
      if (auto e = read_int(v, field, i)) return e;
      if (i < 0 || i > std::numeric_limits<int32_t>::max()) {
        return ollama_bad_request(fmt::format("'{}' must be 0 (off) or more, got {}", field, i));
      }
      s.top_k = static_cast<int32_t>(i);
    } else if (key == "seed") {
      if (auto e = read_int(v, field, i)) return e;
      // Ollama's default seed is -1: a random one per request.
      out.completion.seed_given = i >= 0;
      if (i >= 0) s.seed = static_cast<uint64_t>(i);
    } else if (key == "repeat_last_n") {
      if (auto e = read_int(v, field, i)) return e;
      if (i < -1 || i > std::numeric_limits<int32_t>::max()) {
        return ollama_bad_request(
            fmt::format("'{}' must be -1 (the whole context), 0 (off) or more, got {}", field, i));
      }
      s.penalty_last_n = static_cast<int32_t>(i);
    } else if (key == "temperature") {
      if (auto e = read_float(v, field, s.temperature)) return e;
    } else if (key == "top_p") {
      if (auto e = read_float(v, field, s.top_p)) return e;
    } else if (key == "min_p") {
      if (auto e = read_float(v, field, s.min_p)) return e;
    } else if (key == "repeat_penalty") {
      if (auto e = read_float(v, field, s.repeat_penalty)) return e;
    } else if (key == "presence_penalty") {
      if (auto e = read_float(v, field, s.presence_penalty)) return e;
    } else if (key == "frequency_penalty") {
      if (auto e = read_float(v, field, s.frequency_penalty)) return e;
    } else if (key == "stop") {
      if (!v.is_array()) return wrong_type(field, "an array of strings", v);
      for (size_t k = 0; k < v.size(); ++k) {
        if (!v[k].is_string()) return wrong_type(fmt::format("{}[{}]", field, k), "a string", v[k]);
        if (v[k].get_ref<const std::string&>().empty())
          return ollama_bad_request(fmt::format("'{}[{}]' must not be empty", field, k));
        out.completion.stop.push_back(v[k].get<std::string>());
      }
      if (out.completion.stop.size() > kMaxStopStrings) {
        return ollama_bad_request(
            fmt::format("'{}' may hold at most {} strings, got {}", field, kMaxStopStrings, v.size()));
      }
    } else {
      // Ollama ignores options it does not know (and Laneway those it does not implement).
      out.ignored_options.push_back(key);
    }
  }
  if (Status st = validate_sampling_params(s); !st.is_ok()) {
    return ollama_bad_request("invalid options: " + st.message());
  }
  return std::nullopt;
}

std::optional<OllamaError> parse_chat_messages(const json& body, OllamaRequest& out) {
  auto it = body.find("messages");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_array()) return wrong_type("messages", "an array", *it);
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string mf = fmt::format("messages[{}]", i);
    if (!m.is_object()) return wrong_type(mf, "an object", m);
    ChatMessage msg;
    auto role = m.find("role");
    if (role == m.end() || role->is_null()) return ollama_bad_request(fmt::format("'{}.role' is required", mf));
    if (!role->is_string()) return wrong_type(mf + ".role", "a string", *role);
    msg.role = role->get<std::string>();
    if (msg.role == "tool") return unsupported(mf + ".role", "tool messages");
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant") {
      return ollama_bad_request(
          fmt::format("invalid role '{}' in '{}.role' (expected system, user or assistant)", msg.role, mf));
    }
    if (auto e = read_string(m, "content", msg.content)) return wrong_type(mf + ".content", "a string", m["content"]);
    if (auto images = m.find("images"); images != m.end() && !images->is_null()) {
      if (!images->is_array()) return wrong_type(mf + ".images", "an array", *images);
      if (!images->empty()) return unsupported(mf + ".images", "images need a vision model");
    }
    if (auto calls = m.find("tool_calls"); calls != m.end() && !calls->is_null()) {
      if (!calls->is_array()) return wrong_type(mf + ".tool_calls", "an array", *calls);
      if (!calls->empty()) return unsupported(mf + ".tool_calls", "tool calling");
    }
    out.completion.messages.push_back(std::move(msg));
  }
  return std::nullopt;
}

int unit_index(std::string_view text, size_t pos, size_t& len) {
  // Longest units first ("ms" before "m").
  static const struct {
    std::string_view name;
    int64_t ns;
  } kUnits[] = {{"ns", 1},       {"us", 1000},      {"\xC2\xB5s", 1000}, {"\xCE\xBCs", 1000},
                {"ms", 1000000}, {"s", 1000000000}, {"m", 60000000000},  {"h", 3600000000000}};
  for (int u = 0; u < 8; ++u) {
    if (text.substr(pos, kUnits[u].name.size()) == kUnits[u].name) {
      len = kUnits[u].name.size();
      return u;
    }
  }
  return -1;
}

int64_t unit_ns(int u) {
  static const int64_t kNs[] = {1, 1000, 1000, 1000, 1000000, 1000000000, 60000000000, 3600000000000};
  return kNs[u];
}

}  // namespace

std::string OllamaError::to_json() const {
  return json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

OllamaError ollama_bad_request(std::string message) { return {400, std::move(message), 0}; }

OllamaError ollama_error_from(const ApiError& error) {
  std::string message = error.message;
  if (!error.param.empty() && message.find(error.param) == std::string::npos) message += " ('" + error.param + "')";
  return {error.http_status, std::move(message), error.retry_after_s};
}

Result<std::chrono::nanoseconds> parse_go_duration(std::string_view text) {
  const std::string shown(text);
  auto bad = [&](const std::string& why) -> Status {
    return invalid_argument_error(
        "invalid duration \"{}\": {} (examples: \"5m\", \"1h30m\", \"300ms\", \"-1\" as a number)", shown, why);
  };
  size_t pos = 0;
  bool negative = false;
  if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) negative = text[pos++] == '-';
  if (text.substr(pos) == "0") return std::chrono::nanoseconds(0);
  if (pos >= text.size()) return bad("empty");
  long double total = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
    const size_t int_digits = pos - start;
    size_t frac_digits = 0;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      const size_t frac_start = pos;
      while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) ++pos;
      frac_digits = pos - frac_start;
    }
    if (int_digits == 0 && frac_digits == 0) return bad("expected a number");
    const long double number = std::stold(std::string(text.substr(start, pos - start)));
    size_t unit_len = 0;
    const int u = unit_index(text, pos, unit_len);
    if (u < 0) return bad(pos >= text.size() ? "missing unit (ns, us, ms, s, m or h)" : "unknown unit");
    pos += unit_len;
    total += number * static_cast<long double>(unit_ns(u));
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max())) return bad("too large");
  }
  const auto ns = static_cast<int64_t>(total);
  return std::chrono::nanoseconds(negative ? -ns : ns);
}

std::optional<OllamaError> parse_keep_alive(const json& value, std::optional<KeepAlive>& out) {
  out.reset();
  if (value.is_null()) return std::nullopt;
  int64_t ns = 0;
  if (value.is_number()) {
    const double seconds = value.get<double>();
    if (!std::isfinite(seconds)) return ollama_bad_request("invalid 'keep_alive': " + value.dump());
    if (seconds < 0) {
      out = KeepAlive{KeepAlive::Mode::forever, {}};
      return std::nullopt;
    }
    if (std::trunc(seconds) > 9.0e9)
      return ollama_bad_request("'keep_alive' is too large: " + value.dump() + " seconds");
    ns = static_cast<int64_t>(std::trunc(seconds)) * 1000000000;  // whole seconds, as Ollama counts them
  } else if (value.is_string()) {
    auto d = parse_go_duration(value.get_ref<const std::string&>());
    if (!d) return ollama_bad_request("invalid 'keep_alive': " + d.status().message());
    if (d->count() < 0) {
      out = KeepAlive{KeepAlive::Mode::forever, {}};
      return std::nullopt;
    }
    ns = d->count();
  } else {
    return wrong_type("keep_alive", "a duration string (\"5m\") or a number of seconds", value);
  }
  if (ns == 0)
    out = KeepAlive{KeepAlive::Mode::unload_now, {}};
  else
    out = KeepAlive{KeepAlive::Mode::for_duration, std::chrono::nanoseconds(ns)};
  return std::nullopt;
}

std::string ollama_full_name(std::string_view name) {
  const size_t slash = name.rfind('/');
  const size_t colon = name.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) return std::string(name);
  return std::string(name) + ":latest";
}

bool ollama_name_matches(std::string_view requested, std::string_view candidate) {
  if (requested.empty()) return false;
  const std::string a = ollama_full_name(requested);
  const std::string b = ollama_full_name(candidate);
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<OllamaError> parse_ollama_request(const json& body, OllamaEndpoint endpoint, OllamaRequest& out) {
  out = OllamaRequest{};
  out.endpoint = endpoint;
  CompletionRequest& c = out.completion;
  c.endpoint = endpoint == OllamaEndpoint::chat ? Endpoint::chat : Endpoint::completions;
  if (!body.is_object()) return wrong_type("(body)", "a JSON object", body);

  // Ollama's defaults (docs/modelfile.md "Valid Parameters and Values").
  c.sampling.temperature = 0.8f;
  c.sampling.top_k = 40;
  c.sampling.top_p = 0.9f;
  c.sampling.min_p = 0.0f;
  c.sampling.repeat_penalty = 1.1f;
  c.sampling.penalty_last_n = 64;

  auto model = body.find("model");
  if (model == body.end() || model->is_null()) return ollama_bad_request("model is required");
  if (!model->is_string()) return wrong_type("model", "a string", *model);
  c.model = model->get<std::string>();
  if (c.model.empty()) return ollama_bad_request("model is required");

  if (endpoint == OllamaEndpoint::generate) {
    if (auto e = read_string(body, "prompt", c.prompt)) return e;
    if (auto e = read_string(body, "system", out.system)) return e;
    if (auto e = read_bool(body, "raw", out.raw)) return e;
    std::string text;
    if (auto e = read_string(body, "template", text)) return e;
    if (!text.empty()) return unsupported("template", "the model's own chat template is used");
    text.clear();
    if (auto e = read_string(body, "suffix", text)) return e;
    if (!text.empty()) return unsupported("suffix", "fill-in-the-middle");
    if (auto it = body.find("images"); it != body.end() && !it->is_null()) {
      if (!it->is_array()) return wrong_type("images", "an array", *it);
      if (!it->empty()) return unsupported("images", "images need a vision model");
    }
    if (auto it = body.find("context"); it != body.end() && !it->is_null()) {
      if (!it->is_array()) return wrong_type("context", "an array of token ids", *it);
      for (size_t i = 0; i < it->size(); ++i) {
        int64_t id = 0;
        if (auto e = read_int((*it)[i], fmt::format("context[{}]", i), id)) return e;
        if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
          return ollama_bad_request(fmt::format("'context[{}]' is not a token id: {}", i, id));
        }
        out.context.push_back(static_cast<int32_t>(id));
      }
    }
    out.load_only = c.prompt.empty() && out.context.empty();
  } else {
    if (auto e = parse_chat_messages(body, out)) return e;
    if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
      if (!it->is_array()) return wrong_type("tools", "an array", *it);
      if (!it->empty()) return unsupported("tools", "tool calling");
    }
    out.load_only = c.messages.empty();
  }

  if (auto it = body.find("format"); it != body.end() && !it->is_null()) {
    if (!(it->is_string() && it->get_ref<const std::string&>().empty())) {
      return unsupported("format", "structured output (\"json\" or a JSON schema)");
    }
  }
  if (auto it = body.find("think"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean() && !it->is_string()) return wrong_type("think", "a boolean", *it);
    if (!(it->is_boolean() && !it->get<bool>())) return unsupported("think", "separate thinking output");
  }
  if (auto e = read_bool(body, "stream", out.stream)) return e;
  c.stream = out.stream;
  if (auto it = body.find("keep_alive"); it != body.end()) {
    if (auto e = parse_keep_alive(*it, out.keep_alive)) return e;
  }
  if (auto it = body.find("options"); it != body.end()) {
    if (auto e = parse_options(*it, out)) return e;
  }
  return std::nullopt;
}

int64_t ollama_max_tokens(const OllamaRequest& req, int64_t prompt_tokens, int64_t context_tokens) {
  const int64_t room = std::max<int64_t>(0, context_tokens - prompt_tokens);
  if (req.num_predict && *req.num_predict >= 0) return std::min(*req.num_predict, room);
  return room;
}

std::string rfc3339_utc(std::chrono::system_clock::time_point t) {
  const auto since = t.time_since_epoch();
  auto secs = std::chrono::floor<std::chrono::seconds>(since);
  int64_t frac_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(since - secs).count();
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (frac_ns > 0) {
    std::string frac = fmt::format("{:09}", frac_ns);
    while (!frac.empty() && frac.back() == '0') frac.pop_back();  // Go's RFC3339Nano drops trailing zeros
    out += "." + frac;
  }
  return out + "Z";
}

std::string ollama_chunk(OllamaEndpoint endpoint, const std::string& model, const std::string& created_at,
                         const std::string& text) {
  ordered_json j;
  j["model"] = model;
  j["created_at"] = created_at;
  if (endpoint == OllamaEndpoint::chat)
    j["message"] = {{"role", "assistant"}, {"content", text}};
  else
    j["response"] = text;
  j["done"] = false;
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string ollama_final(OllamaEndpoint endpoint, const std::string& model, const std::string& created_at,
                         const std::string& text, const std::string& done_reason, const OllamaStats& stats,
                         const std::vector<int32_t>* context) {
  ordered_json j;
  j["model"] = model;
  j["created_at"] = created_at;
  if (endpoint == OllamaEndpoint::chat)
    j["message"] = {{"role", "assistant"}, {"content", text}};
  else
    j["response"] = text;
  j["done"] = true;
  j["done_reason"] = done_reason;
  if (endpoint == OllamaEndpoint::generate && context) j["context"] = *context;
  j["total_duration"] = stats.total_ns;
  j["load_duration"] = stats.load_ns;
  j["prompt_eval_count"] = stats.prompt_eval_count;
  j["prompt_eval_duration"] = stats.prompt_eval_ns;
  j["eval_count"] = stats.eval_count;
  j["eval_duration"] = stats.eval_ns;
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace laneway::server
