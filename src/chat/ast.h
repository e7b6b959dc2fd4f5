// Syntax tree of a parsed template. Nodes are immutable after parsing and
// owned by their parent (the root by ChatTemplate), so a parsed template can
// be rendered from several threads at once. Every node keeps its template
// line for error messages.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace laneway::chat {

// ---- expressions ----

enum class ExprKind : uint8_t {
  literal, name, attr, item, slice, call, filter, test, unary, binary, compare, cond, list, dict,
};

struct Expr {
  explicit Expr(ExprKind k, int l) : kind(k), line(l) {}
  virtual ~Expr() = default;
  ExprKind kind;
  int line;
};
using ExprPtr = std::unique_ptr<Expr>;

// One argument at a call site: positional when `name` is empty.
struct CallArg {
  std::string name;
  ExprPtr value;
};
struct ArgList {
  std::vector<CallArg> args;
  ExprPtr star_args;    // *expr
  ExprPtr star_kwargs;  // **expr
};

struct LiteralExpr : Expr {
  LiteralExpr(Value v, int l) : Expr(ExprKind::literal, l), value(std::move(v)) {}
  Value value;
};
struct NameExpr : Expr {
  NameExpr(std::string n, int l) : Expr(ExprKind::name, l), name(std::move(n)) {}
  std::string name;
};
struct AttrExpr : Expr {  // obj.name
  AttrExpr(ExprPtr o, std::string n, int l) : Expr(ExprKind::attr, l), object(std::move(o)), name(std::move(n)) {}
  ExprPtr object;
  std::string name;
};
struct ItemExpr : Expr {  // obj[key]
  ItemExpr(ExprPtr o, ExprPtr k, int l) : Expr(ExprKind::item, l), object(std::move(o)), key(std::move(k)) {}
  ExprPtr object;
  ExprPtr key;
};
struct SliceExpr : Expr {  // obj[start:stop:step]; parts may be null
  explicit SliceExpr(int l) : Expr(ExprKind::slice, l) {}
  ExprPtr object, start, stop, step;
};
struct CallExpr : Expr {
  CallExpr(ExprPtr c, int l) : Expr(ExprKind::call, l), callee(std::move(c)) {}
  ExprPtr callee;
  ArgList args;
};
struct FilterExpr : Expr {  // subject | name(args); subject null inside {% filter %}
  explicit FilterExpr(int l) : Expr(ExprKind::filter, l) {}
  ExprPtr subject;
  std::string name;
  ArgList args;
};
struct TestExpr : Expr {  // subject is [not] name(args)
  explicit TestExpr(int l) : Expr(ExprKind::test, l) {}
  ExprPtr subject;
  std::string name;
  ArgList args;
  bool negated = false;
};
enum class UnaryOp : uint8_t { neg, pos, not_ };
struct UnaryExpr : Expr {
  UnaryExpr(UnaryOp o, ExprPtr e, int l) : Expr(ExprKind::unary, l), op(o), operand(std::move(e)) {}
  UnaryOp op;
  ExprPtr operand;
};
enum class BinaryOp : uint8_t { add, sub, mul, div, floordiv, mod, pow, concat, and_, or_ };
struct BinaryExpr : Expr {
  BinaryExpr(BinaryOp o, ExprPtr a, ExprPtr b, int l)
      : Expr(ExprKind::binary, l), op(o), left(std::move(a)), right(std::move(b)) {}
  BinaryOp op;
  ExprPtr left, right;
};
enum class CompareOp : uint8_t { eq, ne, lt, le, gt, ge, in, not_in };
struct CompareExpr : Expr {  // chained: a < b < c
  explicit CompareExpr(int l) : Expr(ExprKind::compare, l) {}
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};
struct CondExpr : Expr {  // then if test else otherwise (otherwise may be null)
  explicit CondExpr(int l) : Expr(ExprKind::cond, l) {}
  ExprPtr test, then, otherwise;
};
struct ListExpr : Expr {
  ListExpr(bool tuple, int l) : Expr(ExprKind::list, l), is_tuple(tuple) {}
  std::vector<ExprPtr> items;
  bool is_tuple;
};
struct DictExpr : Expr {
  explicit DictExpr(int l) : Expr(ExprKind::dict, l) {}
  std::vector<std::pair<ExprPtr, ExprPtr>> entries;
};

// ---- statements ----

enum class StmtKind : uint8_t {
  text, output, if_, for_, set, set_block, macro, call_block, filter_block, break_, continue_, with,
};

struct Stmt {
  explicit Stmt(StmtKind k, int l) : kind(k), line(l) {}
  virtual ~Stmt() = default;
  StmtKind kind;
  int line;
};
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// What `set` and `for` assign to: one name, `ns.attr`, or several names
// unpacked from a sequence.
struct AssignTarget {
  std::vector<std::string> names;  // one entry unless unpacking
  std::string attr;                // non-empty for ns.attr (names[0] is the namespace)
  bool unpack = false;
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null when required
};

struct TextStmt : Stmt {
  TextStmt(std::string t, int l) : Stmt(StmtKind::text, l), text(std::move(t)) {}
  std::string text;
};
struct OutputStmt : Stmt {
  OutputStmt(ExprPtr e, int l) : Stmt(StmtKind::output, l), expr(std::move(e)) {}
  ExprPtr expr;
};
struct IfStmt : Stmt {
  explicit IfStmt(int l) : Stmt(StmtKind::if_, l) {}
  std::vector<std::pair<ExprPtr, Body>> branches;  // if, elif...
  Body otherwise;
};
struct ForStmt : Stmt {
  explicit ForStmt(int l) : Stmt(StmtKind::for_, l) {}
  AssignTarget target;
  ExprPtr iterable;
  ExprPtr filter;  // `for x in xs if cond`; may be null
  Body body;
  Body otherwise;
  bool recursive = false;
};
struct SetStmt : Stmt {
  explicit SetStmt(int l) : Stmt(StmtKind::set, l) {}
  AssignTarget target;
  ExprPtr value;
};
struct SetBlockStmt : Stmt {  // {% set x | filters %}body{% endset %}
  explicit SetBlockStmt(int l) : Stmt(StmtKind::set_block, l) {}
  AssignTarget target;
  std::vector<std::unique_ptr<FilterExpr>> filters;  // subjects null
  Body body;
};
struct MacroStmt : Stmt {
  explicit MacroStmt(int l) : Stmt(StmtKind::macro, l) {}
  std::string name;
  std::vector<MacroParam> params;
  Body body;
};
struct CallBlockStmt : Stmt {  // {% call(params) callee(args) %}body{% endcall %}
  explicit CallBlockStmt(int l) : Stmt(StmtKind::call_block, l) {}
  std::vector<MacroParam> caller_params;
  std::unique_ptr<CallExpr> call;
  Body body;
};
struct FilterBlockStmt : Stmt {
  explicit FilterBlockStmt(int l) : Stmt(StmtKind::filter_block, l) {}
  std::vector<std::unique_ptr<FilterExpr>> filters;  // subjects null
  Body body;
};
struct LoopControlStmt : Stmt {
  LoopControlStmt(bool is_break, int l) : Stmt(is_break ? StmtKind::break_ : StmtKind::continue_, l) {}
};
struct WithStmt : Stmt {
  explicit WithStmt(int l) : Stmt(StmtKind::with, l) {}
  std::vector<std::pair<std::string, ExprPtr>> assignments;
  Body body;
};

}  // namespace laneway::chat
