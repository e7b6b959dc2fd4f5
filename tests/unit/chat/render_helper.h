// Test helpers: render a template with variables given as JSON text.
#pragma once

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "chat/json_value.h"
#include "chat/template.h"

namespace laneway::chat::test_support {

inline Result<std::string> render(std::string_view tpl, std::string_view vars_json, RenderLimits limits = {}) {
  auto parsed = ChatTemplate::parse(tpl);
  if (!parsed.is_ok()) return parsed.status();
  auto vars = value_from_json_text(vars_json);
  if (!vars.is_ok()) return vars.status();
  return render_template(*parsed, vars->as_dict(), ChatDate{2026, 1, 15}, limits);
}

// The rendered text; a failure is reported and returns "<error>".
inline std::string render_ok(std::string_view tpl, std::string_view vars_json = "{}") {
  auto r = render(tpl, vars_json);
  if (!r.is_ok()) {
    ADD_FAILURE() << "render failed: " << r.status().to_string() << "\ntemplate: " << tpl;
    return "<error>";
  }
  return *r;
}

// The error message; a successful render is reported and returns "".
inline std::string render_error(std::string_view tpl, std::string_view vars_json = "{}", RenderLimits limits = {}) {
  auto r = render(tpl, vars_json, limits);
  if (r.is_ok()) {
    ADD_FAILURE() << "expected an error, rendered: " << *r << "\ntemplate: " << tpl;
    return "";
  }
  return r.status().to_string();
}

}  // namespace laneway::chat::test_support
