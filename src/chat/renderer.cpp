#include "chat/renderer.h"

#include <fmt/format.h>

#include "chat/builtins.h"
#include "chat/errors.h"

namespace laneway::chat {

Value* Frame::find_local(std::string_view name) {
  for (auto& [k, v] : vars) {
    if (k == name) return &v;
  }
  return nullptr;
}

void Frame::set(std::string_view name, Value v) {
  if (Value* existing = find_local(name)) {
    *existing = std::move(v);
    return;
  }
  vars.emplace_back(std::string(name), std::move(v));
}

Renderer::Renderer(const RenderConfig& config) : config_(config), frame_(std::make_shared<Frame>()) {}

Renderer::~Renderer() {
  // Macros keep their defining scope and namespaces may hold anything, so
  // both can be part of reference cycles; emptying them here frees them.
  for (auto& f : frames_with_macros_) f->vars.clear();
  for (auto& n : namespaces_) n->attrs.entries.clear();
}

void Renderer::render(const Body& body, std::string& out) { exec_body(body, out); }

void Renderer::check_string_size(size_t bytes) const {
  if (bytes > config_.limits.max_output_bytes) {
    throw_template_error(TemplateErrorKind::limit,
                         fmt::format("a string grew past the limit of {} bytes", config_.limits.max_output_bytes));
  }
}

void Renderer::check_list_size(size_t items) const {
  if (items > config_.limits.max_list_items) {
    throw_template_error(TemplateErrorKind::limit,
                         fmt::format("a list grew past the limit of {} items", config_.limits.max_list_items));
  }
}

void Renderer::count_iteration() {
  if (++iterations_ > config_.limits.max_iterations) {
    throw_template_error(TemplateErrorKind::limit,
                         fmt::format("the template ran more than {} loop iterations and calls", config_.limits.max_iterations));
  }
}

void Renderer::charge_work(const Value& v) {
  uint64_t units = 1;
  if (v.is_list()) units += v.as_list().items.size();
  else if (v.is_dict()) units += v.as_dict().entries.size();
  else if (v.is_string()) units += v.as_string().size() / 16;
  work_ += units;
  if (work_ > config_.limits.max_work) {
    throw_template_error(TemplateErrorKind::limit,
                         fmt::format("the template did more than {} units of work", config_.limits.max_work));
  }
}

std::vector<Value> Renderer::iterate(const Value& v) {
  if (v.is_string()) {
    work_ += v.as_string().size();
    charge_work(v);
    check_list_size(v.as_string().size() / 4);  // at least one character per 4 bytes
  }
  std::vector<Value> items = iterate_value(v);
  if (v.is_string()) check_list_size(items.size());
  return items;
}

std::shared_ptr<Namespace> Renderer::new_namespace() {
  if (namespaces_.size() >= 100000) throw_template_error(TemplateErrorKind::limit, "too many namespace() objects");
  namespaces_.push_back(std::make_shared<Namespace>());
  return namespaces_.back();
}

// ---------------------------------------------------------------- statements

Renderer::Flow Renderer::exec_body(const Body& body, std::string& out) {
  for (const StmtPtr& s : body) {
    const Flow f = exec(*s, out);
    if (f != Flow::normal) return f;
  }
  return Flow::normal;
}

void Renderer::append_output(std::string& out, const Value& v) {
  charge_work(v);
  append_value_string(out, v);
  check_string_size(out.size());
}

Renderer::Flow Renderer::exec(const Stmt& stmt, std::string& out) {
  try {
    switch (stmt.kind) {
      case StmtKind::text:
        out += static_cast<const TextStmt&>(stmt).text;
        check_string_size(out.size());
        return Flow::normal;
      case StmtKind::output:
        append_output(out, eval(*static_cast<const OutputStmt&>(stmt).expr));
        return Flow::normal;
      case StmtKind::if_: {
        const auto& s = static_cast<const IfStmt&>(stmt);
        for (const auto& [test, body] : s.branches) {
          if (value_truthy(eval(*test))) return exec_body(body, out);
        }
        return exec_body(s.otherwise, out);
      }
      case StmtKind::for_:
        exec_for(static_cast<const ForStmt&>(stmt), out);
        return Flow::normal;
      case StmtKind::set: {
        const auto& s = static_cast<const SetStmt&>(stmt);
        exec_set(s.target, eval(*s.value), s.line);
        return Flow::normal;
      }
      case StmtKind::set_block: {
        const auto& s = static_cast<const SetBlockStmt&>(stmt);
        std::string captured;
        exec_body(s.body, captured);
        Value v(std::move(captured));
        for (const auto& f : s.filters) v = apply_filter_expr(*f, std::move(v));
        exec_set(s.target, std::move(v), s.line);
        return Flow::normal;
      }
      case StmtKind::macro:
        exec_macro(static_cast<const MacroStmt&>(stmt));
        return Flow::normal;
      case StmtKind::call_block:
        exec_call_block(static_cast<const CallBlockStmt&>(stmt), out);
        return Flow::normal;
      case StmtKind::filter_block: {
        const auto& s = static_cast<const FilterBlockStmt&>(stmt);
        std::string captured;
        exec_body(s.body, captured);
        Value v(std::move(captured));
        for (const auto& f : s.filters) v = apply_filter_expr(*f, std::move(v));
        append_output(out, v);
        return Flow::normal;
      }
      case StmtKind::break_: return Flow::break_;
      case StmtKind::continue_: return Flow::continue_;
      case StmtKind::with: {
        const auto& s = static_cast<const WithStmt&>(stmt);
        auto scope = std::make_shared<Frame>();
        scope->parent = frame_;
        for (const auto& [name, expr] : s.assignments) scope->set(name, eval(*expr));
        std::swap(frame_, scope);
        Flow f;
        try {
          f = exec_body(s.body, out);
        } catch (...) {
          std::swap(frame_, scope);
          throw;
        }
        std::swap(frame_, scope);
        return f;
      }
    }
  } catch (TemplateError& e) {
    if (e.line == 0) e.line = stmt.line;
    throw;
  }
  return Flow::normal;
}

void Renderer::exec_set(const AssignTarget& target, Value value, int line) {
  (void)line;
  if (!target.attr.empty()) {
    Value ns = lookup(target.names[0]);
    if (!ns.is_namespace()) {
      throw_runtime_error("cannot assign attribute on non-namespace object '{}'", target.names[0]);
    }
    ns.as_namespace().attrs.set(Value(target.attr), std::move(value));
    return;
  }
  if (!target.unpack) {
    frame_->set(target.names[0], std::move(value));
    return;
  }
  std::vector<Value> items = iterate(value);
  if (items.size() != target.names.size()) {
    throw_runtime_error("cannot unpack {} values into {} names", items.size(), target.names.size());
  }
  for (size_t i = 0; i < items.size(); ++i) frame_->set(target.names[i], std::move(items[i]));
}

namespace {

// Restores the renderer's scope pointer on every exit path.
class ScopeSwap {
 public:
  ScopeSwap(std::shared_ptr<Frame>& slot, std::shared_ptr<Frame> scope) : slot_(slot), saved_(std::move(slot)) {
    slot_ = std::move(scope);
  }
  ~ScopeSwap() { slot_ = std::move(saved_); }
  ScopeSwap(const ScopeSwap&) = delete;
  ScopeSwap& operator=(const ScopeSwap&) = delete;

