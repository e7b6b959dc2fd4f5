// Parser: tokens -> syntax tree (recursive descent over Jinja's grammar and
// operator precedence). Nesting is bounded (kMaxParseDepth) so hostile input
// cannot exhaust the stack.
#pragma once

#include <string_view>

#include "chat/ast.h"
#include "chat/lexer.h"

namespace laneway::chat {

inline constexpr int kMaxParseDepth = 200;

// Throws TemplateError (syntax) with the offending line.
Body parse_template(std::string_view source, const LexOptions& options);

}  // namespace laneway::chat
