// Lexer: template source -> tokens.
//
// Text between tags becomes `text` tokens with Jinja's whitespace control
// already applied: `{%-`/`-%}` (and the same on `{{ }}` and `{# #}`) strip
// all whitespace on that side; with trim_blocks the first newline after a
// block or comment tag is dropped; with lstrip_blocks spaces and tabs from
// the start of a line up to a block or comment tag are dropped (`{%+` keeps
// them, `+%}` keeps the newline). As in Jinja's defaults, newlines are
// normalised to "\n" and one trailing newline of the template is dropped.
// Comments vanish; `{% raw %}` bodies become text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace laneway::chat {

enum class TokenType : uint8_t {
  text,         // literal template data (value in `text`)
  var_begin,    // {{
  var_end,      // }}
  block_begin,  // {%
  block_end,    // %}
  name,         // identifiers and keywords
  string,       // a string literal, unescaped into `text`
  integer,      // `int_value`
  floating,     // `float_value`
  op,           // operators and punctuation, spelled in `text`
  eof,
};

struct Token {
  TokenType type = TokenType::eof;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0.0;
  int line = 1;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Throws TemplateError (syntax) on an unterminated tag, comment, string or
// raw block, or a character that cannot start a token.
std::vector<Token> lex_template(std::string_view source, const LexOptions& options);

}  // namespace laneway::chat