 private:
  std::shared_ptr<Frame>& slot_;
  std::shared_ptr<Frame> saved_;
};

}  // namespace

void Renderer::exec_for(const ForStmt& stmt, std::string& out) {
  if (stmt.recursive) throw_runtime_error("recursive for loops are not supported");
  const Value iterable = eval(*stmt.iterable);
  if (iterable.is_none()) throw_runtime_error("'NoneType' object is not iterable");
  charge_work(iterable);
  auto items = std::make_shared<std::vector<Value>>(iterate(iterable));
  auto bind_target = [&](Frame& frame, const Value& item) {
    if (!stmt.target.unpack) {
      frame.set(stmt.target.names[0], item);
      return;
    }
    std::vector<Value> parts = iterate(item);
    if (parts.size() != stmt.target.names.size()) {
      throw_runtime_error("cannot unpack {} values into {} loop variables", parts.size(), stmt.target.names.size());
    }
    for (size_t i = 0; i < parts.size(); ++i) frame.set(stmt.target.names[i], std::move(parts[i]));
  };
  if (stmt.filter) {
    // `for x in xs if cond`: filter first, so loop.length and friends count
    // only the kept items.
    auto kept = std::make_shared<std::vector<Value>>();
    for (const Value& item : *items) {
      count_iteration();
      auto scope = std::make_shared<Frame>();
      scope->parent = frame_;
      bind_target(*scope, item);
      ScopeSwap swap(frame_, scope);
      if (value_truthy(eval(*stmt.filter))) kept->push_back(item);
    }
    items = std::move(kept);
  }
  if (items->empty()) {
    exec_body(stmt.otherwise, out);
    return;
  }
  auto loop = std::make_shared<LoopState>();
  loop->length = static_cast<int64_t>(items->size());
  loop->items = items;
  // loop.depth counts recursive loop() calls only, which are not supported,
  // so it is always 1.
  loop->depth0 = 0;
  struct ChangedReset {
    LoopState& loop;
    ~ChangedReset() { loop.last_changed.reset(); }  // it may hold the loop itself
  } reset{*loop};
  const Value loop_value(loop);
  for (size_t i = 0; i < items->size(); ++i) {
    count_iteration();
    loop->index0 = static_cast<int64_t>(i);
    auto scope = std::make_shared<Frame>();
    scope->parent = frame_;
    scope->vars.reserve(2 + stmt.target.names.size());
    scope->vars.emplace_back("loop", loop_value);
    bind_target(*scope, (*items)[i]);
    ScopeSwap swap(frame_, std::move(scope));
    if (exec_body(stmt.body, out) == Flow::break_) break;
  }
}

Value Renderer::make_macro(std::string name, const std::vector<MacroParam>* params, const Body* body,
                           std::shared_ptr<Frame> scope, bool is_caller) {
  (void)is_caller;
  frames_with_macros_.push_back(scope);
  auto callable = std::make_shared<Callable>();
  callable->name = name;
  callable->fn = [name, params, body, scope](Renderer& r, CallArgs& args) {
    return r.call_macro(name, *params, *body, scope, args);
  };
  return Value(std::shared_ptr<const Callable>(std::move(callable)));
}

void Renderer::exec_macro(const MacroStmt& stmt) {
  frame_->set(stmt.name, make_macro(stmt.name, &stmt.params, &stmt.body, frame_, false));
}

void Renderer::exec_call_block(const CallBlockStmt& stmt, std::string& out) {
  Value caller = make_macro("caller", &stmt.caller_params, &stmt.body, frame_, true);
  const Value callee = eval(*stmt.call->callee);
  CallArgs args = eval_args(stmt.call->args);
  args.keyword.emplace_back("caller", std::move(caller));
  append_output(out, call_value(callee, args));
}

Value Renderer::call_macro(const std::string& name, const std::vector<MacroParam>& params, const Body& body,
                           const std::shared_ptr<Frame>& scope, CallArgs& args) {
  count_iteration();
  auto frame = std::make_shared<Frame>();
  frame->parent = scope;
  std::vector<bool> bound(params.size(), false);
  std::vector<Value> varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < params.size()) {
      frame->set(params[i].name, std::move(args.positional[i]));
      bound[i] = true;
    } else {
      varargs.push_back(std::move(args.positional[i]));
    }
  }
  ValueDict kwargs;
  Value caller;
  for (auto& [key, value] : args.keyword) {
    size_t i = 0;
    while (i < params.size() && params[i].name != key) ++i;
    if (i < params.size()) {
      if (bound[i]) throw_runtime_error("macro '{}' got multiple values for argument '{}'", name, key);
      frame->set(key, std::move(value));
      bound[i] = true;
    } else if (key == "caller") {
      caller = std::move(value);
    } else {
      kwargs.set(Value(key), std::move(value));
    }
  }
  ScopeSwap swap(frame_, frame);
  // Defaults are evaluated in the macro's scope, so they may use earlier
  // parameters.
  for (size_t i = 0; i < params.size(); ++i) {
    if (bound[i]) continue;
    frame->set(params[i].name, params[i].default_value ? eval(*params[i].default_value) : Value::undefined(params[i].name));
  }
  frame->set("varargs", Value::list(std::move(varargs), true));
  frame->set("kwargs", Value::dict(std::move(kwargs)));
  if (!caller.is_undefined()) frame->set("caller", std::move(caller));
  std::string out;
  exec_body(body, out);
  return Value(std::move(out));
}

