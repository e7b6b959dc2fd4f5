#include "chat/parser.h"

#include <initializer_list>

#include <fmt/format.h>

#include "chat/errors.h"

namespace laneway::chat {
namespace {

std::string describe(const Token& t) {
  switch (t.type) {
    case TokenType::text: return "template text";
    case TokenType::var_begin: return "'{{'";
    case TokenType::var_end: return "'}}'";
    case TokenType::block_begin: return "'{%'";
    case TokenType::block_end: return "'%}'";
    case TokenType::name: return fmt::format("'{}'", t.text);
    case TokenType::string: return "a string";
    case TokenType::integer:
    case TokenType::floating: return fmt::format("'{}'", t.text);
    case TokenType::op: return fmt::format("'{}'", t.text);
    case TokenType::eof: return "end of template";
  }
  return "token";
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Body parse_root() {
    std::string end;
    Body body = parse_body({}, end);
    return body;
  }

 private:
  // ---- token helpers ----
  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t n = 1) const { return toks_[std::min(pos_ + n, toks_.size() - 1)]; }
  void next() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool is_op(std::string_view op) const { return cur().type == TokenType::op && cur().text == op; }
  bool is_name(std::string_view n) const { return cur().type == TokenType::name && cur().text == n; }
  bool accept_op(std::string_view op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool accept_name(std::string_view n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  [[noreturn]] void fail(std::string message) const {
    throw_template_error(TemplateErrorKind::syntax, std::move(message), cur().line);
  }
  void expect_op(std::string_view op) {
    if (!accept_op(op)) fail(fmt::format("expected '{}', got {}", op, describe(cur())));
  }
  void expect_block_end() {
    if (cur().type != TokenType::block_end) fail(fmt::format("expected end of statement '%}}', got {}", describe(cur())));
    next();
  }
  std::string expect_identifier() {
    if (cur().type != TokenType::name) fail(fmt::format("expected a name, got {}", describe(cur())));
    std::string n = cur().text;
    next();
    return n;
  }

  // Left-nested chains (a + b + c ..., a.b.c ...) deepen the tree as much
  // as parentheses do, so they count against the same limit.
  struct ChainGuard {
    explicit ChainGuard(Parser& p) : parser(p) {}
    ~ChainGuard() { parser.depth_ -= steps; }
    void step() {
      ++steps;
      if (++parser.depth_ > kMaxParseDepth) parser.fail("expression too long or nested too deeply");
    }
    Parser& parser;
    int steps = 0;
  };

  struct DepthGuard {
    explicit DepthGuard(Parser& p) : parser(p) {
      if (++parser.depth_ > kMaxParseDepth) parser.fail("template nested too deeply");
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  // ---- statements ----

  // Parses until one of `ends` opens a block tag (the tag's keyword is left
  // in `found` and consumed) or, with no ends, to the end of the template.
  Body parse_body(std::initializer_list<std::string_view> ends, std::string& found) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == TokenType::eof) {
        if (ends.size() == 0) return body;
        std::string_view closing = *ends.begin();
        for (std::string_view e : ends) {
          if (e.substr(0, 3) == "end") closing = e;
        }
        fail(fmt::format("unexpected end of template: missing '{{% {} %}}'", closing));
      }
      if (t.type == TokenType::text) {
        body.push_back(std::make_unique<TextStmt>(t.text, t.line));
        next();
      } else if (t.type == TokenType::var_begin) {
        const int line = t.line;
        next();
        ExprPtr e = parse_tuple(true);
        if (cur().type != TokenType::var_end) fail(fmt::format("expected end of print statement '}}}}', got {}", describe(cur())));
        next();
        body.push_back(std::make_unique<OutputStmt>(std::move(e), line));
      } else if (t.type == TokenType::block_begin) {
        next();
        if (cur().type != TokenType::name) fail(fmt::format("expected a statement name, got {}", describe(cur())));
        const std::string keyword = cur().text;
        for (std::string_view e : ends) {
          if (keyword == e) {
            next();
            found = keyword;
            return body;
          }
        }
        body.push_back(parse_statement());
      } else {
        fail(fmt::format("unexpected {}", describe(t)));
      }
    }
  }

  StmtPtr parse_statement() {
    const int line = cur().line;
    const std::string kw = cur().text;
    next();
    if (kw == "if") return parse_if(line);
    if (kw == "for") return parse_for(line);
    if (kw == "set") return parse_set(line);
    if (kw == "macro") return parse_macro(line);
    if (kw == "call") return parse_call_block(line);
    if (kw == "filter") return parse_filter_block(line);
    if (kw == "with") return parse_with(line);
    if (kw == "break" || kw == "continue") {
      if (loop_depth_ == 0) fail(fmt::format("'{}' outside of a loop", kw));
      expect_block_end();
      return std::make_unique<LoopControlStmt>(kw == "break", line);
    }
    if (kw == "include" || kw == "extends" || kw == "import" || kw == "from" || kw == "block" || kw == "do" ||
        kw == "autoescape" || kw == "trans") {
      fail(fmt::format("the '{}' statement is not supported in chat templates", kw));
    }
    fail(fmt::format("unknown statement '{}'", kw));
  }

  StmtPtr parse_if(int line) {
    auto stmt = std::make_unique<IfStmt>(line);
    while (true) {
      ExprPtr test = parse_tuple(false);
      expect_block_end();
      std::string found;
      Body body = parse_body({"elif", "else", "endif"}, found);
      stmt->branches.emplace_back(std::move(test), std::move(body));
      if (found == "elif") continue;
      if (found == "else") {
        expect_block_end();
        stmt->otherwise = parse_body({"endif"}, found);
      }
      expect_block_end();
      return stmt;
    }
  }

  AssignTarget parse_assign_target(bool allow_attr) {
    AssignTarget target;
    const bool parens = accept_op("(");
    target.names.push_back(expect_identifier());
    if (allow_attr && !parens && accept_op(".")) {
      target.attr = expect_identifier();
      return target;
    }
    while (accept_op(",")) {
      target.unpack = true;
      if (cur().type != TokenType::name) break;  // trailing comma
      target.names.push_back(expect_identifier());
    }
    if (parens) {
      expect_op(")");
      target.unpack = true;
    }
    return target;
  }

  StmtPtr parse_for(int line) {
    auto stmt = std::make_unique<ForStmt>(line);
    stmt->target = parse_assign_target(false);
    if (!accept_name("in")) fail(fmt::format("expected 'in' in for loop, got {}", describe(cur())));
    stmt->iterable = parse_tuple(false);
    if (accept_name("if")) stmt->filter = parse_expression(true);
    if (accept_name("recursive")) stmt->recursive = true;
    expect_block_end();
    std::string found;
    ++loop_depth_;
    stmt->body = parse_body({"endfor", "else"}, found);
    --loop_depth_;
    if (found == "else") {
      expect_block_end();
      stmt->otherwise = parse_body({"endfor"}, found);
    }
    expect_block_end();
    return stmt;
  }

  StmtPtr parse_set(int line) {
    AssignTarget target = parse_assign_target(true);
    if (accept_op("=")) {
      auto stmt = std::make_unique<SetStmt>(line);
      stmt->target = std::move(target);
      stmt->value = parse_tuple(true);
      expect_block_end();
      return stmt;
    }
    if (target.unpack) fail("a block set assigns to one name");
    auto stmt = std::make_unique<SetBlockStmt>(line);
    stmt->target = std::move(target);
    while (accept_op("|")) stmt->filters.push_back(parse_filter_call(nullptr));
    expect_block_end();
    std::string found;
    stmt->body = parse_body({"endset"}, found);
    expect_block_end();
    return stmt;
  }

  std::vector<MacroParam> parse_params() {
    std::vector<MacroParam> params;
    expect_op("(");
    while (!is_op(")")) {
      if (!params.empty()) expect_op(",");
      if (is_op(")")) break;
      MacroParam p;
      p.name = expect_identifier();
      if (accept_op("=")) p.default_value = parse_expression(true);
      else if (!params.empty() && params.back().default_value) fail("non-default argument follows default argument");
      params.push_back(std::move(p));
    }
    expect_op(")");
    return params;
  }

  StmtPtr parse_macro(int line) {
    auto stmt = std::make_unique<MacroStmt>(line);
    stmt->name = expect_identifier();
    stmt->params = parse_params();
    expect_block_end();
    const int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    std::string found;
    stmt->body = parse_body({"endmacro"}, found);
    loop_depth_ = saved_loop_depth;
    if (cur().type == TokenType::name) next();  // {% endmacro name %}
    expect_block_end();
    return stmt;
  }

  StmtPtr parse_call_block(int line) {
    auto stmt = std::make_unique<CallBlockStmt>(line);
    if (is_op("(")) stmt->caller_params = parse_params();
    ExprPtr e = parse_expression(true);
    if (e->kind != ExprKind::call) fail("expected a call after 'call'");
    stmt->call.reset(static_cast<CallExpr*>(e.release()));
    expect_block_end();
    const int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    std::string found;
    stmt->body = parse_body({"endcall"}, found);
    loop_depth_ = saved_loop_depth;
    expect_block_end();
    return stmt;
  }

  StmtPtr parse_filter_block(int line) {
    auto stmt = std::make_unique<FilterBlockStmt>(line);
    stmt->filters.push_back(parse_filter_call(nullptr));
    while (accept_op("|")) stmt->filters.push_back(parse_filter_call(nullptr));
    expect_block_end();
    std::string found;
    stmt->body = parse_body({"endfilter"}, found);
    expect_block_end();
    return stmt;
  }

  StmtPtr parse_with(int line) {
    auto stmt = std::make_unique<WithStmt>(line);
    while (cur().type != TokenType::block_end) {
      if (!stmt->assignments.empty()) expect_op(",");
      std::string name = expect_identifier();
      expect_op("=");
      stmt->assignments.emplace_back(std::move(name), parse_expression(true));
    }
    expect_block_end();
    std::string found;
    stmt->body = parse_body({"endwith"}, found);
    expect_block_end();
    return stmt;
  }

  // ---- expressions ----

  bool at_expression_end() const {
    const Token& t = cur();
    return t.type == TokenType::var_end || t.type == TokenType::block_end || t.type == TokenType::eof ||
           (t.type == TokenType::op && (t.text == ")" || t.text == "]" || t.text == "}")) ||
           (t.type == TokenType::name && (t.text == "if" || t.text == "recursive"));
  }

  // expr or expr, expr, ... (a tuple)
  ExprPtr parse_tuple(bool with_condexpr) {
    const int line = cur().line;
    ExprPtr first = parse_expression(with_condexpr);
    if (!is_op(",")) return first;
    auto tuple = std::make_unique<ListExpr>(true, line);
    tuple->items.push_back(std::move(first));
    while (accept_op(",")) {
      if (at_expression_end()) break;
      tuple->items.push_back(parse_expression(with_condexpr));
    }
    return tuple;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(*this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr expr = parse_or();
    ChainGuard chain(*this);
    while (is_name("if")) {
      chain.step();
      const int line = cur().line;
      next();
      auto cond = std::make_unique<CondExpr>(line);
      cond->test = parse_or();
      if (accept_name("else")) cond->otherwise = parse_condexpr();
      cond->then = std::move(expr);
      expr = std::move(cond);
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    ChainGuard chain(*this);
    while (is_name("or")) {
      const int line = cur().line;
      next();
      chain.step();
      left = std::make_unique<BinaryExpr>(BinaryOp::or_, std::move(left), parse_and(), line);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    ChainGuard chain(*this);
    while (is_name("and")) {
      const int line = cur().line;
      next();
      chain.step();
      left = std::make_unique<BinaryExpr>(BinaryOp::and_, std::move(left), parse_not(), line);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      const int line = cur().line;
      next();
      return std::make_unique<UnaryExpr>(UnaryOp::not_, parse_not(), line);
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = cur().line;
    ExprPtr first = parse_math1();
    std::unique_ptr<CompareExpr> cmp;
    while (true) {
      CompareOp op;
      if (is_op("==")) op = CompareOp::eq;
      else if (is_op("!=")) op = CompareOp::ne;
      else if (is_op("<")) op = CompareOp::lt;
      else if (is_op("<=")) op = CompareOp::le;
      else if (is_op(">")) op = CompareOp::gt;
      else if (is_op(">=")) op = CompareOp::ge;
      else if (is_name("in")) op = CompareOp::in;
      else if (is_name("not") && peek().type == TokenType::name && peek().text == "in") {
        next();
        op = CompareOp::not_in;
      } else {
        break;
      }
      next();
      if (!cmp) {
        cmp = std::make_unique<CompareExpr>(line);
        cmp->first = std::move(first);
      }
      cmp->rest.emplace_back(op, parse_math1());
    }
    if (cmp) return cmp;
    return first;
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    ChainGuard chain(*this);
    while (is_op("+") || is_op("-")) {
      const BinaryOp op = is_op("+") ? BinaryOp::add : BinaryOp::sub;
      const int line = cur().line;
      next();
      chain.step();
      left = std::make_unique<BinaryExpr>(op, std::move(left), parse_concat(), line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    ChainGuard chain(*this);
    while (is_op("~")) {
      const int line = cur().line;
      next();
      chain.step();
      left = std::make_unique<BinaryExpr>(BinaryOp::concat, std::move(left), parse_math2(), line);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    ChainGuard chain(*this);
    while (true) {
      BinaryOp op;
      if (is_op("*")) op = BinaryOp::mul;
      else if (is_op("/")) op = BinaryOp::div;
      else if (is_op("//")) op = BinaryOp::floordiv;
      else if (is_op("%")) op = BinaryOp::mod;
      else break;
      const int line = cur().line;
      next();
      chain.step();
      left = std::make_unique<BinaryExpr>(op, std::move(left), parse_pow(), line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    ChainGuard chain(*this);
    while (is_op("**")) {
      const int line = cur().line;
      next();
      chain.step();
      left = std::make_unique<BinaryExpr>(BinaryOp::pow, std::move(left), parse_unary(true), line);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    const int line = cur().line;
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const UnaryOp op = is_op("-") ? UnaryOp::neg : UnaryOp::pos;
      next();
      node = std::make_unique<UnaryExpr>(op, parse_unary(false), line);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_chain(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    const int line = t.line;
    switch (t.type) {
      case TokenType::name: {
        const std::string n = t.text;
        next();
        if (n == "true" || n == "True") return std::make_unique<LiteralExpr>(Value(true), line);
        if (n == "false" || n == "False") return std::make_unique<LiteralExpr>(Value(false), line);
        if (n == "none" || n == "None") return std::make_unique<LiteralExpr>(Value::none(), line);
        return std::make_unique<NameExpr>(n, line);
      }
      case TokenType::string: {
        std::string s = t.text;
        next();
        while (cur().type == TokenType::string) {  // adjacent literals concatenate
          s += cur().text;
          next();
        }
        return std::make_unique<LiteralExpr>(Value(std::move(s)), line);
      }
      case TokenType::integer: {
        const int64_t v = t.int_value;
        next();
        return std::make_unique<LiteralExpr>(Value(v), line);
      }
      case TokenType::floating: {
        const double v = t.float_value;
        next();
        return std::make_unique<LiteralExpr>(Value(v), line);
      }
      case TokenType::op:
        if (t.text == "(") {
          next();
          if (accept_op(")")) return std::make_unique<ListExpr>(true, line);  // ()
          ExprPtr e = parse_expression(true);
          if (is_op(",")) {
            auto tuple = std::make_unique<ListExpr>(true, line);
            tuple->items.push_back(std::move(e));
            while (accept_op(",")) {
              if (is_op(")")) break;
              tuple->items.push_back(parse_expression(true));
            }
            e = std::move(tuple);
          }
          expect_op(")");
          return e;
        }
        if (t.text == "[") {
          next();
          auto list = std::make_unique<ListExpr>(false, line);
          while (!is_op("]")) {
            if (!list->items.empty()) expect_op(",");
            if (is_op("]")) break;
            list->items.push_back(parse_expression(true));
          }
          expect_op("]");
          return list;
        }
        if (t.text == "{") {
          next();
          auto dict = std::make_unique<DictExpr>(line);
          while (!is_op("}")) {
            if (!dict->entries.empty()) expect_op(",");
            if (is_op("}")) break;
            ExprPtr key = parse_expression(true);
            expect_op(":");
            dict->entries.emplace_back(std::move(key), parse_expression(true));
          }
          expect_op("}");
          return dict;
        }
        break;
      default:
        break;
    }
    fail(fmt::format("unexpected {} in expression", describe(t)));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    ChainGuard chain(*this);
    while (true) {
      const int line = cur().line;
      if (is_op(".")) {
        next();
        if (cur().type == TokenType::name) {
          node = std::make_unique<AttrExpr>(std::move(node), cur().text, line);
          next();
        } else if (cur().type == TokenType::integer) {
          node = std::make_unique<ItemExpr>(std::move(node), std::make_unique<LiteralExpr>(Value(cur().int_value), line), line);
          next();
        } else {
          fail(fmt::format("expected an attribute name after '.', got {}", describe(cur())));
        }
      } else if (is_op("[")) {
        next();
        node = parse_subscript(std::move(node), line);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
      chain.step();
    }
  }

  ExprPtr parse_subscript(ExprPtr object, int line) {
    ExprPtr start;
    if (!is_op(":")) {
      start = parse_expression(true);
      if (accept_op("]")) return std::make_unique<ItemExpr>(std::move(object), std::move(start), line);
    }
    auto slice = std::make_unique<SliceExpr>(line);
    slice->object = std::move(object);
    slice->start = std::move(start);
    expect_op(":");
    if (!is_op("]") && !is_op(":")) slice->stop = parse_expression(true);
    if (accept_op(":")) {
      if (!is_op("]")) slice->step = parse_expression(true);
    }
    expect_op("]");
    return slice;
  }

  void parse_args(ArgList& out) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (accept_op("*")) {
        out.star_args = parse_expression(true);
      } else if (accept_op("**")) {
        out.star_kwargs = parse_expression(true);
      } else if (cur().type == TokenType::name && peek().type == TokenType::op && peek().text == "=") {
        CallArg a;
        a.name = cur().text;
        next();
        next();
        a.value = parse_expression(true);
        out.args.push_back(std::move(a));
      } else {
        if (!out.args.empty() && !out.args.back().name.empty()) fail("positional argument follows keyword argument");
        out.args.push_back(CallArg{{}, parse_expression(true)});
      }
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    DepthGuard guard(*this);
    auto call = std::make_unique<CallExpr>(std::move(callee), cur().line);
    parse_args(call->args);
    return call;
  }

  std::unique_ptr<FilterExpr> parse_filter_call(ExprPtr subject) {
    DepthGuard guard(*this);
    auto f = std::make_unique<FilterExpr>(cur().line);
    f->subject = std::move(subject);
    f->name = expect_identifier();
    while (accept_op(".")) {
      f->name += '.';
      f->name += expect_identifier();
    }
    if (is_op("(")) parse_args(f->args);
    return f;
  }

  ExprPtr parse_filter_chain(ExprPtr node) {
    ChainGuard chain(*this);
    while (true) {
      chain.step();
      if (accept_op("|")) {
        node = parse_filter_call(std::move(node));
      } else if (is_name("is")) {
        DepthGuard guard(*this);
        auto t = std::make_unique<TestExpr>(cur().line);
        next();
        t->negated = accept_name("not");
        t->name = expect_identifier();
        while (accept_op(".")) {
          t->name += '.';
          t->name += expect_identifier();
        }
        const Token& c = cur();
        if (is_op("(")) {
          parse_args(t->args);
        } else if ((c.type == TokenType::name && c.text != "else" && c.text != "or" && c.text != "and" &&
                    c.text != "is" && c.text != "if" && c.text != "in" && c.text != "not") ||
                   c.type == TokenType::string || c.type == TokenType::integer || c.type == TokenType::floating ||
                   is_op("[") || is_op("{")) {
          // `x is divisibleby 3`: one argument without parentheses.
          t->args.args.push_back(CallArg{{}, parse_postfix(parse_primary())});
        }
        t->subject = std::move(node);
        node = std::move(t);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Body parse_template(std::string_view source, const LexOptions& options) {
  return Parser(lex_template(source, options)).parse_root();
}

}  // namespace laneway::chat
