// The standard library of the template language: operators with Python
// semantics, Jinja's filters and tests, str/dict/list methods, and the
// global functions (range, namespace, dict, raise_exception, strftime_now,
// cycler, joiner). Each throws TemplateError on misuse.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/ast.h"
#include "chat/renderer.h"
#include "chat/value.h"

namespace laneway::chat {

// ---- operators (operators.cpp) ----
Value binary_op(Renderer& r, BinaryOp op, const Value& a, const Value& b);
Value unary_minus(const Value& v);
// Python `item in container`.
bool value_contains(const Value& container, const Value& item);
// Python iteration: list items, dict keys, string characters; undefined
// iterates as empty. Throws for other types.
std::vector<Value> iterate_value(const Value& v);
// Python len(); throws for values without a length.
int64_t value_length(const Value& v);
// obj[start:stop:step] on strings and lists; null bounds are omitted ones.
Value slice_value(const Value& obj, const Value* start, const Value* stop, const Value* step);
// obj[index] on lists and strings (negative counts from the end);
// undefined when out of range.
Value index_value(const Value& obj, int64_t index);

// ---- filters and tests (filters.cpp) ----
bool has_filter(std::string_view name);
Value call_filter(Renderer& r, std::string_view name, Value subject, CallArgs& args);
bool has_test(std::string_view name);
bool call_test(Renderer& r, std::string_view name, const Value& subject, CallArgs& args);

// ---- methods and globals (methods.cpp) ----
bool has_method(const Value& obj, std::string_view name);
// nullopt when `obj` has no method `name`.
std::optional<Value> call_method(Renderer& r, const Value& obj, std::string_view name, CallArgs& args);
// A bound-method callable for `obj.name` used as a value.
Value bind_method(const Value& obj, const std::string& name);
// Builtin globals; null when `name` is not one.
const Value* find_global(std::string_view name);

// ---- argument binding ----
// Binds positional and keyword arguments to parameter names; unknown
// keywords or surplus positionals are errors naming `fn`.
class BoundArgs {
 public:
  BoundArgs(std::string_view fn, CallArgs& args, std::initializer_list<std::string_view> names);
  const Value* get(size_t i) const { return i < slots_.size() ? slots_[i] : nullptr; }
  bool has(size_t i) const { return get(i) != nullptr && !get(i)->is_undefined(); }
  Value get_or(size_t i, Value fallback) const { return has(i) ? *get(i) : std::move(fallback); }
  const Value& require(size_t i) const;
  int64_t int_or(size_t i, int64_t fallback) const;
  std::string string_or(size_t i, std::string fallback) const;
  bool bool_or(size_t i, bool fallback) const;

 private:
  std::string fn_;
  std::vector<std::string_view> names_;
  std::vector<const Value*> slots_;
};

}  // namespace laneway::chat