// --------------------------------------------------------------- expressions

Value Renderer::eval(const Expr& e) {
  try {
    return eval_inner(e);
  } catch (TemplateError& err) {
    if (err.line == 0) err.line = e.line;
    throw;
  }
}

Value Renderer::lookup(const std::string& name) {
  for (Frame* f = frame_.get(); f != nullptr; f = f->parent.get()) {
    if (Value* v = f->find_local(name)) return *v;
  }
  if (config_.variables != nullptr) {
    if (const Value* v = config_.variables->find(std::string_view(name))) return *v;
  }
  if (const Value* g = find_global(name)) return *g;
  return Value::undefined(name);
}

Value Renderer::eval_inner(const Expr& e) {
  switch (e.kind) {
    case ExprKind::literal: return static_cast<const LiteralExpr&>(e).value;
    case ExprKind::name: return lookup(static_cast<const NameExpr&>(e).name);
    case ExprKind::attr: {
      const auto& a = static_cast<const AttrExpr&>(e);
      return get_attr(eval(*a.object), a.name);
    }
    case ExprKind::item: {
      const auto& a = static_cast<const ItemExpr&>(e);
      const Value obj = eval(*a.object);
      return get_item(obj, eval(*a.key));
    }
    case ExprKind::slice: return eval_slice(static_cast<const SliceExpr&>(e));
    case ExprKind::call: return eval_call(static_cast<const CallExpr&>(e));
    case ExprKind::filter: {
      const auto& f = static_cast<const FilterExpr&>(e);
      return apply_filter_expr(f, f.subject ? eval(*f.subject) : Value());
    }
    case ExprKind::test: {
      const auto& t = static_cast<const TestExpr&>(e);
      const Value subject = eval(*t.subject);
      CallArgs args = eval_args(t.args);
      const bool r = apply_test(t.name, subject, args);
      return Value(t.negated ? !r : r);
    }
    case ExprKind::unary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      const Value v = eval(*u.operand);
      switch (u.op) {
        case UnaryOp::not_: return Value(!value_truthy(v));
        case UnaryOp::neg: return unary_minus(v);
        case UnaryOp::pos:
          if (!v.is_number()) throw_runtime_error("bad operand type for unary +: '{}'", value_type_name(v));
          return v.is_bool() ? Value(v.as_int()) : v;
      }
      return v;
    }
    case ExprKind::binary: return eval_binary(static_cast<const BinaryExpr&>(e));
    case ExprKind::compare: return eval_compare(static_cast<const CompareExpr&>(e));
    case ExprKind::cond: {
      const auto& c = static_cast<const CondExpr&>(e);
      if (value_truthy(eval(*c.test))) return eval(*c.then);
      return c.otherwise ? eval(*c.otherwise) : Value::undefined();
    }
    case ExprKind::list: {
      const auto& l = static_cast<const ListExpr&>(e);
      std::vector<Value> items;
      items.reserve(l.items.size());
      for (const ExprPtr& item : l.items) items.push_back(eval(*item));
      return Value::list(std::move(items), l.is_tuple);
    }
    case ExprKind::dict: {
      const auto& d = static_cast<const DictExpr&>(e);
      ValueDict dict;
      for (const auto& [k, v] : d.entries) {
        Value key = eval(*k);
        if (key.is_list() && !key.as_list().is_tuple) throw_runtime_error("unhashable type: 'list'");
        if (key.is_dict()) throw_runtime_error("unhashable type: 'dict'");
        dict.set(std::move(key), eval(*v));
      }
      return Value::dict(std::move(dict));
    }
  }
  return Value();
}

