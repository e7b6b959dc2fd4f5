#include "chat/lexer.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "chat/errors.h"
#include "chat/text_util.h"

namespace laneway::chat {
namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string normalize_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

[[noreturn]] void syntax_error(int line, std::string message) {
  throw_template_error(TemplateErrorKind::syntax, std::move(message), line);
}

class Lexer {
 public:
  Lexer(std::string source, const LexOptions& options) : src_(std::move(source)), opt_(options) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      const size_t tag = find_tag(pos_);
      if (tag == std::string::npos) {
        emit_text(src_.substr(pos_), pos_);
        break;
      }
      const char kind = src_[tag + 1];
      const char modifier = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      std::string_view text(src_.data() + pos_, tag - pos_);
      if (modifier == '-') {
        text = rstrip_ws(text);
      } else if (opt_.lstrip_blocks && kind != '{' && modifier != '+') {
        text = lstrip_line(text, pos_);
      }
      emit_text(text, pos_);
      advance_lines(pos_, tag);
      pos_ = tag + 2 + ((modifier == '-' || modifier == '+') ? 1 : 0);
      if (kind == '#') {
        lex_comment();
      } else if (kind == '%' && try_raw(tag)) {
        // raw block handled
      } else {
        lex_tag(kind);
      }
    }
    tokens_.push_back(Token{TokenType::eof, {}, 0, 0.0, line_});
    return std::move(tokens_);
  }

 private:
  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  static std::string_view rstrip_ws(std::string_view t) {
    while (!t.empty() && is_ws(t.back())) t.remove_suffix(1);
    return t;
  }

  // lstrip_blocks: drop spaces/tabs between the line start and the tag.
  std::string_view lstrip_line(std::string_view t, size_t text_start) const {
    const size_t nl = t.rfind('\n');
    const size_t start = nl == std::string_view::npos ? 0 : nl + 1;
    const bool line_starts = nl != std::string_view::npos || text_start == 0 || src_[text_start - 1] == '\n';
    if (!line_starts) return t;
    for (size_t i = start; i < t.size(); ++i) {
      if (!is_ws(t[i])) return t;
    }
    return t.substr(0, start);
  }

  void emit_text(std::string_view t, size_t at) {
    if (t.empty()) return;
    Token tok;
    tok.type = TokenType::text;
    tok.text = std::string(t);
    tok.line = line_;
    (void)at;
    tokens_.push_back(std::move(tok));
  }

  void advance_lines(size_t from, size_t to) {
    line_ += static_cast<int>(std::count(src_.begin() + static_cast<std::ptrdiff_t>(from),
                                         src_.begin() + static_cast<std::ptrdiff_t>(to), '\n'));
  }

  // After a tag's closing delimiter: `-` strips all whitespace, otherwise a
  // block tag drops one newline under trim_blocks (unless `+` precedes).
  void after_tag_end(char marker, bool is_block) {
    if (marker == '-') {
      const size_t start = pos_;
      while (pos_ < src_.size() && is_ws(src_[pos_])) ++pos_;
      advance_lines(start, pos_);
    } else if (is_block && marker != '+' && opt_.trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
      ++line_;
    }
  }

  void lex_comment() {
    const size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) syntax_error(line_, "unterminated comment: missing '#}'");
    const char marker = end > pos_ && src_[end - 1] == '-' ? '-' : (end > pos_ && src_[end - 1] == '+' ? '+' : '\0');
    advance_lines(pos_, end);
    pos_ = end + 2;
    after_tag_end(marker, true);
  }

  bool try_raw(size_t tag) {
    size_t q = pos_;
    while (q < src_.size() && is_ws(src_[q])) ++q;
    if (src_.compare(q, 3, "raw") != 0 || (q + 3 < src_.size() && is_ident_char(src_[q + 3]))) return false;
    q += 3;
    while (q < src_.size() && is_ws(src_[q])) ++q;
    char begin_marker = '\0';
    if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) begin_marker = src_[q++];
    if (src_.compare(q, 2, "%}") != 0) return false;
    const int raw_line = line_;
    advance_lines(tag, q + 2);
    pos_ = q + 2;
    if (begin_marker == '-') after_tag_end('-', true);
    // Find {%[-+]? endraw [-+]?%}
    for (size_t s = src_.find("{%", pos_); s != std::string::npos; s = src_.find("{%", s + 1)) {
      size_t r = s + 2;
      char end_open = '\0';
      if (r < src_.size() && (src_[r] == '-' || src_[r] == '+')) end_open = src_[r++];
      while (r < src_.size() && is_ws(src_[r])) ++r;
      if (src_.compare(r, 6, "endraw") != 0) continue;
      r += 6;
      while (r < src_.size() && is_ws(src_[r])) ++r;
      char end_marker = '\0';
      if (r < src_.size() && (src_[r] == '-' || src_[r] == '+')) end_marker = src_[r++];
      if (src_.compare(r, 2, "%}") != 0) continue;
      std::string_view body(src_.data() + pos_, s - pos_);
      if (end_open == '-') body = rstrip_ws(body);
      else if (opt_.lstrip_blocks && end_open != '+') body = lstrip_line(body, pos_);
      emit_text(body, pos_);
      advance_lines(pos_, r + 2);
      pos_ = r + 2;
      after_tag_end(end_marker, true);
      return true;
    }
    syntax_error(raw_line, "unterminated raw block: missing '{% endraw %}'");
  }

  void push(TokenType type, std::string text = {}) {
    Token tok;
    tok.type = type;
    tok.text = std::move(text);
    tok.line = line_;
    tokens_.push_back(std::move(tok));
  }

  void lex_tag(char kind) {
    const bool is_block = kind == '%';
    const int start_line = line_;
    push(is_block ? TokenType::block_begin : TokenType::var_begin);
    std::vector<char> brackets;
    while (true) {
      while (pos_ < src_.size() && is_ws(src_[pos_])) {
        if (src_[pos_] == '\n') ++line_;
        ++pos_;
      }
      if (pos_ >= src_.size()) {
        syntax_error(start_line, fmt::format("unexpected end of template: the tag opened here is missing '{}'",
                                             is_block ? "%}" : "}}"));
      }
      if (brackets.empty()) {
        const std::string_view close = is_block ? "%}" : "}}";
        char marker = '\0';
        size_t at = pos_;
        if ((src_[at] == '-' || (is_block && src_[at] == '+')) && src_.compare(at + 1, 2, close) == 0) marker = src_[at++];
        if (src_.compare(at, 2, close) == 0) {
          pos_ = at + 2;
          push(is_block ? TokenType::block_end : TokenType::var_end);
          after_tag_end(marker, is_block);
          return;
        }
      }
      lex_token(brackets);
    }
  }

  void lex_token(std::vector<char>& brackets) {
    const char c = src_[pos_];
    if (is_ident_start(c)) {
      const size_t start = pos_;
      while (pos_ < src_.size() && is_ident_char(src_[pos_])) ++pos_;
      push(TokenType::name, src_.substr(start, pos_ - start));
      return;
    }
    if (is_digit(c)) {
      lex_number();
      return;
    }
    if (c == '\'' || c == '"') {
      lex_string(c);
      return;
    }
    static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
    for (std::string_view op : kTwo) {
      if (src_.compare(pos_, 2, op) == 0) {
        pos_ += 2;
        push(TokenType::op, std::string(op));
        return;
      }
    }
    static constexpr std::string_view kOne = "+-*/%~()[]{},.:|=<>;";
    if (kOne.find(c) == std::string_view::npos) {
      syntax_error(line_, fmt::format("unexpected character '{}' in tag", c));
    }
    if (c == '(' || c == '[' || c == '{') brackets.push_back(c);
    if (c == ')' || c == ']' || c == '}') {
      const char open = c == ')' ? '(' : (c == ']' ? '[' : '{');
      if (brackets.empty() || brackets.back() != open) syntax_error(line_, fmt::format("unexpected '{}'", c));
      brackets.pop_back();
    }
    ++pos_;
    push(TokenType::op, std::string(1, c));
  }

  void lex_number() {
    const size_t start = pos_;
    std::string digits;
    bool is_float = false;
    auto take_digits = [&] {
      while (pos_ < src_.size() && (is_digit(src_[pos_]) || (src_[pos_] == '_' && pos_ + 1 < src_.size() && is_digit(src_[pos_ + 1])))) {
        if (src_[pos_] != '_') digits += src_[pos_];
        ++pos_;
      }
    };
    take_digits();
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      is_float = true;
      digits += src_[pos_++];
      take_digits();
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t q = pos_ + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && is_digit(src_[q])) {
        is_float = true;
        digits += 'e';
        digits.append(src_, pos_ + 1, q - pos_ - 1);
        pos_ = q;
        take_digits();
      }
    }
    Token tok;
    tok.line = line_;
    tok.text = src_.substr(start, pos_ - start);
    if (is_float) {
      tok.type = TokenType::floating;
      tok.float_value = std::strtod(digits.c_str(), nullptr);
    } else {
      tok.type = TokenType::integer;
      errno = 0;
      const unsigned long long v = std::strtoull(digits.c_str(), nullptr, 10);
      if (errno == ERANGE || v > static_cast<unsigned long long>(INT64_MAX)) {
        syntax_error(line_, fmt::format("integer literal {} is too large", tok.text));
      }
      tok.int_value = static_cast<int64_t>(v);
    }
    tokens_.push_back(std::move(tok));
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  void lex_string(char quote) {
    const int start_line = line_;
    ++pos_;
    std::string value;
    while (true) {
      if (pos_ >= src_.size()) syntax_error(start_line, "unterminated string literal");
      const char c = src_[pos_];
      if (c == quote) {
        ++pos_;
        break;
      }
      if (c == '\n') ++line_;
      if (c != '\\' || pos_ + 1 >= src_.size()) {
        value += c;
        ++pos_;
        continue;
      }
      const char e = src_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case 'a': value += '\a'; break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case '\n': ++line_; break;  // line continuation
        case 'x': case 'u': case 'U': {
          const int n = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          uint32_t cp = 0;
          bool ok = pos_ + static_cast<size_t>(n) <= src_.size();
          for (int i = 0; ok && i < n; ++i) {
            const int h = hex_value(src_[pos_ + static_cast<size_t>(i)]);
            if (h < 0) ok = false;
            else cp = cp * 16 + static_cast<uint32_t>(h);
          }
          if (!ok || cp > 0x10FFFF) syntax_error(line_, fmt::format("invalid \\{} escape in string literal", e));
          pos_ += static_cast<size_t>(n);
          text::append_utf8(value, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int i = 0; i < 2 && pos_ < src_.size() && src_[pos_] >= '0' && src_[pos_] <= '7'; ++i) {
              cp = cp * 8 + static_cast<uint32_t>(src_[pos_++] - '0');
            }
            text::append_utf8(value, cp);
          } else {
            // Unknown escapes keep their backslash, as in Python.
            value += '\\';
            --pos_;
          }
      }
    }
    Token tok;
    tok.type = TokenType::string;
    tok.text = std::move(value);
    tok.line = start_line;
    tokens_.push_back(std::move(tok));
  }

  std::string src_;
  LexOptions opt_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> lex_template(std::string_view source, const LexOptions& options) {
  return Lexer(normalize_newlines(source), options).run();
}

}  // namespace laneway::chat
