// Values of the template language: Python-like objects as Jinja sees them.
//
// A Value is undefined, none, bool, int (64-bit), float, string (UTF-8),
// list/tuple, dict (insertion-ordered, like a Python dict), callable
// (builtin function, bound method or macro), namespace, or a for-loop's
// `loop` object. Lists, dicts and callables are immutable once built and
// shared by reference (copying a Value is cheap and never deep); only a
// namespace is mutable, as in Jinja's sandbox where `{% set ns.x = ... %}` is
// the one way a template changes an object.
//
// Thread-safety: a Value tree reachable from a parsed template or from
// ChatInputs is never mutated during rendering, so several renders may share
// it. Namespaces and loop objects are created per render and never shared.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace laneway::chat {

class Value;
class Renderer;

inline constexpr uint32_t kMaxValueDepth = 512;
// Lists and dicts share their elements, so repeated doubling ([x, x]) could
// describe exponentially large values; the weight (nodes plus string bytes,
// counted as if unshared) bounds what printing or comparing one can cost.
inline constexpr uint64_t kMaxValueWeight = uint64_t{1} << 26;  // the per-render evaluator (renderer.h)

// A Python list, or a tuple when `is_tuple` (only repr differs).
struct ValueList {
  std::vector<Value> items;
  bool is_tuple = false;
  uint32_t depth = 1;   // nesting depth of lists/dicts, for the recursion bound
  uint64_t weight = 1;  // nodes + string bytes inside, for the size bound
};

// A Python dict: keys are Values (usually strings), kept in insertion order.
// Lookups are linear: template dicts are small.
struct ValueDict {
  std::vector<std::pair<Value, Value>> entries;
  uint32_t depth = 1;   // set by Value::dict
  uint64_t weight = 1;  // set by Value::dict

  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  // Replaces the value of an existing key or appends a new entry.
  void set(Value key, Value value);
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Builtins, bound methods and macros. `fn` reports failures by throwing
// TemplateError (errors.h), which the renderer turns into a Status.
struct Callable {
  std::string name;
  std::function<Value(Renderer&, CallArgs&)> fn;
};

// namespace(): the one mutable object.
struct Namespace {
  ValueDict attrs;
};

// The `loop` variable of a for loop.
struct LoopState {
  int64_t index0 = 0;
  int64_t length = 0;
  int64_t depth0 = 0;
  std::shared_ptr<const std::vector<Value>> items;  // the (filtered) items
  std::shared_ptr<Value> last_changed;         // state of loop.changed()
};

struct UndefinedValue {
  std::string name;  // what was looked up, for messages ("'x' is undefined")
};
struct NoneValue {};

enum class ValueKind : uint8_t {
  undefined, none, boolean, integer, floating, string, list, dict, callable, namespace_, loop,
};

class Value {
 public:
  Value() = default;  // undefined
  static Value undefined(std::string name = {}) { return Value(UndefinedValue{std::move(name)}); }
  static Value none() { return Value(NoneValue{}); }
  Value(UndefinedValue u) : v_(std::move(u)) {}                    // NOLINT(implicit)
  Value(NoneValue n) : v_(n) {}                                    // NOLINT(implicit)
  Value(bool b) : v_(b) {}                                        // NOLINT(implicit)
  Value(int64_t i) : v_(i) {}                                     // NOLINT(implicit)
  Value(int i) : v_(static_cast<int64_t>(i)) {}                   // NOLINT(implicit)
  Value(double d) : v_(d) {}                                      // NOLINT(implicit)
  Value(std::string s) : v_(std::move(s)) {}                      // NOLINT(implicit)
  Value(std::string_view s) : v_(std::string(s)) {}               // NOLINT(implicit)
  Value(const char* s) : v_(std::string(s)) {}                    // NOLINT(implicit)
  Value(std::shared_ptr<const ValueList> l) : v_(std::move(l)) {}  // NOLINT(implicit)
  Value(std::shared_ptr<const ValueDict> d) : v_(std::move(d)) {}  // NOLINT(implicit)
  Value(std::shared_ptr<const Callable> c) : v_(std::move(c)) {}   // NOLINT(implicit)
  Value(std::shared_ptr<Namespace> n) : v_(std::move(n)) {}        // NOLINT(implicit)
  Value(std::shared_ptr<LoopState> l) : v_(std::move(l)) {}        // NOLINT(implicit)

