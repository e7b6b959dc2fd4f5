// Arithmetic, membership, iteration, indexing and slicing with Python's
// semantics (floor division and modulo round toward negative infinity,
// `/` is true division, strings index by code point).
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "chat/builtins.h"
#include "chat/errors.h"
#include "chat/text_util.h"

namespace laneway::chat {
namespace {

[[noreturn]] void unsupported(std::string_view op, const Value& a, const Value& b) {
  throw_runtime_error("unsupported operand type(s) for {}: '{}' and '{}'", op, value_type_name(a), value_type_name(b));
}

void fail_if_undefined(const Value& a, const Value& b) {
  for (const Value* v : {&a, &b}) {
    if (v->is_undefined()) {
      if (!v->undefined_name().empty()) throw_runtime_error("'{}' is undefined", v->undefined_name());
      throw_runtime_error("an undefined value was used in arithmetic");
    }
  }
}

int64_t checked(bool overflow, int64_t v) {
  if (overflow) throw_runtime_error("integer overflow (Laneway's integers are 64-bit)");
  return v;
}

Value repeat_sequence(Renderer& r, const Value& seq, int64_t n) {
  if (n <= 0) return seq.is_string() ? Value(std::string()) : Value::list({}, seq.as_list().is_tuple);
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty() && static_cast<uint64_t>(n) > r.config().limits.max_output_bytes / s.size()) r.check_string_size(SIZE_MAX);
    std::string out;
    out.reserve(s.size() * static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out += s;
    return Value(std::move(out));
  }
  const auto& items = seq.as_list().items;
  if (!items.empty() && static_cast<uint64_t>(n) > r.config().limits.max_list_items / items.size()) r.check_list_size(SIZE_MAX);
  std::vector<Value> out;
  out.reserve(items.size() * static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), seq.as_list().is_tuple);
}

