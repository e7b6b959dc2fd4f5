// Methods templates call on values (str.startswith, dict.get, loop.cycle,
// ...) and the builtin global functions. Methods that would mutate a list
// or dict are refused, as in Jinja's immutable sandbox.
#include <algorithm>
#include <ctime>
#include <memory>

#include <fmt/format.h>

#include "chat/builtins.h"
#include "chat/errors.h"
#include "chat/text_util.h"

namespace laneway::chat {
namespace {

std::string str_of(const Value& v) { return value_to_string(v); }

const std::string& require_string(const Value& v, std::string_view method) {
  if (!v.is_string()) throw_runtime_error("{}() argument must be str, not {}", method, value_type_name(v));
  return v.as_string();
}

bool matches_affix(const std::string& s, const Value& affix, bool prefix, std::string_view method) {
  auto one = [&](const Value& a) {
    const std::string& x = require_string(a, method);
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_list() && affix.as_list().is_tuple) {
    return std::any_of(affix.as_list().items.begin(), affix.as_list().items.end(), one);
  }
  return one(affix);
}

// str.format: "{}", "{0}", "{name}", "{name.attr}", "{{", "}}", with an
// optional Python format spec (fmt's spec language is Python's).
std::string python_str_format(Renderer& r, const std::string& f, CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    if (c == '}') {
      if (i + 1 < f.size() && f[i + 1] == '}') ++i;
      else throw_runtime_error("single '}}' encountered in format string");
      out += '}';
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    const size_t close = f.find('}', i);
    if (close == std::string::npos) throw_runtime_error("single '{{' encountered in format string");
    std::string field = f.substr(i + 1, close - i - 1);
    i = close;
    std::string spec;
    if (const size_t colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field.resize(colon);
    }
    if (const size_t bang = field.find('!'); bang != std::string::npos) field.resize(bang);
    std::string head = field.substr(0, field.find_first_of(".["));
    Value v;
    if (head.empty()) {
      if (auto_index >= args.positional.size()) throw_runtime_error("format: replacement index {} out of range", auto_index);
      v = args.positional[auto_index++];
    } else if (std::all_of(head.begin(), head.end(), [](char d) { return d >= '0' && d <= '9'; })) {
      const size_t idx = head.size() < 9 ? std::stoul(head) : SIZE_MAX;
      if (idx >= args.positional.size()) throw_runtime_error("format: replacement index {} out of range", head);
      v = args.positional[idx];
    } else {
      bool found = false;
      for (auto& [k, val] : args.keyword) {
        if (k == head) {
          v = val;
          found = true;
        }
      }
      if (!found) throw_runtime_error("format: missing key '{}'", head);
    }
    if (head.size() < field.size()) {
      // .attr parts
      size_t p = head.size();
      while (p < field.size() && field[p] == '.') {
        const size_t q = field.find('.', p + 1);
        v = r.get_attr(v, field.substr(p + 1, q == std::string::npos ? std::string::npos : q - p - 1));
        p = q == std::string::npos ? field.size() : q;
      }
    }
    // Widths and precisions come from the template: keep them sane before
    // fmt allocates for them.
    for (size_t p = 0; p < spec.size();) {
      if (spec[p] < '0' || spec[p] > '9') { ++p; continue; }
      size_t q = p;
      while (q < spec.size() && spec[q] >= '0' && spec[q] <= '9') ++q;
      if (q - p > 5) throw_runtime_error("format: width or precision in '{}' is too large", spec);
      p = q;
    }
    if (spec.empty()) {
      append_value_string(out, v);
    } else {
      try {
        const std::string fs = "{:" + spec + "}";
        if (v.is_int() || v.is_bool()) out += fmt::format(fmt::runtime(fs), v.as_int());
        else if (v.is_float()) out += fmt::format(fmt::runtime(fs), v.as_double());
        else out += fmt::format(fmt::runtime(fs), str_of(v));
      } catch (const fmt::format_error& e) {
        throw_runtime_error("format: bad format spec '{}': {}", spec, e.what());
      }
    }
    r.check_string_size(out.size());
  }
  return out;
}

std::optional<Value> string_method(Renderer& r, const std::string& s, std::string_view name, CallArgs& args) {
  if (name == "startswith" || name == "endswith") {
    BoundArgs a(name, args, {"prefix", "start", "end"});
    std::string sub = s;
    if (a.has(1) || a.has(2)) {
      const Value start = a.get_or(1, Value::none());
      const Value end = a.get_or(2, Value::none());
      sub = slice_value(Value(s), &start, &end, nullptr).as_string();
    }
    return Value(matches_affix(sub, a.require(0), name == "startswith", name));
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    BoundArgs a(name, args, {"chars"});
    std::string chars;
    const bool custom = a.has(0) && !a.get(0)->is_none();
    if (custom) chars = require_string(*a.get(0), name);
    return Value(std::string(text::strip(s, custom ? &chars : nullptr, name != "rstrip", name != "lstrip")));
  }
  if (name == "split" || name == "rsplit") {
    BoundArgs a(name, args, {"sep", "maxsplit"});
    std::string sep;
    const bool custom = a.has(0) && !a.get(0)->is_none();
    if (custom) {
      sep = require_string(*a.get(0), name);
      if (sep.empty()) throw_runtime_error("empty separator");
    }
    int64_t maxsplit = a.int_or(1, -1);
    std::vector<std::string> parts;
    if (name == "rsplit" && maxsplit >= 0 && custom) {
      // Split from the right: find the last `maxsplit` separators.
      std::vector<std::string> rev;
      size_t end = s.size();
      while (maxsplit-- > 0) {
        if (end < sep.size()) break;
        const size_t hit = s.rfind(sep, end - sep.size());
        if (hit == std::string::npos) break;
        rev.push_back(s.substr(hit + sep.size(), end - hit - sep.size()));
        end = hit;
      }
      parts.push_back(s.substr(0, end));
      parts.insert(parts.end(), rev.rbegin(), rev.rend());
    } else {
      parts = text::split(s, custom ? &sep : nullptr, maxsplit);
    }
    r.check_list_size(parts.size());
    std::vector<Value> out;
    out.reserve(parts.size());
    for (auto& p : parts) out.emplace_back(std::move(p));
    return Value::list(std::move(out));
  }
  if (name == "splitlines") {
    BoundArgs a(name, args, {});
    std::vector<Value> out;
    for (std::string_view line : text::splitlines(s)) out.emplace_back(line);
    return Value::list(std::move(out));
  }
  if (name == "upper") { BoundArgs a(name, args, {}); return Value(text::upper(s)); }
  if (name == "lower" || name == "casefold") { BoundArgs a(name, args, {}); return Value(text::lower(s)); }
  if (name == "title") { BoundArgs a(name, args, {}); return Value(text::py_title(s)); }
  if (name == "capitalize") { BoundArgs a(name, args, {}); return Value(text::capitalize(s)); }
  if (name == "replace") {
    BoundArgs a(name, args, {"old", "new", "count"});
    std::string out = text::replace(s, require_string(a.require(0), name), require_string(a.require(1), name),
                                    a.int_or(2, -1), r.config().limits.max_output_bytes);
    r.check_string_size(out.size());
    return Value(std::move(out));
  }
  if (name == "format") return Value(python_str_format(r, s, args));
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    BoundArgs a(name, args, {"sub"});
    const std::string& sub = require_string(a.require(0), name);
    if (name == "count") {
      if (sub.empty()) return Value(static_cast<int64_t>(text::code_point_count(s) + 1));
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value(n);
    }
    const size_t hit = (name == "find" || name == "index") ? s.find(sub) : s.rfind(sub);
    if (hit == std::string::npos) {
      if (name == "index" || name == "rindex") throw_runtime_error("substring not found");
      return Value(int64_t{-1});
    }
    return Value(static_cast<int64_t>(text::code_point_count(std::string_view(s).substr(0, hit))));
  }
  if (name == "join") {
    BoundArgs a(name, args, {"iterable"});
    std::string out;
    bool first = true;
    for (const Value& item : r.iterate(a.require(0))) {
      if (!first) out += s;
      first = false;
      out += require_string(item, "join");
      r.check_string_size(out.size());
    }
    return Value(std::move(out));
  }
  auto all_cp = [&](auto pred) {
    if (s.empty()) return false;
    for (size_t pos = 0; pos < s.size();) {
      const text::CodePoint c = text::decode(s, pos);
      if (!pred(c.cp)) return false;
      pos += c.len;
    }
    return true;
  };
  if (name == "isdigit" || name == "isnumeric" || name == "isdecimal") {
    BoundArgs a(name, args, {});
    return Value(all_cp([](uint32_t cp) { return cp >= '0' && cp <= '9'; }));
  }
  if (name == "isalpha") { BoundArgs a(name, args, {}); return Value(all_cp(text::is_alpha)); }
  if (name == "isalnum") {
    BoundArgs a(name, args, {});
    return Value(all_cp([](uint32_t cp) { return text::is_alpha(cp) || (cp >= '0' && cp <= '9'); }));
  }
  if (name == "isspace") { BoundArgs a(name, args, {}); return Value(all_cp(text::is_space)); }
  if (name == "isupper" || name == "islower") {
    BoundArgs a(name, args, {});
    bool cased = false;
    for (size_t pos = 0; pos < s.size();) {
      const text::CodePoint c = text::decode(s, pos);
      if (name == "isupper" ? text::is_lower_cp(c.cp) : text::is_upper_cp(c.cp)) return Value(false);
      if (name == "isupper" ? text::is_upper_cp(c.cp) : text::is_lower_cp(c.cp)) cased = true;
      pos += c.len;
    }
    return Value(cased);
  }
  if (name == "center" || name == "ljust" || name == "rjust" || name == "zfill") {
    BoundArgs a(name, args, {"width", "fillchar"});
    const int64_t width = a.int_or(0, 0);
    const auto len = static_cast<int64_t>(text::code_point_count(s));
    if (width <= len) return Value(s);
    r.check_string_size(static_cast<size_t>(width));
    const std::string fill = name == "zfill" ? "0" : a.string_or(1, " ");
    const int64_t total = width - len;
    int64_t left = 0;
    if (name == "rjust" || name == "zfill") left = total;
    else if (name == "center") left = total / 2 + (total & width & 1);
    r.check_string_size(static_cast<size_t>(total) * fill.size() + s.size());
    std::string out;
    for (int64_t i = 0; i < left; ++i) out += fill;
    if (name == "zfill" && !s.empty() && (s[0] == '-' || s[0] == '+')) {
      out = s.substr(0, 1) + out + s.substr(1);
    } else {
      out += s;
    }
    for (int64_t i = left; i < total; ++i) out += fill;
    return Value(std::move(out));
  }
  if (name == "partition" || name == "rpartition") {
    BoundArgs a(name, args, {"sep"});
    const std::string& sep = require_string(a.require(0), name);
    if (sep.empty()) throw_runtime_error("empty separator");
    const size_t hit = name == "partition" ? s.find(sep) : s.rfind(sep);
    if (hit == std::string::npos) {
      return name == "partition" ? Value::list({Value(s), Value(""), Value("")}, true)
                                 : Value::list({Value(""), Value(""), Value(s)}, true);
    }
    return Value::list({Value(s.substr(0, hit)), Value(sep), Value(s.substr(hit + sep.size()))}, true);
  }
  if (name == "removeprefix" || name == "removesuffix") {
    BoundArgs a(name, args, {"affix"});
    const std::string& x = require_string(a.require(0), name);
    if (name == "removeprefix" && s.compare(0, x.size(), x) == 0) return Value(s.substr(x.size()));
    if (name == "removesuffix" && x.size() <= s.size() && !x.empty() && s.compare(s.size() - x.size(), x.size(), x) == 0) {
      return Value(s.substr(0, s.size() - x.size()));
    }
    return Value(s);
  }
  return std::nullopt;
}

constexpr std::string_view kStringMethods[] = {
    "startswith", "endswith", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "upper",
    "lower", "casefold", "title", "capitalize", "replace", "format", "find", "rfind", "index", "rindex",
    "count", "join", "isdigit", "isnumeric", "isdecimal", "isalpha", "isalnum", "isspace", "isupper",
    "islower", "center", "ljust", "rjust", "zfill", "partition", "rpartition", "removeprefix", "removesuffix",
};
constexpr std::string_view kDictMethods[] = {"items", "keys", "values", "get", "copy"};
constexpr std::string_view kListMethods[] = {"index", "count", "copy"};
constexpr std::string_view kMutators[] = {"append", "extend", "insert", "pop", "remove", "clear", "update",
                                          "setdefault", "popitem", "sort", "reverse"};

template <size_t N>
bool in_list(const std::string_view (&list)[N], std::string_view name) {
  return std::find(std::begin(list), std::end(list), name) != std::end(list);
}

std::optional<Value> dict_method(const ValueDict& d, const Value& self, std::string_view name, CallArgs& args) {
  if (name == "items") {
    BoundArgs a(name, args, {});
    std::vector<Value> out;
    out.reserve(d.entries.size());
    for (const auto& [k, v] : d.entries) out.push_back(Value::list({k, v}, true));
    return Value::list(std::move(out));
  }
  if (name == "keys" || name == "values") {
    BoundArgs a(name, args, {});
    std::vector<Value> out;
    out.reserve(d.entries.size());
    for (const auto& [k, v] : d.entries) out.push_back(name == "keys" ? k : v);
    return Value::list(std::move(out));
  }
  if (name == "get") {
    BoundArgs a(name, args, {"key", "default"});
    if (const Value* v = d.find(a.require(0))) return *v;
    return a.get(1) ? *a.get(1) : Value::none();
  }
  if (name == "copy") {
    BoundArgs a(name, args, {});
    return self;
  }
  return std::nullopt;
}

std::optional<Value> list_method(const ValueList& l, const Value& self, std::string_view name, CallArgs& args) {
  if (name == "index" || name == "count") {
    BoundArgs a(name, args, {"value"});
    const Value& x = a.require(0);
    int64_t n = 0;
    for (size_t i = 0; i < l.items.size(); ++i) {
      if (!value_equals(l.items[i], x)) continue;
      if (name == "index") return Value(static_cast<int64_t>(i));
      ++n;
    }
    if (name == "index") throw_runtime_error("{} is not in list", value_repr(x));
    return Value(n);
  }
  if (name == "copy") {
    BoundArgs a(name, args, {});
    return self;
  }
  return std::nullopt;
}

std::optional<Value> loop_method(Renderer& r, LoopState& l, std::string_view name, CallArgs& args) {
  if (name == "cycle") {
    if (args.positional.empty()) throw_runtime_error("no items for cycling given");
    return args.positional[static_cast<size_t>(l.index0) % args.positional.size()];
  }
  if (name == "changed") {
    (void)r;
    Value now = Value::list(args.positional, true);
    if (l.last_changed && value_equals(*l.last_changed, now)) return Value(false);
    l.last_changed = std::make_shared<Value>(std::move(now));
    return Value(true);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- globals

Value g_range(Renderer& r, CallArgs& args) {
  if (!args.keyword.empty()) throw_runtime_error("range() takes no keyword arguments");
  int64_t start = 0, stop = 0, step = 1;
  auto arg = [&](size_t i) {
    const Value& v = args.positional[i];
    if (!v.is_int() && !v.is_bool()) throw_runtime_error("range() arguments must be integers, not {}", value_type_name(v));
    return v.as_int();
  };
  switch (args.positional.size()) {
    case 1: stop = arg(0); break;
    case 2: start = arg(0); stop = arg(1); break;
    case 3: start = arg(0); stop = arg(1); step = arg(2); break;
    default: throw_runtime_error("range() expects 1 to 3 arguments, got {}", args.positional.size());
  }
  if (step == 0) throw_runtime_error("range() arg 3 must not be zero");
  std::vector<Value> out;
  // Count first (in 128-bit to stay clear of overflow), then check the size.
  const __int128 span = step > 0 ? static_cast<__int128>(stop) - start : static_cast<__int128>(start) - stop;
  const __int128 mag = step > 0 ? step : -static_cast<__int128>(step);
  const __int128 count = span <= 0 ? 0 : (span + mag - 1) / mag;
  if (count > static_cast<__int128>(r.config().limits.max_list_items)) r.check_list_size(SIZE_MAX);
  out.reserve(static_cast<size_t>(count));
  for (__int128 i = 0; i < count; ++i) out.emplace_back(static_cast<int64_t>(start + i * step));
  return Value::list(std::move(out));
}

Value g_namespace(Renderer& r, CallArgs& args) {
  auto ns = r.new_namespace();
  for (const Value& v : args.positional) {
    if (!v.is_dict()) throw_runtime_error("namespace() positional argument must be a mapping");
    for (const auto& [k, val] : v.as_dict().entries) ns->attrs.set(k, val);
  }
  for (auto& [k, v] : args.keyword) ns->attrs.set(Value(k), v);
  return Value(ns);
}

Value g_dict(Renderer& r, CallArgs& args) {
  ValueDict d;
  for (const Value& v : args.positional) {
    if (v.is_dict()) {
      for (const auto& [k, val] : v.as_dict().entries) d.set(k, val);
    } else {
      for (const Value& pair : r.iterate(v)) {
        std::vector<Value> kv = r.iterate(pair);
        if (kv.size() != 2) throw_runtime_error("dict(): sequence elements must have length 2");
        d.set(kv[0], kv[1]);
      }
    }
  }
  for (auto& [k, v] : args.keyword) d.set(Value(k), v);
  return Value::dict(std::move(d));
}

Value g_raise_exception(Renderer&, CallArgs& args) {
  const std::string msg = args.positional.empty() ? std::string("raise_exception() called") : str_of(args.positional[0]);
  throw_template_error(TemplateErrorKind::raised, msg);
}

int days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

Value g_strftime_now(Renderer& r, CallArgs& args) {
  BoundArgs a("strftime_now", args, {"format"});
  const std::string& f = require_string(a.require(0), "strftime_now");
  if (!r.config().now) throw_runtime_error("strftime_now(): no date was given to the renderer");
  const ChatDate& d = *r.config().now;
  std::tm tm{};
  tm.tm_year = d.year - 1900;
  tm.tm_mon = d.month - 1;
  tm.tm_mday = d.day;
  tm.tm_hour = d.hour;
  tm.tm_min = d.minute;
  tm.tm_sec = d.second;
  const int days = days_from_civil(d.year, d.month, d.day);
  tm.tm_wday = ((days % 7) + 11) % 7;  // 1970-01-01 was a Thursday
  tm.tm_yday = days - days_from_civil(d.year, 1, 1);
  tm.tm_isdst = 0;
  if (f.empty()) return Value(std::string());
  if (f.size() > 4096) throw_runtime_error("strftime_now(): format too long");
  // A trailing space keeps a legitimately empty result apart from "buffer
  // too small" (both make strftime return 0).
  const std::string with_marker = f + " ";
  std::string buf(256 + f.size() * 16, '\0');
  const size_t n = std::strftime(buf.data(), buf.size(), with_marker.c_str(), &tm);
  if (n == 0) throw_runtime_error("strftime_now(): result too long");
  buf.resize(n - 1);
  return Value(std::move(buf));
}

Value g_joiner(Renderer&, CallArgs& args) {
  BoundArgs a("joiner", args, {"sep"});
  const std::string sep = a.string_or(0, ", ");
  auto used = std::make_shared<bool>(false);
  auto c = std::make_shared<Callable>();
  c->name = "joiner";
  c->fn = [sep, used](Renderer&, CallArgs&) {
    if (!*used) {
      *used = true;
      return Value(std::string());
    }
    return Value(sep);
  };
  return Value(std::shared_ptr<const Callable>(std::move(c)));
}

Value make_builtin(std::string name, Value (*fn)(Renderer&, CallArgs&)) {
  auto c = std::make_shared<Callable>();
  c->name = std::move(name);
  c->fn = fn;
  return Value(std::shared_ptr<const Callable>(std::move(c)));
}

}  // namespace

bool has_method(const Value& obj, std::string_view name) {
  switch (obj.kind()) {
    case ValueKind::string: return in_list(kStringMethods, name);
    case ValueKind::dict: return in_list(kDictMethods, name) || in_list(kMutators, name);
    case ValueKind::list: return in_list(kListMethods, name) || in_list(kMutators, name);
    case ValueKind::loop: return name == "cycle" || name == "changed";
    default: return false;
  }
}

std::optional<Value> call_method(Renderer& r, const Value& obj, std::string_view name, CallArgs& args) {
  if ((obj.is_list() || obj.is_dict()) && in_list(kMutators, name)) {
    throw_runtime_error("access to attribute '{}' of '{}' object is unsafe (templates cannot modify lists or dicts)",
                        name, value_type_name(obj));
  }
  switch (obj.kind()) {
    case ValueKind::string: return string_method(r, obj.as_string(), name, args);
    case ValueKind::dict: return dict_method(obj.as_dict(), obj, name, args);
    case ValueKind::list: return list_method(obj.as_list(), obj, name, args);
    case ValueKind::loop: return loop_method(r, obj.as_loop(), name, args);
    default: return std::nullopt;
  }
}

Value bind_method(const Value& obj, const std::string& name) {
  auto c = std::make_shared<Callable>();
  c->name = name;
  c->fn = [obj, name](Renderer& r, CallArgs& args) {
    std::optional<Value> v = call_method(r, obj, name, args);
    if (!v) throw_runtime_error("'{}' object has no attribute '{}'", value_type_name(obj), name);
    return std::move(*v);
  };
  return Value(std::shared_ptr<const Callable>(std::move(c)));
}

const Value* find_global(std::string_view name) {
  static const std::vector<std::pair<std::string_view, Value>> globals = {
      {"range", make_builtin("range", g_range)},
      {"namespace", make_builtin("namespace", g_namespace)},
      {"dict", make_builtin("dict", g_dict)},
      {"raise_exception", make_builtin("raise_exception", g_raise_exception)},
      {"strftime_now", make_builtin("strftime_now", g_strftime_now)},
      {"joiner", make_builtin("joiner", g_joiner)},
  };
  for (const auto& [k, v] : globals) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace laneway::chat
