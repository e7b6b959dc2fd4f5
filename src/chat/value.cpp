#include "chat/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "chat/errors.h"

namespace laneway::chat {

const Value* ValueDict::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  for (const auto& [k, v] : entries) {
    if (value_equals(k, key)) return &v;
  }
  return nullptr;
}

const Value* ValueDict::find(std::string_view key) const {
  for (const auto& [k, v] : entries) {
    if (k.is_string() && k.as_string() == key) return &v;
  }
  return nullptr;
}

void ValueDict::set(Value key, Value value) {
  for (auto& [k, v] : entries) {
    if (value_equals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

uint32_t value_depth(const Value& v) {
  if (v.is_list()) return v.as_list().depth;
  if (v.is_dict()) return v.as_dict().depth;
  return 0;
}

uint64_t value_weight(const Value& v) {
  if (v.is_list()) return v.as_list().weight;
  if (v.is_dict()) return v.as_dict().weight;
  if (v.is_string()) return 1 + v.as_string().size();
  return 1;
}

namespace {

void check_container_bounds(uint32_t depth, uint64_t weight) {
  if (depth > kMaxValueDepth) {
    throw_template_error(TemplateErrorKind::limit, fmt::format("lists and dicts nest deeper than {}", kMaxValueDepth));
  }
  if (weight > kMaxValueWeight) {
    throw_template_error(TemplateErrorKind::limit,
                         fmt::format("a list or dict grew past {} elements and bytes", kMaxValueWeight));
  }
}

}  // namespace

Value Value::list(std::vector<Value> items, bool is_tuple) {
  uint32_t depth = 1;
  uint64_t weight = 1;
  for (const Value& item : items) {
    depth = std::max(depth, value_depth(item) + 1);
    weight += value_weight(item);
  }
  check_container_bounds(depth, weight);
  return Value(std::make_shared<const ValueList>(ValueList{std::move(items), is_tuple, depth, weight}));
}

Value Value::dict(ValueDict d) {
  uint32_t depth = 1;
  uint64_t weight = 1;
  for (const auto& [k, v] : d.entries) {
    depth = std::max({depth, value_depth(k) + 1, value_depth(v) + 1});
    weight += value_weight(k) + value_weight(v);
  }
  check_container_bounds(depth, weight);
  d.depth = depth;
  d.weight = weight;
  return Value(std::make_shared<const ValueDict>(std::move(d)));
}

std::string_view value_type_name(const Value& v) {
  switch (v.kind()) {
    case ValueKind::undefined: return "Undefined";
    case ValueKind::none: return "NoneType";
    case ValueKind::boolean: return "bool";
    case ValueKind::integer: return "int";
    case ValueKind::floating: return "float";
    case ValueKind::string: return "str";
    case ValueKind::list: return v.as_list().is_tuple ? "tuple" : "list";
    case ValueKind::dict: return "dict";
    case ValueKind::callable: return "function";
    case ValueKind::namespace_: return "Namespace";
    case ValueKind::loop: return "LoopContext";
  }
  return "object";
}

bool value_truthy(const Value& v) {
  switch (v.kind()) {
    case ValueKind::undefined:
    case ValueKind::none: return false;
    case ValueKind::boolean: return v.as_bool();
    case ValueKind::integer: return v.as_int() != 0;
    case ValueKind::floating: return v.as_double() != 0.0;
    case ValueKind::string: return !v.as_string().empty();
    case ValueKind::list: return !v.as_list().items.empty();
    case ValueKind::dict: return !v.as_dict().entries.empty();
    default: return true;
  }
}

bool value_equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::undefined:
    case ValueKind::none: return true;
    case ValueKind::string: return a.as_string() == b.as_string();
    case ValueKind::list: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (x.is_tuple != y.is_tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i) {
        if (!value_equals(x.items[i], y.items[i])) return false;
      }
      return true;
    }
    case ValueKind::dict: {
      const auto& x = a.as_dict();
      const auto& y = b.as_dict();
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [k, v] : x.entries) {
        const Value* other = y.find(k);
        if (other == nullptr || !value_equals(v, *other)) return false;
      }
      return true;
    }
    case ValueKind::callable: return &a.as_callable() == &b.as_callable();
    case ValueKind::namespace_: return &a.as_namespace() == &b.as_namespace();
    case ValueKind::loop: return &a.as_loop() == &b.as_loop();
    default: return false;
  }
}

bool value_less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();  // UTF-8 byte order = code point order
  if (a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!value_equals(x[i], y[i])) return value_less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  throw_runtime_error("'<' not supported between instances of '{}' and '{}'", value_type_name(a), value_type_name(b));
}

