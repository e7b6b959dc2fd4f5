// Jinja's builtin filters and tests, written from the Jinja documentation
// (https://jinja.palletsprojects.com/en/stable/templates/#builtin-filters).
// `tojson` follows the reference environment (json.dumps with
// ensure_ascii=False, keys unsorted); autoescaping is off, so `safe` is the
// identity and `escape` returns plain escaped text.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "chat/builtins.h"
#include "chat/errors.h"
#include "chat/text_util.h"

namespace laneway::chat {

// ------------------------------------------------------------- BoundArgs

BoundArgs::BoundArgs(std::string_view fn, CallArgs& args, std::initializer_list<std::string_view> names)
    : fn_(fn), names_(names), slots_(names.size(), nullptr) {
  if (args.positional.size() > names_.size()) {
    throw_runtime_error("{}() takes at most {} argument(s) ({} given)", fn_, names_.size(), args.positional.size());
  }
  for (size_t i = 0; i < args.positional.size(); ++i) slots_[i] = &args.positional[i];
  for (auto& [key, value] : args.keyword) {
    size_t i = 0;
    while (i < names_.size() && names_[i] != key) ++i;
    if (i == names_.size()) throw_runtime_error("{}() got an unexpected keyword argument '{}'", fn_, key);
    if (slots_[i] != nullptr) throw_runtime_error("{}() got multiple values for argument '{}'", fn_, key);
    slots_[i] = &value;
  }
}

const Value& BoundArgs::require(size_t i) const {
  if (!has(i)) throw_runtime_error("{}() missing required argument '{}'", fn_, names_[i]);
  return *get(i);
}

int64_t BoundArgs::int_or(size_t i, int64_t fallback) const {
  if (!has(i) || get(i)->is_none()) return fallback;
  if (!get(i)->is_int() && !get(i)->is_bool()) {
    throw_runtime_error("{}(): '{}' must be an integer, not {}", fn_, names_[i], value_type_name(*get(i)));
  }
  return get(i)->as_int();
}

std::string BoundArgs::string_or(size_t i, std::string fallback) const {
  if (!has(i)) return fallback;
  return value_to_string(*get(i));
}

bool BoundArgs::bool_or(size_t i, bool fallback) const { return has(i) ? value_truthy(*get(i)) : fallback; }

namespace {

using FilterFn = Value (*)(Renderer&, Value, CallArgs&);
using TestFn = bool (*)(Renderer&, const Value&, CallArgs&);

std::string str_of(const Value& v) { return value_to_string(v); }

// Attribute getter for attribute= arguments: "a.b.0" walks item-first.
Value get_path(Renderer& r, const Value& obj, const std::string& path) {
  Value cur = obj;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (cur.is_undefined()) return cur;
    cur = numeric && part.size() < 18 ? r.get_item(cur, Value(static_cast<int64_t>(std::stoll(part))))
                                      : r.get_item(cur, Value(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

Value lowered_for_compare(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(text::lower(v.as_string()));
  return v;
}

std::vector<Value> sorted_values(Renderer& r, std::vector<Value> items, bool reverse, bool case_sensitive,
                                 const std::string* attribute) {
  std::vector<std::pair<Value, size_t>> keyed;
  keyed.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    Value key = attribute ? get_path(r, items[i], *attribute) : items[i];
    keyed.emplace_back(lowered_for_compare(key, case_sensitive), i);
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    return reverse ? value_less(b.first, a.first) : value_less(a.first, b.first);
  });
  std::vector<Value> out;
  out.reserve(items.size());
  for (const auto& [key, i] : keyed) out.push_back(std::move(items[i]));
  return out;
}

// printf-style formatting (`"%s" % x` and the `format` filter).
std::string printf_format(Renderer& r, const std::string& fmt_str, const std::vector<Value>& args, const Value* mapping) {
  std::string out;
  size_t next_arg = 0;
  for (size_t i = 0; i < fmt_str.size(); ++i) {
    const char c = fmt_str[i];
    if (c != '%') {
      out += c;
      continue;
    }
    if (++i >= fmt_str.size()) throw_runtime_error("incomplete format");
    if (fmt_str[i] == '%') {
      out += '%';
      continue;
    }
    const Value* arg = nullptr;
    if (fmt_str[i] == '(') {
      const size_t close = fmt_str.find(')', i);
      if (close == std::string::npos || mapping == nullptr || !mapping->is_dict()) throw_runtime_error("format requires a mapping");
      arg = mapping->as_dict().find(std::string_view(fmt_str).substr(i + 1, close - i - 1));
      if (arg == nullptr) throw_runtime_error("format: missing key '{}'", fmt_str.substr(i + 1, close - i - 1));
      i = close + 1;
    }
    std::string flags;
    while (i < fmt_str.size() && std::string_view("-+ 0#").find(fmt_str[i]) != std::string_view::npos) flags += fmt_str[i++];
    int width = 0;
    while (i < fmt_str.size() && fmt_str[i] >= '0' && fmt_str[i] <= '9' && width < 10000) width = width * 10 + (fmt_str[i++] - '0');
    int precision = -1;
    if (i < fmt_str.size() && fmt_str[i] == '.') {
      ++i;
      precision = 0;
      while (i < fmt_str.size() && fmt_str[i] >= '0' && fmt_str[i] <= '9' && precision < 1000) precision = precision * 10 + (fmt_str[i++] - '0');
    }
    if (i >= fmt_str.size()) throw_runtime_error("incomplete format");
    const char conv = fmt_str[i];
    if (arg == nullptr) {
      if (next_arg >= args.size()) throw_runtime_error("not enough arguments for format string");
      arg = &args[next_arg++];
    }
    std::string piece;
    switch (conv) {
      case 's': piece = str_of(*arg); if (precision >= 0) piece = piece.substr(0, static_cast<size_t>(precision)); break;
      case 'r': piece = value_repr(*arg); break;
      case 'd': case 'i': case 'u':
        if (!arg->is_number()) throw_runtime_error("%{} format: a number is required, not {}", conv, value_type_name(*arg));
        piece = fmt::format("{}", arg->is_float() ? static_cast<int64_t>(std::trunc(arg->as_double())) : arg->as_int());
        break;
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
        if (!arg->is_number()) throw_runtime_error("%{} format: a number is required, not {}", conv, value_type_name(*arg));
        const std::string spec = fmt::format("{{:.{}{}}}", precision < 0 ? 6 : precision, conv);
        piece = fmt::format(fmt::runtime(spec), arg->as_double());
        break;
      }
      case 'x': case 'X': case 'o':
        if (!arg->is_int() && !arg->is_bool()) throw_runtime_error("%{} format: an integer is required", conv);
        piece = fmt::format(fmt::runtime(conv == 'o' ? "{:o}" : (conv == 'x' ? "{:x}" : "{:X}")), arg->as_int());
        break;
      case 'c': piece = str_of(*arg).substr(0, 1); break;
      default: throw_runtime_error("unsupported format character '{}'", conv);
    }
    if (static_cast<int>(piece.size()) < width) {
      const size_t pad = static_cast<size_t>(width) - piece.size();
      if (flags.find('-') != std::string::npos) piece.append(pad, ' ');
      else if (flags.find('0') != std::string::npos && conv != 's') piece.insert(piece[0] == '-' ? 1 : 0, pad, '0');
      else piece.insert(0, pad, ' ');
    }
    out += piece;
    r.check_string_size(out.size());
  }
  if (mapping == nullptr && next_arg < args.size()) throw_runtime_error("not all arguments converted during string formatting");
  return out;
}

// ---------------------------------------------------------------- filters

Value f_abs(Renderer&, Value v, CallArgs&) {
  if (v.is_float()) return Value(std::fabs(v.as_double()));
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == INT64_MIN) throw_runtime_error("integer overflow");
    return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
  }
  throw_runtime_error("bad operand type for abs(): '{}'", value_type_name(v));
}