Value Renderer::get_attr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case ValueKind::undefined:
      if (obj.undefined_name().empty()) throw_runtime_error("undefined value has no attribute '{}'", name);
      throw_runtime_error("'{}' is undefined", obj.undefined_name());
    case ValueKind::dict: {
      if (const Value* v = obj.as_dict().find(std::string_view(name))) return *v;
      if (has_method(obj, name)) return bind_method(obj, name);
      return Value::undefined(name);
    }
    case ValueKind::namespace_: {
      if (const Value* v = obj.as_namespace().attrs.find(std::string_view(name))) return *v;
      return Value::undefined(name);
    }
    case ValueKind::loop: {
      const LoopState& l = obj.as_loop();
      if (name == "index") return Value(l.index0 + 1);
      if (name == "index0") return Value(l.index0);
      if (name == "revindex") return Value(l.length - l.index0);
      if (name == "revindex0") return Value(l.length - l.index0 - 1);
      if (name == "first") return Value(l.index0 == 0);
      if (name == "last") return Value(l.index0 == l.length - 1);
      if (name == "length") return Value(l.length);
      if (name == "depth") return Value(l.depth0 + 1);
      if (name == "depth0") return Value(l.depth0);
      if (name == "previtem") {
        return l.index0 > 0 ? (*l.items)[static_cast<size_t>(l.index0 - 1)] : Value::undefined("previtem");
      }
      if (name == "nextitem") {
        return l.index0 + 1 < l.length ? (*l.items)[static_cast<size_t>(l.index0 + 1)] : Value::undefined("nextitem");
      }
      if (has_method(obj, name)) return bind_method(obj, name);
      return Value::undefined(name);
    }
    case ValueKind::list: {
      // groupby() yields (grouper, list) pairs that Jinja names.
      const ValueList& l = obj.as_list();
      if (l.is_tuple && l.items.size() == 2 && (name == "grouper" || name == "list")) {
        return l.items[name == "grouper" ? 0 : 1];
      }
      if (has_method(obj, name)) return bind_method(obj, name);
      return Value::undefined(name);
    }
    default:
      if (has_method(obj, name)) return bind_method(obj, name);
      return Value::undefined(name);
  }
}