std::string python_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  // Shortest round-trip digits, then Python's layout: positional when the
  // decimal exponent is in [-4, 16), scientific otherwise.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  const size_t e_pos = sci.find('e');
  std::string_view mant = sci.substr(0, e_pos);
  int exp10 = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp10);
  std::string out;
  if (!mant.empty() && mant[0] == '-') {
    out += '-';
    mant.remove_prefix(1);
  }
  std::string digits;
  for (char c : mant) {
    if (c != '.') digits += c;
  }
  const int decpt = exp10 + 1;  // value = 0.DIGITS * 10^decpt
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0.";
      out.append(static_cast<size_t>(-decpt), '0');
      out += digits;
    } else if (static_cast<size_t>(decpt) >= digits.size()) {
      out += digits;
      out.append(static_cast<size_t>(decpt) - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(decpt));
      out += '.';
      out += digits.substr(static_cast<size_t>(decpt));
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  out += fmt::format("e{}{:02d}", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
  return out;
}

namespace {

void append_repr_string(std::string& out, const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  out += quote;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7F) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += quote;
}

void append_repr(std::string& out, const Value& v, int depth);

void append_str(std::string& out, const Value& v, int depth) {
  switch (v.kind()) {
    case ValueKind::undefined: return;
    case ValueKind::none: out += "None"; return;
    case ValueKind::boolean: out += v.as_bool() ? "True" : "False"; return;
    case ValueKind::integer: fmt::format_to(std::back_inserter(out), "{}", v.as_int()); return;
    case ValueKind::floating: out += python_float_repr(v.as_double()); return;
    case ValueKind::string: out += v.as_string(); return;
    default: append_repr(out, v, depth); return;
  }
}

void append_repr(std::string& out, const Value& v, int depth) {
  if (depth > 64) {
    out += "...";
    return;
  }
  switch (v.kind()) {
    case ValueKind::string: append_repr_string(out, v.as_string()); return;
    case ValueKind::list: {
      const ValueList& l = v.as_list();
      out += l.is_tuple ? '(' : '[';
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (i > 0) out += ", ";
        append_repr(out, l.items[i], depth + 1);
      }
      if (l.is_tuple && l.items.size() == 1) out += ',';
      out += l.is_tuple ? ')' : ']';
      return;
    }
    case ValueKind::dict: {
      out += '{';
      bool first = true;
      for (const auto& [k, val] : v.as_dict().entries) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, k, depth + 1);
        out += ": ";
        append_repr(out, val, depth + 1);
      }
      out += '}';
      return;
    }
    case ValueKind::callable: out += "<function " + v.as_callable().name + ">"; return;
    case ValueKind::namespace_: {
      // Namespaces are mutable and may contain themselves: show their
      // attributes only at the top level.
      if (depth > 0) {
        out += "<Namespace>";
        return;
      }
      out += "<Namespace {";
      bool first = true;
      for (const auto& [k, val] : v.as_namespace().attrs.entries) {
        if (!first) out += ", ";
        first = false;
        append_repr(out, k, depth + 1);
        out += ": ";
        append_repr(out, val, depth + 1);
      }
      out += "}>";
      return;
    }
    case ValueKind::loop: out += "<LoopContext>"; return;
    default: append_str(out, v, depth); return;
  }
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (u < 0x20) out += fmt::format("\\u{:04x}", u);
        else out += c;
    }
  }
  out += '"';
}

void append_json(std::string& out, const Value& v, int indent, int level) {
  if (level > 256) throw_runtime_error("tojson: value nested too deeply");
  auto newline = [&](int lvl) {
    out += '\n';
    out.append(static_cast<size_t>(indent) * static_cast<size_t>(lvl), ' ');
  };
  switch (v.kind()) {
    case ValueKind::none: out += "null"; return;
    case ValueKind::boolean: out += v.as_bool() ? "true" : "false"; return;
    case ValueKind::integer: fmt::format_to(std::back_inserter(out), "{}", v.as_int()); return;
    case ValueKind::floating: {
      const double d = v.as_double();
      if (std::isnan(d)) out += "NaN";
      else if (std::isinf(d)) out += d < 0 ? "-Infinity" : "Infinity";
      else out += python_float_repr(d);
      return;
    }
    case ValueKind::string: append_json_string(out, v.as_string()); return;
    case ValueKind::list: {
      const auto& items = v.as_list().items;
      if (items.empty()) { out += "[]"; return; }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += indent >= 0 ? "," : ", ";
        if (indent >= 0) newline(level + 1);
        append_json(out, items[i], indent, level + 1);
      }
      if (indent >= 0) newline(level);
      out += ']';
      return;
    }
    case ValueKind::dict:
    case ValueKind::namespace_: {
      const auto& entries = v.is_dict() ? v.as_dict().entries : v.as_namespace().attrs.entries;
      if (v.is_namespace()) throw_runtime_error("Object of type Namespace is not JSON serializable");
      if (entries.empty()) { out += "{}"; return; }
      out += '{';
      bool first = true;
      for (const auto& [k, val] : entries) {
        if (!first) out += indent >= 0 ? "," : ", ";
        first = false;
        if (indent >= 0) newline(level + 1);
        // json.dumps turns scalar keys into strings.
        if (k.is_string()) append_json_string(out, k.as_string());
        else if (k.is_none()) out += "\"null\"";
        else if (k.is_bool()) out += k.as_bool() ? "\"true\"" : "\"false\"";
        else if (k.is_int() || k.is_float()) { out += '"'; append_json(out, k, -1, level + 1); out += '"'; }
        else throw_runtime_error("keys must be str, int, float, bool or None, not {}", value_type_name(k));
        out += ": ";
        append_json(out, val, indent, level + 1);
      }
      if (indent >= 0) newline(level);
      out += '}';
      return;
    }
    default:
      throw_runtime_error("Object of type {} is not JSON serializable", value_type_name(v));
  }
}

}  // namespace

std::string value_to_string(const Value& v) {
  if (v.is_string()) return v.as_string();
  std::string out;
  append_str(out, v, 0);
  return out;
}

void append_value_string(std::string& out, const Value& v) { append_str(out, v, 0); }

std::string value_repr(const Value& v) {
  std::string out;
  append_repr(out, v, 0);
  return out;
}

std::string value_to_json(const Value& v, int indent) {
  std::string out;
  append_json(out, v, indent, 0);
  return out;
}

}  // namespace laneway::chat
