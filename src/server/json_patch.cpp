#include "server/json_patch.h"

#include <nlohmann/json.hpp>

namespace laneway::server {

namespace {

struct Scanner {
  std::string_view s;
  size_t i = 0;

  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  // At a '"': moves past the closing quote.
  bool string() {
    if (i >= s.size() || s[i] != '"') return false;
    for (++i; i < s.size(); ++i) {
      if (s[i] == '\\') ++i;
      else if (s[i] == '"') {
        ++i;
        return true;
      }
    }
    return false;
  }
  // Moves past one value of any kind.
  bool value() {
    if (i >= s.size()) return false;
    if (s[i] == '"') return string();
    if (s[i] == '{' || s[i] == '[') {
      int depth = 0;
      while (i < s.size()) {
        const char c = s[i];
        if (c == '"') {
          if (!string()) return false;
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') {
          if (--depth == 0) {
            ++i;
            return true;
          }
        }
        ++i;
      }
      return false;
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
           s[i] != '\r' && s[i] != '\t') {
      ++i;
    }
    return true;
  }
};

// Whether a member name as written (with its quotes) is "model". Escapes
// count: a client writing "mod\u0065l" names the same member for every JSON
// parser upstream (the last duplicate wins), so it must be rewritten too.
bool is_model_key(std::string_view quoted_key) {
  if (quoted_key == "\"model\"") return true;
  if (quoted_key.find('\\') == std::string_view::npos) return false;
  const auto key = nlohmann::json::parse(quoted_key, nullptr, /*allow_exceptions=*/false);
  return key.is_string() && key.get_ref<const std::string&>() == "model";
}

}  // namespace

std::optional<std::string> replace_json_model(std::string_view body, std::string_view model) {
  const std::string quoted = nlohmann::json(std::string(model)).dump();
  Scanner sc{body};
  // A UTF-8 byte order mark is allowed before the object, as the JSON parser
  // that validated the body allows it; it stays in place.
  if (body.substr(0, 3) == "\xEF\xBB\xBF") sc.i = 3;
  sc.ws();
  if (sc.i >= body.size() || body[sc.i] != '{') return std::nullopt;
  const size_t open = ++sc.i;
  std::string out;
  size_t copied = 0;  // body[0, copied) is in `out`
  bool found = false, first = true;
  for (;;) {
    sc.ws();
    if (sc.i >= body.size()) return std::nullopt;
    if (body[sc.i] == '}') break;
    if (!first) {
      if (body[sc.i] != ',') return std::nullopt;
      ++sc.i;
      sc.ws();
    }
    first = false;
    const size_t key_start = sc.i;
    if (!sc.string()) return std::nullopt;
    const std::string_view key = body.substr(key_start, sc.i - key_start);
    sc.ws();
    if (sc.i >= body.size() || body[sc.i] != ':') return std::nullopt;
    ++sc.i;
    sc.ws();
    const size_t value_start = sc.i;
    if (!sc.value()) return std::nullopt;
    if (is_model_key(key)) {
      out.append(body.substr(copied, value_start - copied)).append(quoted);
      copied = sc.i;
      found = true;
    }
  }
  out.append(body.substr(copied));
  if (!found) {
    const bool empty = first;
    out = std::string(body.substr(0, open)) + "\"model\":" + quoted + (empty ? "" : ",") + std::string(body.substr(open));
  }
  return out;
}

}  // namespace laneway::server