Value Renderer::get_item(const Value& obj, const Value& key) {
  switch (obj.kind()) {
    case ValueKind::undefined:
      if (obj.undefined_name().empty()) throw_runtime_error("undefined value has no item {}", value_repr(key));
      throw_runtime_error("'{}' is undefined", obj.undefined_name());
    case ValueKind::dict: {
      if (const Value* v = obj.as_dict().find(key)) return *v;
      return Value::undefined(key.is_string() ? key.as_string() : value_repr(key));
    }
    case ValueKind::list:
    case ValueKind::string:
      if (key.is_int() || key.is_bool()) return index_value(obj, key.as_int());
      if (key.is_string()) return get_attr(obj, key.as_string());
      throw_runtime_error("{} indices must be integers, not {}", value_type_name(obj), value_type_name(key));
    case ValueKind::namespace_:
    case ValueKind::loop:
      if (key.is_string()) return get_attr(obj, key.as_string());
      return Value::undefined();
    default:
      return Value::undefined(key.is_string() ? key.as_string() : value_repr(key));
  }
}

Value Renderer::eval_slice(const SliceExpr& e) {
  const Value obj = eval(*e.object);
  const Value start = e.start ? eval(*e.start) : Value::none();
  const Value stop = e.stop ? eval(*e.stop) : Value::none();
  const Value step = e.step ? eval(*e.step) : Value::none();
  return slice_value(obj, &start, &stop, &step);
}

CallArgs Renderer::eval_args(const ArgList& list) {
  CallArgs args;
  args.positional.reserve(list.args.size());
  for (const CallArg& a : list.args) {
    if (a.name.empty()) args.positional.push_back(eval(*a.value));
    else args.keyword.emplace_back(a.name, eval(*a.value));
  }
  if (list.star_args) {
    for (Value& v : iterate(eval(*list.star_args))) args.positional.push_back(std::move(v));
  }
  if (list.star_kwargs) {
    const Value kw = eval(*list.star_kwargs);
    if (!kw.is_dict()) throw_runtime_error("argument after ** must be a mapping, not {}", value_type_name(kw));
    for (const auto& [k, v] : kw.as_dict().entries) {
      if (!k.is_string()) throw_runtime_error("keywords must be strings");
      args.keyword.emplace_back(k.as_string(), v);
    }
  }
  return args;
}