Value f_attr(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("attr", args, {"name"});
  // Attributes only: a dict's keys are items, not attributes.
  const std::string name = str_of(a.require(0));
  if (v.is_dict()) return has_method(v, name) ? bind_method(v, name) : Value::undefined(name);
  return r.get_attr(v, name);
}

Value f_batch(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("batch", args, {"linecount", "fill_with"});
  const int64_t n = a.int_or(0, 1);
  if (n <= 0) throw_runtime_error("batch(): linecount must be positive");
  r.check_list_size(static_cast<size_t>(n));
  std::vector<Value> rows;
  std::vector<Value> row;
  for (Value& item : r.iterate(v)) {
    row.push_back(std::move(item));
    if (static_cast<int64_t>(row.size()) == n) rows.push_back(Value::list(std::exchange(row, {})));
  }
  if (!row.empty()) {
    if (a.has(1)) {
      while (static_cast<int64_t>(row.size()) < n) row.push_back(*a.get(1));
    }
    rows.push_back(Value::list(std::move(row)));
  }
  r.check_list_size(rows.size());
  return Value::list(std::move(rows));
}

Value f_capitalize(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("capitalize", args, {});
  return Value(text::capitalize(str_of(v)));
}

Value f_center(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("center", args, {"width"});
  const std::string s = str_of(v);
  const int64_t width = a.int_or(0, 80);
  const auto len = static_cast<int64_t>(text::code_point_count(s));
  if (width <= len) return Value(s);
  r.check_string_size(static_cast<size_t>(width) + s.size());
  const int64_t total = width - len;
  // Python puts the odd extra space on the right... unless both are odd.
  const int64_t left = total / 2 + (total & width & 1);
  return Value(std::string(static_cast<size_t>(left), ' ') + s + std::string(static_cast<size_t>(total - left), ' '));
}