int64_t floor_div(int64_t a, int64_t b) {
  if (b == 0) throw_runtime_error("integer division or modulo by zero");
  if (a == std::numeric_limits<int64_t>::min() && b == -1) throw_runtime_error("integer overflow");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b) {
  if (b == 0) throw_runtime_error("integer division or modulo by zero");
  if (b == -1) return 0;
  int64_t m = a % b;
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

double float_mod(double a, double b) {
  if (b == 0.0) throw_runtime_error("float modulo");
  double m = std::fmod(a, b);
  if (m != 0.0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

}  // namespace

Value unary_minus(const Value& v) {
  if (v.is_float()) return Value(-v.as_double());
  if (v.is_int() || v.is_bool()) {
    if (v.as_int() == std::numeric_limits<int64_t>::min()) throw_runtime_error("integer overflow");
    return Value(-v.as_int());
  }
  if (v.is_undefined() && !v.undefined_name().empty()) throw_runtime_error("'{}' is undefined", v.undefined_name());
  throw_runtime_error("bad operand type for unary -: '{}'", value_type_name(v));
}

Value binary_op(Renderer& r, BinaryOp op, const Value& a, const Value& b) {
  if (op == BinaryOp::concat) {
    std::string s = value_to_string(a);
    append_value_string(s, b);
    r.check_string_size(s.size());
    return Value(std::move(s));
  }
  fail_if_undefined(a, b);
  const bool ints = (a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool());
  const bool nums = a.is_number() && b.is_number();
  switch (op) {
    case BinaryOp::add:
      if (ints) {
        int64_t v = 0;
        if (__builtin_add_overflow(a.as_int(), b.as_int(), &v)) checked(true, 0);
        return Value(v);
      }
      if (nums) return Value(a.as_double() + b.as_double());
      if (a.is_string() && b.is_string()) {
        r.check_string_size(a.as_string().size() + b.as_string().size());
        return Value(a.as_string() + b.as_string());
      }
      if (a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple) {
        r.check_list_size(a.as_list().items.size() + b.as_list().items.size());
        std::vector<Value> items = a.as_list().items;
        items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
        return Value::list(std::move(items), a.as_list().is_tuple);
      }
      unsupported("+", a, b);
    case BinaryOp::sub:
      if (ints) {
        int64_t v = 0;
        if (__builtin_sub_overflow(a.as_int(), b.as_int(), &v)) checked(true, 0);
        return Value(v);
      }
      if (nums) return Value(a.as_double() - b.as_double());
      unsupported("-", a, b);
    case BinaryOp::mul:
      if (ints) {
        int64_t v = 0;
        if (__builtin_mul_overflow(a.as_int(), b.as_int(), &v)) checked(true, 0);
        return Value(v);
      }
      if (nums) return Value(a.as_double() * b.as_double());
      if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return repeat_sequence(r, a, b.as_int());
      if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return repeat_sequence(r, b, a.as_int());
      unsupported("*", a, b);
    case BinaryOp::div:
      if (nums) {
        if (b.as_double() == 0.0) throw_runtime_error("division by zero");
        return Value(a.as_double() / b.as_double());
      }
      unsupported("/", a, b);
    case BinaryOp::floordiv:
      if (ints) return Value(floor_div(a.as_int(), b.as_int()));
      if (nums) {
        if (b.as_double() == 0.0) throw_runtime_error("float floor division by zero");
        return Value(std::floor(a.as_double() / b.as_double()));
      }
      unsupported("//", a, b);
    case BinaryOp::mod:
      if (ints) return Value(floor_mod(a.as_int(), b.as_int()));
      if (nums) return Value(float_mod(a.as_double(), b.as_double()));
      if (a.is_string()) {
        // printf-style formatting: "%s" % x or "%s %s" % (x, y).
        CallArgs args;
        if (b.is_list() && b.as_list().is_tuple) args.positional = b.as_list().items;
        else args.positional.push_back(b);
        return call_filter(r, "format", a, args);
      }
      unsupported("%", a, b);
    case BinaryOp::pow:
      if (ints && b.as_int() >= 0) {
        int64_t result = 1;
        int64_t base = a.as_int();
        int64_t e = b.as_int();
        while (e > 0) {
          if ((e & 1) && __builtin_mul_overflow(result, base, &result)) checked(true, 0);
          e >>= 1;
          if (e > 0 && __builtin_mul_overflow(base, base, &base)) checked(true, 0);
        }
        return Value(result);
      }
      if (nums) return Value(std::pow(a.as_double(), b.as_double()));
      unsupported("** or pow()", a, b);
    default:
      break;
  }
  throw_runtime_error("unsupported operator");
}

bool value_contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case ValueKind::string:
      if (!item.is_string()) {
        throw_runtime_error("'in <string>' requires string as left operand, not {}", value_type_name(item));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case ValueKind::list:
      for (const Value& v : container.as_list().items) {
        if (value_equals(v, item)) return true;
      }
      return false;
    case ValueKind::dict: return container.as_dict().find(item) != nullptr;
    case ValueKind::namespace_: return container.as_namespace().attrs.find(item) != nullptr;
    case ValueKind::undefined: return false;
    default:
      throw_runtime_error("argument of type '{}' is not iterable", value_type_name(container));
  }
}

std::vector<Value> iterate_value(const Value& v) {
  switch (v.kind()) {
    case ValueKind::undefined: return {};
    case ValueKind::list: return v.as_list().items;
    case ValueKind::dict: {
      std::vector<Value> keys;
      keys.reserve(v.as_dict().entries.size());
      for (const auto& [k, val] : v.as_dict().entries) keys.push_back(k);
      return keys;
    }
    case ValueKind::string: {
      const std::string& s = v.as_string();
      std::vector<Value> chars;
      for (size_t pos = 0; pos < s.size();) {
        const uint32_t len = text::decode(s, pos).len;
        chars.emplace_back(s.substr(pos, len));
        pos += len;
      }
      return chars;
    }
    default:
      throw_runtime_error("'{}' object is not iterable", value_type_name(v));
  }
}

int64_t value_length(const Value& v) {
  switch (v.kind()) {
    case ValueKind::undefined: return 0;
    case ValueKind::string: return static_cast<int64_t>(text::code_point_count(v.as_string()));
    case ValueKind::list: return static_cast<int64_t>(v.as_list().items.size());
    case ValueKind::dict: return static_cast<int64_t>(v.as_dict().entries.size());
    default: throw_runtime_error("object of type '{}' has no len()", value_type_name(v));
  }
}

Value index_value(const Value& obj, int64_t index) {
  if (obj.is_list()) {
    const auto& items = obj.as_list().items;
    const auto n = static_cast<int64_t>(items.size());
    if (index < 0) index += n;
    if (index < 0 || index >= n) return Value::undefined();
    return items[static_cast<size_t>(index)];
  }
  if (obj.is_string()) {
    const std::string& s = obj.as_string();
    if (text::is_ascii(s)) {
      const auto n = static_cast<int64_t>(s.size());
      if (index < 0) index += n;
      if (index < 0 || index >= n) return Value::undefined();
      return Value(std::string(1, s[static_cast<size_t>(index)]));
    }
    const std::vector<size_t> off = text::code_point_offsets(s);
    const auto n = static_cast<int64_t>(off.size() - 1);
    if (index < 0) index += n;
    if (index < 0 || index >= n) return Value::undefined();
    const auto i = static_cast<size_t>(index);
    return Value(s.substr(off[i], off[i + 1] - off[i]));
  }
  return Value::undefined();
}

Value slice_value(const Value& obj, const Value* start_v, const Value* stop_v, const Value* step_v) {
  if (!obj.is_list() && !obj.is_string()) {
    if (obj.is_undefined() && !obj.undefined_name().empty()) throw_runtime_error("'{}' is undefined", obj.undefined_name());
    throw_runtime_error("'{}' object is not subscriptable", value_type_name(obj));
  }
  auto bound = [](const Value* v, const char* what) -> std::optional<int64_t> {
    if (v == nullptr || v->is_none() || v->is_undefined()) return std::nullopt;
    if (!v->is_int() && !v->is_bool()) throw_runtime_error("slice {} must be an integer or None", what);
    return v->as_int();
  };
  const int64_t step = bound(step_v, "step").value_or(1);
  if (step == 0) throw_runtime_error("slice step cannot be zero");
  const bool ascii = obj.is_string() && text::is_ascii(obj.as_string());
  std::vector<size_t> offsets;
  int64_t n = 0;
  if (obj.is_list()) n = static_cast<int64_t>(obj.as_list().items.size());
  else if (ascii) n = static_cast<int64_t>(obj.as_string().size());
  else {
    offsets = text::code_point_offsets(obj.as_string());
    n = static_cast<int64_t>(offsets.size() - 1);
  }
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = step < 0 ? -1 : 0;
    } else if (x >= n) {
      x = step < 0 ? n - 1 : n;
    }
    return x;
  };
  const int64_t start = clamp(bound(start_v, "start"), step < 0 ? n - 1 : 0);
  const int64_t stop = clamp(bound(stop_v, "stop"), step < 0 ? -1 : n);
  std::vector<int64_t> picks;
  for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
    picks.push_back(i);
    if (__builtin_add_overflow(i, step, &i)) break;
  }
  if (obj.is_list()) {
    std::vector<Value> items;
    items.reserve(picks.size());
    for (int64_t i : picks) items.push_back(obj.as_list().items[static_cast<size_t>(i)]);
    return Value::list(std::move(items), obj.as_list().is_tuple);
  }
  const std::string& s = obj.as_string();
  if (step == 1) {
    if (picks.empty()) return Value(std::string());
    if (ascii) return Value(s.substr(static_cast<size_t>(start), static_cast<size_t>(stop - start)));
    return Value(s.substr(offsets[static_cast<size_t>(start)], offsets[static_cast<size_t>(stop)] - offsets[static_cast<size_t>(start)]));
  }
  std::string out;
  for (int64_t i : picks) {
    const auto k = static_cast<size_t>(i);
    if (ascii) out += s[k];
    else out.append(s, offsets[k], offsets[k + 1] - offsets[k]);
  }
  return Value(std::move(out));
}

}  // namespace laneway::chat
