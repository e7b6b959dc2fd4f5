// Internal failure signal of the template engine.
//
// Parsing and rendering are deeply recursive; inside the module an error is
// thrown as TemplateError and caught at the public entry points
// (ChatTemplate::parse, render_chat), which turn it into a Status. No
// exception crosses the module boundary.
#pragma once

#include <string>
#include <utility>

#include <fmt/format.h>

namespace laneway::chat {

enum class TemplateErrorKind {
  syntax,   // the template source is malformed
  runtime,  // a type error, undefined call, ... while rendering
  raised,   // the template called raise_exception(msg)
  limit,    // a render limit (output size, iterations, depth) was reached
};

struct TemplateError {
  TemplateErrorKind kind = TemplateErrorKind::runtime;
  std::string message;
  int line = 0;  // 1-based template line; 0 when not known yet
};

[[noreturn]] inline void throw_template_error(TemplateErrorKind kind, std::string message, int line = 0) {
  throw TemplateError{kind, std::move(message), line};
}

template <typename... Args>
[[noreturn]] void throw_runtime_error(fmt::format_string<Args...> f, Args&&... args) {
  throw_template_error(TemplateErrorKind::runtime, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace laneway::chat