Value f_count(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("length", args, {});
  return Value(value_length(v));
}

Value f_default(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("default", args, {"default_value", "boolean"});
  const bool boolean = a.bool_or(1, false);
  if (v.is_undefined() || (boolean && !value_truthy(v))) return a.get(0) ? *a.get(0) : Value(std::string());
  return v;
}

Value f_dictsort(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("dictsort", args, {"case_sensitive", "by", "reverse"});
  if (!v.is_dict()) throw_runtime_error("dictsort(): expected a dict, got {}", value_type_name(v));
  const bool by_value = a.string_or(1, "key") == "value";
  std::vector<Value> pairs;
  for (const auto& [k, val] : v.as_dict().entries) pairs.push_back(Value::list({k, val}, true));
  const std::string attr = by_value ? "1" : "0";
  return Value::list(sorted_values(r, std::move(pairs), a.bool_or(2, false), a.bool_or(0, false), &attr));
}

Value f_escape(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("escape", args, {});
  std::string out;
  for (char c : str_of(v)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  r.check_string_size(out.size());
  return Value(std::move(out));
}

Value f_first(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("first", args, {});
  if (v.is_list()) return v.as_list().items.empty() ? Value::undefined() : v.as_list().items.front();
  std::vector<Value> items = r.iterate(v);
  return items.empty() ? Value::undefined() : items.front();
}

Value f_last(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("last", args, {});
  if (v.is_list()) return v.as_list().items.empty() ? Value::undefined() : v.as_list().items.back();
  std::vector<Value> items = r.iterate(v);
  return items.empty() ? Value::undefined() : items.back();
}

std::optional<double> parse_float(const std::string& raw) {
  std::string s(text::strip(raw, nullptr, true, true));
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return d;
}

Value f_float(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("float", args, {"default"});
  if (v.is_number()) return Value(v.as_double());
  if (v.is_string()) {
    if (auto d = parse_float(v.as_string())) return Value(*d);
  }
  return a.get_or(0, Value(0.0));
}

Value f_format(Renderer& r, Value v, CallArgs& args) {
  if (!args.keyword.empty()) {
    ValueDict d;
    for (auto& [k, val] : args.keyword) d.set(Value(k), val);
    const Value mapping = Value::dict(std::move(d));
    return Value(printf_format(r, str_of(v), {}, &mapping));
  }
  if (args.positional.size() == 1 && args.positional[0].is_dict()) {
    return Value(printf_format(r, str_of(v), {}, &args.positional[0]));
  }
  return Value(printf_format(r, str_of(v), args.positional, nullptr));
}

Value f_groupby(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("groupby", args, {"attribute", "default", "case_sensitive"});
  const std::string attr = str_of(a.require(0));
  std::vector<Value> items = sorted_values(r, r.iterate(v), false, a.bool_or(2, false), &attr);
  std::vector<Value> groups;
  std::vector<Value> members;
  Value current;
  bool have = false;
  for (Value& item : items) {
    Value key = get_path(r, item, attr);
    if (key.is_undefined() && a.has(1)) key = *a.get(1);
    if (have && !value_equals(lowered_for_compare(key, a.bool_or(2, false)), lowered_for_compare(current, a.bool_or(2, false)))) {
      groups.push_back(Value::list({current, Value::list(std::exchange(members, {}))}, true));
    }
    if (members.empty()) current = key;
    have = true;
    members.push_back(std::move(item));
  }
  if (!members.empty()) groups.push_back(Value::list({current, Value::list(std::move(members))}, true));
  return Value::list(std::move(groups));
}

Value f_indent(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("indent", args, {"width", "first", "blank"});
  std::string indentation;
  if (a.has(0) && a.get(0)->is_string()) {
    indentation = a.get(0)->as_string();
  } else {
    const int64_t width = a.int_or(0, 4);
    r.check_string_size(static_cast<size_t>(std::max<int64_t>(width, 0)));
    indentation.assign(static_cast<size_t>(std::max<int64_t>(width, 0)), ' ');
  }
  const bool first = a.bool_or(1, false);
  const bool blank = a.bool_or(2, false);
  // Lines after the first get the indentation (blank ones only with
  // blank=True); a trailing newline survives as an empty last line.
  const std::string s = str_of(v) + "\n";
  const std::vector<std::string_view> lines = text::splitlines(s);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      out += '\n';
      if (blank || !lines[i].empty()) out += indentation;
    }
    out += lines[i];
    r.check_string_size(out.size());
  }
  if (first) out = indentation + out;
  return Value(std::move(out));
}

