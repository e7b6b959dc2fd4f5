// Errors carry the template line and never crash; limits keep hostile
// templates finite in time and memory.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "chat/template.h"
#include "render_helper.h"

namespace laneway::chat {
namespace {

using ::testing::HasSubstr;
using test_support::render;
using test_support::render_error;

TEST(ChatErrors, SyntaxErrorsNameTheLine) {
  auto t = ChatTemplate::parse("line one\n{% if x %}\nno end");
  ASSERT_FALSE(t.is_ok());
  EXPECT_EQ(t.status().code(), StatusCode::invalid_argument);
  EXPECT_THAT(t.status().message(), HasSubstr("syntax error"));
  EXPECT_THAT(t.status().message(), HasSubstr("endif"));

  auto u = ChatTemplate::parse("a\nb\n{{ 1 + }}");
  ASSERT_FALSE(u.is_ok());
  EXPECT_THAT(u.status().message(), HasSubstr("line 3"));
}

TEST(ChatErrors, MalformedTemplatesAreSyntaxErrors) {
  for (const char* bad : {"{{", "{{ x", "{% for %}", "{% for x in %}{% endfor %}", "{% endif %}", "{# open",
                          "{{ 'unterminated }}", "{% raw %}never closed", "{{ (1 }}", "{{ x | }}",
                          "{% if %}{% endif %}", "{% macro %}{% endmacro %}", "{% break %}", "{{ 1 2 }}",
                          "{% unknown_tag %}", "{% include 'x' %}", "{{ x. }}", "{{ @ }}"}) {
    auto t = ChatTemplate::parse(bad);
    EXPECT_FALSE(t.is_ok()) << bad;
  }
}

TEST(ChatErrors, RuntimeErrorsNameTheLine) {
  EXPECT_THAT(render_error("ok\n\n{{ 1 + 'a' }}"), HasSubstr("line 3"));
  EXPECT_THAT(render_error("{% for m in messages %}\n{{ raise_exception('Bad role: ' ~ m) }}{% endfor %}",
                           R"({"messages": ["x"]})"),
              HasSubstr("line 2: Bad role: x"));
}

TEST(ChatErrors, DeepNestingIsRefused) {
  std::string deep = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  EXPECT_FALSE(ChatTemplate::parse(deep).is_ok());
  std::string chain = "{{ 1";
  for (int i = 0; i < 5000; ++i) chain += " + 1";
  chain += " }}";
  EXPECT_FALSE(ChatTemplate::parse(chain).is_ok());
  std::string ifs;
  for (int i = 0; i < 1000; ++i) ifs += "{% if true %}";
  EXPECT_FALSE(ChatTemplate::parse(ifs).is_ok());
}

TEST(ChatErrors, RunawayRecursionStops) {
  EXPECT_THAT(render_error("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), HasSubstr("deeper than"));
}

TEST(ChatErrors, LoopAndOutputLimits) {
  RenderLimits small;
  small.max_iterations = 1000;
  small.max_output_bytes = 10000;
  small.max_list_items = 1000;
  EXPECT_THAT(render_error("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", "{}", small),
              HasSubstr("iterations"));
  EXPECT_THAT(render_error("{{ 'x' * 100000 }}", "{}", small), HasSubstr("limit"));
  EXPECT_THAT(render_error("{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                           "{}", small),
              HasSubstr("limit"));
  EXPECT_THAT(render_error("{{ range(100000000000) }}", "{}", small), HasSubstr("limit"));
  EXPECT_THAT(render_error("{% for i in range(100) %}{{ 'abcdefghijklmnopqrstuvwxyz' * 10 }}{% endfor %}", "{}", small),
              HasSubstr("limit"));
  auto r = render("{% for i in range(100) %}x{% endfor %}", "{}", small);
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r->size(), 100u);
}

TEST(ChatErrors, LimitErrorsAreResourceExhausted) {
  RenderLimits small;
  small.max_iterations = 10;
  auto r = render("{% for i in range(20) %}{% endfor %}", "{}", small);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::resource_exhausted);
}

TEST(ChatErrors, SelfReferencesDoNotLeak) {
  // Cycles through namespaces and macro scopes are broken after the render
  // (AddressSanitizer's leak check would flag them otherwise).
  EXPECT_TRUE(render("{% set ns = namespace() %}{% set ns.me = ns %}{% set ns.l = [ns] %}", "{}").is_ok());
  EXPECT_TRUE(render("{% macro m() %}{% endmacro %}{% set ns = namespace(f=m) %}{% for x in [1] %}{% set ns.l = loop %}{% endfor %}",
                     "{}").is_ok());
}

TEST(ChatErrors, StrftimeNowWithoutDateFails) {
  auto t = ChatTemplate::parse("{{ strftime_now('%Y') }}");
  ASSERT_TRUE(t.is_ok());
  auto r = render_template(*t, ValueDict{});
  ASSERT_FALSE(r.is_ok());
  EXPECT_THAT(r.status().message(), HasSubstr("no date"));
}

}  // namespace
}  // namespace laneway::chat