  // Containers record their nesting depth and weight; building one deeper
  // than kMaxValueDepth or heavier than kMaxValueWeight throws TemplateError
  // (limit), so walks over values (printing, comparing, destroying) stay
  // shallow and bounded.
  static Value list(std::vector<Value> items, bool is_tuple = false);
  static Value dict(ValueDict d);

  ValueKind kind() const { return static_cast<ValueKind>(v_.index()); }
  bool is_undefined() const { return kind() == ValueKind::undefined; }
  bool is_none() const { return kind() == ValueKind::none; }
  bool is_bool() const { return kind() == ValueKind::boolean; }
  bool is_int() const { return kind() == ValueKind::integer; }
  bool is_float() const { return kind() == ValueKind::floating; }
  // Python numbers: bool counts as an int.
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind() == ValueKind::string; }
  bool is_list() const { return kind() == ValueKind::list; }
  bool is_dict() const { return kind() == ValueKind::dict; }
  bool is_callable() const { return kind() == ValueKind::callable; }
  bool is_namespace() const { return kind() == ValueKind::namespace_; }
  bool is_loop() const { return kind() == ValueKind::loop; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return is_bool() ? (as_bool() ? 1 : 0) : std::get<int64_t>(v_); }
  double as_double() const { return is_float() ? std::get<double>(v_) : static_cast<double>(as_int()); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const ValueList& as_list() const { return *std::get<std::shared_ptr<const ValueList>>(v_); }
  const ValueDict& as_dict() const { return *std::get<std::shared_ptr<const ValueDict>>(v_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(v_); }
  Namespace& as_namespace() const { return *std::get<std::shared_ptr<Namespace>>(v_); }
  LoopState& as_loop() const { return *std::get<std::shared_ptr<LoopState>>(v_); }
  const std::shared_ptr<Namespace>& namespace_ptr() const { return std::get<std::shared_ptr<Namespace>>(v_); }
  const std::string& undefined_name() const { return std::get<UndefinedValue>(v_).name; }

 private:
  std::variant<UndefinedValue, NoneValue, bool, int64_t, double, std::string,
               std::shared_ptr<const ValueList>, std::shared_ptr<const ValueDict>,
               std::shared_ptr<const Callable>, std::shared_ptr<Namespace>, std::shared_ptr<LoopState>>
      v_;
};

// Nesting depth: 0 for scalars, 1 + the deepest child for lists and dicts.
uint32_t value_depth(const Value& v);
// Weight: 1 for scalars, 1 + bytes for strings, stored for lists and dicts.
uint64_t value_weight(const Value& v);

// Python's name of the value's type, for messages ("str", "int", "NoneType").
std::string_view value_type_name(const Value& v);

// Python truthiness (undefined is false).
bool value_truthy(const Value& v);
// Python ==. Numbers compare by value across int/float/bool; undefined
// equals only undefined.
bool value_equals(const Value& a, const Value& b);
// Python ordering (<): numbers, strings (code point order), lists/tuples.
// Throws TemplateError for unorderable pairs.
bool value_less(const Value& a, const Value& b);

// Python str() as Jinja prints it: none is "None", undefined "", floats use
// repr's shortest round-trip form, lists and dicts their repr.
std::string value_to_string(const Value& v);
void append_value_string(std::string& out, const Value& v);
// Python repr().
std::string value_repr(const Value& v);
// Python float repr ("1.0", "1e-05", "1e+16", "inf", "nan").
std::string python_float_repr(double d);

// json.dumps(v, ensure_ascii=False[, indent]) with Python's default
// separators (", " and ": "; "," between items when indenting). Throws
// TemplateError for values JSON cannot hold (undefined, callables).
// `indent` < 0 means none.
std::string value_to_json(const Value& v, int indent = -1);

}  // namespace laneway::chat