Value f_int(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("int", args, {"default", "base"});
  const Value fallback = a.get_or(0, Value(0));
  if (v.is_int() || v.is_bool()) return Value(v.as_int());
  if (v.is_float()) {
    const double d = v.as_double();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
    return Value(static_cast<int64_t>(std::trunc(d)));
  }
  if (v.is_string()) {
    std::string s(text::strip(v.as_string(), nullptr, true, true));
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    int base = static_cast<int>(a.int_or(1, 10));
    if (base < 0 || base == 1 || base > 36) return fallback;
    if (!s.empty()) {
      errno = 0;
      char* end = nullptr;
      const long long x = std::strtoll(s.c_str(), &end, base == 0 ? 0 : base);
      if (errno == 0 && end == s.c_str() + s.size()) return Value(static_cast<int64_t>(x));
      if (auto d = parse_float(s); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) {
        return Value(static_cast<int64_t>(std::trunc(*d)));
      }
    }
  }
  return fallback;
}

Value f_items(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("items", args, {});
  if (v.is_undefined()) return Value::list({});
  if (!v.is_dict()) throw_runtime_error("items(): expected a mapping, got {}", value_type_name(v));
  std::vector<Value> out;
  for (const auto& [k, val] : v.as_dict().entries) out.push_back(Value::list({k, val}, true));
  return Value::list(std::move(out));
}

Value f_join(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("join", args, {"d", "attribute"});
  const std::string sep = a.string_or(0, "");
  std::string out;
  bool first = true;
  for (const Value& item : r.iterate(v)) {
    if (!first) out += sep;
    first = false;
    append_value_string(out, a.has(1) ? get_path(r, item, str_of(*a.get(1))) : item);
    r.check_string_size(out.size());
  }
  return Value(std::move(out));
}

Value f_list(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("list", args, {});
  if (v.is_list() && !v.as_list().is_tuple) return v;
  return Value::list(r.iterate(v));
}

Value f_lower(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("lower", args, {});
  return Value(text::lower(str_of(v)));
}

Value f_upper(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("upper", args, {});
  return Value(text::upper(str_of(v)));
}

Value f_map(Renderer& r, Value v, CallArgs& args) {
  std::vector<Value> out;
  if (!value_truthy(v)) return Value::list({});  // Jinja skips falsy input (none included)
  const Value* attribute = nullptr;
  const Value* dflt = nullptr;
  for (auto& [k, val] : args.keyword) {
    if (k == "attribute") attribute = &val;
    else if (k == "default") dflt = &val;
  }
  if (attribute != nullptr) {
    const std::string path = str_of(*attribute);
    for (const Value& item : r.iterate(v)) {
      Value got = get_path(r, item, path);
      if (got.is_undefined() && dflt != nullptr) got = *dflt;
      out.push_back(std::move(got));
    }
    return Value::list(std::move(out));
  }
  if (args.positional.empty()) throw_runtime_error("map(): expected a filter name or attribute=");
  const std::string name = str_of(args.positional[0]);
  for (const Value& item : r.iterate(v)) {
    CallArgs rest;
    rest.positional.assign(args.positional.begin() + 1, args.positional.end());
    rest.keyword = args.keyword;
    out.push_back(r.apply_filter(name, item, rest));
  }
  return Value::list(std::move(out));
}

Value min_max(Renderer& r, Value v, CallArgs& args, bool want_max) {
  BoundArgs a(want_max ? "max" : "min", args, {"case_sensitive", "attribute"});
  const std::string attr = a.string_or(1, "");
  std::vector<Value> items = sorted_values(r, r.iterate(v), false, a.bool_or(0, false), a.has(1) ? &attr : nullptr);
  if (items.empty()) return Value::undefined();
  return want_max ? items.back() : items.front();
}
Value f_max(Renderer& r, Value v, CallArgs& args) { return min_max(r, std::move(v), args, true); }
Value f_min(Renderer& r, Value v, CallArgs& args) { return min_max(r, std::move(v), args, false); }