Value Renderer::call_value(const Value& callee, CallArgs& args) {
  if (!callee.is_callable()) {
    if (callee.is_undefined() && !callee.undefined_name().empty()) {
      throw_runtime_error("'{}' is undefined", callee.undefined_name());
    }
    throw_runtime_error("'{}' object is not callable", value_type_name(callee));
  }
  if (++call_depth_ > config_.limits.max_call_depth) {
    --call_depth_;
    throw_template_error(TemplateErrorKind::limit,
                         fmt::format("calls nest deeper than {} (runaway macro recursion?)", config_.limits.max_call_depth));
  }
  struct Restore {
    int& depth;
    ~Restore() { --depth; }
  } restore{call_depth_};
  return callee.as_callable().fn(*this, args);
}

Value Renderer::eval_call(const CallExpr& e) {
  if (e.callee->kind == ExprKind::attr) {
    // obj.method(...): str/dict/list methods win over dict keys, as with
    // Python's getattr-first lookup.
    const auto& a = static_cast<const AttrExpr&>(*e.callee);
    const Value obj = eval(*a.object);
    if (has_method(obj, a.name)) {
      CallArgs args = eval_args(e.args);
      charge_work(obj);
      for (const Value& v : args.positional) charge_work(v);
      return *call_method(*this, obj, a.name, args);
    }
    const Value callee = get_attr(obj, a.name);
    CallArgs args = eval_args(e.args);
    return call_value(callee, args);
  }
  const Value callee = eval(*e.callee);
  CallArgs args = eval_args(e.args);
  return call_value(callee, args);
}

Value Renderer::eval_binary(const BinaryExpr& e) {
  if (e.op == BinaryOp::and_) {
    Value left = eval(*e.left);
    return value_truthy(left) ? eval(*e.right) : left;
  }
  if (e.op == BinaryOp::or_) {
    Value left = eval(*e.left);
    return value_truthy(left) ? left : eval(*e.right);
  }
  const Value left = eval(*e.left);
  const Value right = eval(*e.right);
  charge_work(left);
  charge_work(right);
  return binary_op(*this, e.op, left, right);
}

Value Renderer::eval_compare(const CompareExpr& e) {
  Value left = eval(*e.first);
  for (const auto& [op, expr] : e.rest) {
    Value right = eval(*expr);
    charge_work(left);
    charge_work(right);
    bool ok = false;
    switch (op) {
      case CompareOp::eq: ok = value_equals(left, right); break;
      case CompareOp::ne: ok = !value_equals(left, right); break;
      case CompareOp::lt: ok = value_less(left, right); break;
      case CompareOp::le: ok = !value_less(right, left); break;
      case CompareOp::gt: ok = value_less(right, left); break;
      case CompareOp::ge: ok = !value_less(left, right); break;
      case CompareOp::in: ok = value_contains(right, left); break;
      case CompareOp::not_in: ok = !value_contains(right, left); break;
    }
    if (!ok) return Value(false);
    left = std::move(right);
  }
  return Value(true);
}

Value Renderer::apply_filter_expr(const FilterExpr& f, Value subject) {
  CallArgs args = eval_args(f.args);
  return apply_filter(f.name, std::move(subject), args);
}

Value Renderer::apply_filter(std::string_view name, Value subject, CallArgs& args) {
  if (!has_filter(name)) throw_template_error(TemplateErrorKind::runtime, fmt::format("no filter named '{}'", name));
  charge_work(subject);
  return call_filter(*this, name, std::move(subject), args);
}

bool Renderer::apply_test(std::string_view name, const Value& subject, CallArgs& args) {
  if (!has_test(name)) throw_template_error(TemplateErrorKind::runtime, fmt::format("no test named '{}'", name));
  charge_work(subject);
  for (const Value& a : args.positional) charge_work(a);
  return call_test(*this, name, subject, args);
}

}  // namespace laneway::chat
