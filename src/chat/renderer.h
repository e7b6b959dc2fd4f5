// Renderer: walks a parsed template once, for one set of variables.
//
// A Renderer lives for one render call and is confined to its thread; the
// syntax tree and input values it reads are shared and never mutated. All
// failures are thrown as TemplateError (errors.h) and converted to a Status
// by render_chat.
//
// Scoping follows Jinja: `for` bodies and macro calls get a fresh scope per
// iteration/call (assignments there do not leak out), `if` does not create
// one, and reads fall through to enclosing scopes, then the render
// variables, then the builtin globals.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/ast.h"
#include "chat/value.h"

namespace laneway::chat {

// Bounds that keep hostile templates finite (see template.h).
struct RenderLimits {
  size_t max_output_bytes = size_t{64} << 20;   // any one string or the output
  size_t max_list_items = size_t{1} << 20;      // any one list built while rendering
  int64_t max_iterations = 10'000'000;          // loop iterations + macro calls, in total
  int max_call_depth = 64;                      // nested macro / filter-callback calls
  // Element visits by operators, filters and methods (a list's length, a
  // string's bytes / 16), in total: bounds loops over large values.
  uint64_t max_work = 200'000'000;
};

// Broken-down civil time that strftime_now formats.
struct ChatDate {
  int year = 1970;
  int month = 1;   // 1..12
  int day = 1;     // 1..31
  int hour = 0;
  int minute = 0;
  int second = 0;
};

struct RenderConfig {
  const ValueDict* variables = nullptr;  // the template's variables (messages, bos_token, ...)
  std::optional<ChatDate> now;           // what strftime_now sees; none -> it fails
  RenderLimits limits;
};

// One scope. Frames are shared because macros keep their defining scope.
struct Frame {
  std::shared_ptr<Frame> parent;
  std::vector<std::pair<std::string, Value>> vars;

  Value* find_local(std::string_view name);
  void set(std::string_view name, Value v);
};

class Renderer {
 public:
  explicit Renderer(const RenderConfig& config);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // Renders `body` into `out`.
  void render(const Body& body, std::string& out);

  // ---- services for filters, tests, methods and builtins ----
  const RenderConfig& config() const { return config_; }
  Value call_value(const Value& callee, CallArgs& args);
  Value apply_filter(std::string_view name, Value subject, CallArgs& args);
  bool apply_test(std::string_view name, const Value& subject, CallArgs& args);
  // Throw a limit error when a string or list would grow past the limits.
  void check_string_size(size_t bytes) const;
  void check_list_size(size_t items) const;
  void count_iteration();
  // Charges the cost of touching `v` once (its length) to the work budget.
  void charge_work(const Value& v);
  // iterate_value under the limits: a string iterated by character costs
  // one unit of work per byte (not per 16, as touching it does: each
  // character becomes a value) and its characters are a list of their own.
  std::vector<Value> iterate(const Value& v);
  std::shared_ptr<Namespace> new_namespace();
  // Attribute / item lookup with Jinja's rules (obj.name vs obj[key]).
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);

 private:
  enum class Flow { normal, break_, continue_ };

  Flow exec_body(const Body& body, std::string& out);
  Flow exec(const Stmt& stmt, std::string& out);
  void exec_for(const ForStmt& stmt, std::string& out);
  void exec_set(const AssignTarget& target, Value value, int line);
  void exec_macro(const MacroStmt& stmt);
  void exec_call_block(const CallBlockStmt& stmt, std::string& out);
  Value make_macro(std::string name, const std::vector<MacroParam>* params, const Body* body,
                   std::shared_ptr<Frame> scope, bool is_caller);
  Value call_macro(const std::string& name, const std::vector<MacroParam>& params, const Body& body,
                   const std::shared_ptr<Frame>& scope, CallArgs& args);

  Value eval(const Expr& e);
  Value eval_inner(const Expr& e);
  Value lookup(const std::string& name);
  Value eval_call(const CallExpr& e);
  Value eval_binary(const BinaryExpr& e);
  Value eval_compare(const CompareExpr& e);
  Value eval_slice(const SliceExpr& e);
  CallArgs eval_args(const ArgList& args);
  Value apply_filter_expr(const FilterExpr& f, Value subject);
  void append_output(std::string& out, const Value& v);

  RenderConfig config_;
  std::shared_ptr<Frame> frame_;  // the innermost scope
  std::vector<std::shared_ptr<Frame>> frames_with_macros_;
  std::vector<std::shared_ptr<Namespace>> namespaces_;
  int64_t iterations_ = 0;
  uint64_t work_ = 0;
  int call_depth_ = 0;
};

}  // namespace laneway::chat