Value f_pprint(Renderer&, Value v, CallArgs&) { return Value(value_repr(v)); }

Value select_impl(Renderer& r, const Value& v, CallArgs& args, bool by_attr, bool keep_when) {
  std::vector<Value> out;
  if (!value_truthy(v)) return Value::list({});  // Jinja skips falsy input (none included)
  size_t next = 0;
  std::string attr;
  if (by_attr) {
    if (args.positional.empty()) throw_runtime_error("selectattr(): missing attribute name");
    attr = str_of(args.positional[next++]);
  }
  std::string test;
  if (next < args.positional.size()) test = str_of(args.positional[next++]);
  for (const Value& item : r.iterate(v)) {
    const Value subject = by_attr ? get_path(r, item, attr) : item;
    bool ok;
    if (test.empty()) {
      ok = value_truthy(subject);
    } else {
      CallArgs rest;
      rest.positional.assign(args.positional.begin() + static_cast<std::ptrdiff_t>(next), args.positional.end());
      rest.keyword = args.keyword;
      ok = r.apply_test(test, subject, rest);
    }
    if (ok == keep_when) out.push_back(item);
  }
  return Value::list(std::move(out));
}
Value f_select(Renderer& r, Value v, CallArgs& args) { return select_impl(r, v, args, false, true); }
Value f_reject(Renderer& r, Value v, CallArgs& args) { return select_impl(r, v, args, false, false); }
Value f_selectattr(Renderer& r, Value v, CallArgs& args) { return select_impl(r, v, args, true, true); }
Value f_rejectattr(Renderer& r, Value v, CallArgs& args) { return select_impl(r, v, args, true, false); }

Value f_replace(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("replace", args, {"old", "new", "count"});
  const std::string s = str_of(v);
  std::string out = text::replace(s, str_of(a.require(0)), str_of(a.require(1)), a.int_or(2, -1),
                                  r.config().limits.max_output_bytes);
  r.check_string_size(out.size());
  return Value(std::move(out));
}

Value f_reverse(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("reverse", args, {});
  if (v.is_string()) {
    const Value* none = nullptr;
    const Value step(-1);
    return slice_value(v, none, none, &step);
  }
  std::vector<Value> items = r.iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::list(std::move(items));
}

Value f_round(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("round", args, {"precision", "method"});
  if (!v.is_number()) throw_runtime_error("round(): expected a number, got {}", value_type_name(v));
  const int64_t precision = std::clamp<int64_t>(a.int_or(0, 0), -30, 30);
  const std::string method = a.string_or(1, "common");
  const double scale = std::pow(10.0, static_cast<double>(precision));
  const double x = v.as_double() * scale;
  double y;
  if (method == "common") y = std::nearbyint(x);  // Python's round(): ties to even
  else if (method == "ceil") y = std::ceil(x);
  else if (method == "floor") y = std::floor(x);
  else throw_runtime_error("round(): method must be 'common', 'ceil' or 'floor'");
  return Value(y / scale);
}

Value f_safe(Renderer&, Value v, CallArgs&) { return v; }

Value f_slice(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("slice", args, {"slices", "fill_with"});
  const int64_t slices = a.int_or(0, 1);
  if (slices <= 0 || slices > 100000) throw_runtime_error("slice(): slices must be positive");
  const std::vector<Value> items = r.iterate(v);
  const auto n = static_cast<int64_t>(items.size());
  const int64_t per = n / slices;
  const int64_t extra = n % slices;
  std::vector<Value> out;
  int64_t offset = 0;
  for (int64_t i = 0; i < slices; ++i) {
    const int64_t start = offset + i * per;
    if (i < extra) ++offset;
    const int64_t end = offset + (i + 1) * per;
    std::vector<Value> part(items.begin() + start, items.begin() + end);
    if (a.has(1) && i >= extra) part.push_back(*a.get(1));
    out.push_back(Value::list(std::move(part)));
  }
  r.check_list_size(out.size());
  return Value::list(std::move(out));
}

Value f_sort(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("sort", args, {"reverse", "case_sensitive", "attribute"});
  const std::string attr = a.string_or(2, "");
  return Value::list(sorted_values(r, r.iterate(v), a.bool_or(0, false), a.bool_or(1, false), a.has(2) ? &attr : nullptr));
}

Value f_string(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("string", args, {});
  return Value(str_of(v));
}

Value f_striptags(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("striptags", args, {});
  const std::string s = str_of(v);
  std::string no_tags;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') {
      const size_t close = s.find('>', i);
      if (close != std::string::npos) {
        i = close;
        no_tags += ' ';
        continue;
      }
    }
    no_tags += s[i];
  }
  std::string out;
  for (const std::string& w : text::split(no_tags, nullptr, -1)) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return Value(std::move(out));
}

Value f_sum(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("sum", args, {"attribute", "start"});
  Value total = a.get_or(1, Value(0));
  for (const Value& item : r.iterate(v)) {
    total = binary_op(r, BinaryOp::add, total, a.has(0) ? get_path(r, item, str_of(*a.get(0))) : item);
  }
  return total;
}

Value f_title(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("title", args, {});
  return Value(text::jinja_title(str_of(v)));
}

Value f_tojson(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("tojson", args, {"indent"});
  const int64_t indent = a.int_or(0, -1);
  std::string out = value_to_json(v, static_cast<int>(std::clamp<int64_t>(indent, -1, 64)));
  r.check_string_size(out.size());
  return Value(std::move(out));
}

Value f_trim(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("trim", args, {"chars"});
  const std::string s = str_of(v);
  if (a.has(0) && !a.get(0)->is_none()) {
    const std::string chars = str_of(*a.get(0));
    return Value(std::string(text::strip(s, &chars, true, true)));
  }
  return Value(std::string(text::strip(s, nullptr, true, true)));
}

Value f_truncate(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("truncate", args, {"length", "killwords", "end", "leeway"});
  const std::string s = str_of(v);
  const int64_t length = a.int_or(0, 255);
  const bool killwords = a.bool_or(1, false);
  const std::string end = a.string_or(2, "...");
  const int64_t leeway = a.int_or(3, 5);
  const std::vector<size_t> off = text::code_point_offsets(s);
  const auto n = static_cast<int64_t>(off.size() - 1);
  if (n <= length + leeway) return Value(s);
  const int64_t keep = std::max<int64_t>(0, length - static_cast<int64_t>(text::code_point_count(end)));
  std::string head = s.substr(0, off[static_cast<size_t>(std::min(keep, n))]);
  if (killwords) return Value(head + end);
  const size_t sp = head.rfind(' ');
  if (sp != std::string::npos) head = head.substr(0, sp);
  return Value(head + end);
}

Value f_unique(Renderer& r, Value v, CallArgs& args) {
  BoundArgs a("unique", args, {"case_sensitive", "attribute"});
  const bool cs = a.bool_or(0, false);
  std::vector<Value> out;
  std::vector<Value> seen;  // keys without a cheap hash (containers)
  std::unordered_set<std::string> seen_scalars;
  for (const Value& item : r.iterate(v)) {
    Value key = lowered_for_compare(a.has(1) ? get_path(r, item, str_of(*a.get(1))) : item, cs);
    bool dup = false;
    if (key.is_string() || key.is_none() || key.is_undefined()) {
      std::string k(1, key.is_string() ? 's' : 'n');
      k += key.is_string() ? key.as_string() : value_repr(key);
      dup = !seen_scalars.insert(std::move(k)).second;
    } else if (key.is_number() && (!key.is_float() || std::trunc(key.as_double()) == key.as_double())) {
      // 1, 1.0 and True are the same key, as in Python.
      const double d = key.as_double();
      const std::string k = key.is_float() && std::fabs(d) < 9.2e18 ? fmt::format("i{}", static_cast<int64_t>(d))
                          : key.is_float() ? fmt::format("f{}", python_float_repr(d)) : fmt::format("i{}", key.as_int());
      dup = !seen_scalars.insert(k).second;
    } else if (key.is_float()) {
      dup = !seen_scalars.insert(fmt::format("f{}", python_float_repr(key.as_double()))).second;
    } else {
      for (const Value& s : seen) {
        if (value_equals(s, key)) { dup = true; break; }
      }
      if (!dup) seen.push_back(key);
      r.charge_work(Value::list({}));
      r.count_iteration();
    }
    if (dup) continue;
    out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value f_urlencode(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("urlencode", args, {});
  const std::string s = str_of(v);
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '_' || c == '.' || c == '-' ||
        c == '~' || c == '/') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return Value(std::move(out));
}

Value f_wordcount(Renderer&, Value v, CallArgs& args) {
  BoundArgs a("wordcount", args, {});
  const std::string s = str_of(v);
  int64_t n = 0;
  bool in_word = false;
  for (size_t pos = 0; pos < s.size();) {
    const text::CodePoint c = text::decode(s, pos);
    const bool word = c.cp == '_' || (c.cp >= '0' && c.cp <= '9') || text::is_alpha(c.cp);
    if (word && !in_word) ++n;
    in_word = word;
    pos += c.len;
  }
  return Value(n);
}

const std::unordered_map<std::string_view, FilterFn>& filter_table() {
  static const std::unordered_map<std::string_view, FilterFn> table = {
      {"abs", f_abs}, {"attr", f_attr}, {"batch", f_batch}, {"capitalize", f_capitalize},
      {"center", f_center}, {"count", f_count}, {"length", f_count}, {"d", f_default},
      {"default", f_default}, {"dictsort", f_dictsort}, {"e", f_escape}, {"escape", f_escape},
      {"forceescape", f_escape}, {"first", f_first}, {"last", f_last}, {"float", f_float},
      {"format", f_format}, {"groupby", f_groupby}, {"indent", f_indent}, {"int", f_int},
      {"items", f_items}, {"join", f_join}, {"list", f_list}, {"lower", f_lower}, {"upper", f_upper},
      {"map", f_map}, {"max", f_max}, {"min", f_min}, {"pprint", f_pprint}, {"select", f_select},
      {"reject", f_reject}, {"selectattr", f_selectattr}, {"rejectattr", f_rejectattr},
      {"replace", f_replace}, {"reverse", f_reverse}, {"round", f_round}, {"safe", f_safe},
      {"slice", f_slice}, {"sort", f_sort}, {"string", f_string}, {"striptags", f_striptags},
      {"sum", f_sum}, {"title", f_title}, {"tojson", f_tojson}, {"trim", f_trim},
      {"truncate", f_truncate}, {"unique", f_unique}, {"urlencode", f_urlencode},
      {"wordcount", f_wordcount},
  };
  return table;
}

// ------------------------------------------------------------------ tests

const Value& test_arg(CallArgs& args, std::string_view test) {
  if (args.positional.empty()) throw_runtime_error("test '{}' needs an argument", test);
  return args.positional[0];
}

bool t_defined(Renderer&, const Value& v, CallArgs&) { return !v.is_undefined(); }
bool t_undefined(Renderer&, const Value& v, CallArgs&) { return v.is_undefined(); }
bool t_none(Renderer&, const Value& v, CallArgs&) { return v.is_none(); }
bool t_boolean(Renderer&, const Value& v, CallArgs&) { return v.is_bool(); }
bool t_false(Renderer&, const Value& v, CallArgs&) { return v.is_bool() && !v.as_bool(); }
bool t_true(Renderer&, const Value& v, CallArgs&) { return v.is_bool() && v.as_bool(); }
bool t_integer(Renderer&, const Value& v, CallArgs&) { return v.is_int(); }
bool t_float(Renderer&, const Value& v, CallArgs&) { return v.is_float(); }
bool t_number(Renderer&, const Value& v, CallArgs&) { return v.is_number(); }
bool t_string(Renderer&, const Value& v, CallArgs&) { return v.is_string(); }
bool t_mapping(Renderer&, const Value& v, CallArgs&) { return v.is_dict(); }
bool t_iterable(Renderer&, const Value& v, CallArgs&) {
  return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
}
bool t_sequence(Renderer&, const Value& v, CallArgs&) {
  return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
}
bool t_callable(Renderer&, const Value& v, CallArgs&) { return v.is_callable(); }
bool t_escaped(Renderer&, const Value&, CallArgs&) { return false; }
bool t_odd(Renderer&, const Value& v, CallArgs&) {
  if (!v.is_int() && !v.is_bool()) throw_runtime_error("test 'odd' needs an integer");
  return (v.as_int() & 1) != 0;
}
bool t_even(Renderer&, const Value& v, CallArgs&) {
  if (!v.is_int() && !v.is_bool()) throw_runtime_error("test 'even' needs an integer");
  return (v.as_int() & 1) == 0;
}
bool t_divisibleby(Renderer&, const Value& v, CallArgs& args) {
  const Value& n = test_arg(args, "divisibleby");
  if (!v.is_number() || !n.is_number()) throw_runtime_error("test 'divisibleby' needs numbers");
  if (v.is_float() || n.is_float()) return n.as_double() != 0.0 && std::fmod(v.as_double(), n.as_double()) == 0.0;
  if (n.as_int() == 0) throw_runtime_error("integer division or modulo by zero");
  if (n.as_int() == -1) return true;
  return v.as_int() % n.as_int() == 0;
}
bool t_eq(Renderer&, const Value& v, CallArgs& args) { return value_equals(v, test_arg(args, "eq")); }
bool t_ne(Renderer&, const Value& v, CallArgs& args) { return !value_equals(v, test_arg(args, "ne")); }
bool t_lt(Renderer&, const Value& v, CallArgs& args) { return value_less(v, test_arg(args, "lt")); }
bool t_le(Renderer&, const Value& v, CallArgs& args) { return !value_less(test_arg(args, "le"), v); }
bool t_gt(Renderer&, const Value& v, CallArgs& args) { return value_less(test_arg(args, "gt"), v); }
bool t_ge(Renderer&, const Value& v, CallArgs& args) { return !value_less(v, test_arg(args, "ge")); }
bool t_in(Renderer&, const Value& v, CallArgs& args) { return value_contains(test_arg(args, "in"), v); }
bool t_sameas(Renderer&, const Value& v, CallArgs& args) {
  const Value& o = test_arg(args, "sameas");
  if (v.kind() != o.kind()) return false;
  if (v.is_none() || v.is_undefined() || v.is_bool()) return value_equals(v, o);
  if (v.is_list()) return &v.as_list() == &o.as_list();
  if (v.is_dict()) return &v.as_dict() == &o.as_dict();
  return value_equals(v, o) && (v.is_callable() || v.is_namespace());
}
bool t_lower(Renderer&, const Value& v, CallArgs&) {
  if (!v.is_string()) return false;
  bool cased = false;
  const std::string& s = v.as_string();
  for (size_t pos = 0; pos < s.size();) {
    const text::CodePoint c = text::decode(s, pos);
    if (text::is_upper_cp(c.cp)) return false;
    if (text::is_lower_cp(c.cp)) cased = true;
    pos += c.len;
  }
  return cased;
}
bool t_upper(Renderer&, const Value& v, CallArgs&) {
  if (!v.is_string()) return false;
  bool cased = false;
  const std::string& s = v.as_string();
  for (size_t pos = 0; pos < s.size();) {
    const text::CodePoint c = text::decode(s, pos);
    if (text::is_lower_cp(c.cp)) return false;
    if (text::is_upper_cp(c.cp)) cased = true;
    pos += c.len;
  }
  return cased;
}
bool t_filter(Renderer&, const Value& v, CallArgs&) { return v.is_string() && has_filter(v.as_string()); }
bool t_test(Renderer&, const Value& v, CallArgs&) { return v.is_string() && has_test(v.as_string()); }

const std::unordered_map<std::string_view, TestFn>& test_table() {
  static const std::unordered_map<std::string_view, TestFn> table = {
      {"defined", t_defined}, {"undefined", t_undefined}, {"none", t_none}, {"boolean", t_boolean},
      {"false", t_false}, {"true", t_true}, {"integer", t_integer}, {"float", t_float},
      {"number", t_number}, {"string", t_string}, {"mapping", t_mapping}, {"iterable", t_iterable},
      {"sequence", t_sequence}, {"callable", t_callable}, {"escaped", t_escaped}, {"odd", t_odd},
      {"even", t_even}, {"divisibleby", t_divisibleby}, {"eq", t_eq}, {"equalto", t_eq}, {"==", t_eq},
      {"ne", t_ne}, {"!=", t_ne}, {"lt", t_lt}, {"lessthan", t_lt}, {"<", t_lt}, {"le", t_le},
      {"<=", t_le}, {"gt", t_gt}, {"greaterthan", t_gt}, {">", t_gt}, {"ge", t_ge}, {">=", t_ge},
      {"in", t_in}, {"sameas", t_sameas}, {"lower", t_lower}, {"upper", t_upper},
      {"filter", t_filter}, {"test", t_test},
  };
  return table;
}

}  // namespace

bool has_filter(std::string_view name) { return filter_table().count(name) != 0; }

Value call_filter(Renderer& r, std::string_view name, Value subject, CallArgs& args) {
  const auto it = filter_table().find(name);
  if (it == filter_table().end()) throw_runtime_error("no filter named '{}'", name);
  return it->second(r, std::move(subject), args);
}

bool has_test(std::string_view name) { return test_table().count(name) != 0; }

bool call_test(Renderer& r, std::string_view name, const Value& subject, CallArgs& args) {
  const auto it = test_table().find(name);
  if (it == test_table().end()) throw_runtime_error("no test named '{}'", name);
  return it->second(r, subject, args);
}

}  // namespace laneway::chat
