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

// A string iterated by character makes a value per character: it costs a
// unit of work per byte and its characters count as a list (a fuzzed template
// that joined a joined string took 7.7 s of CPU under ASan before). Touching
// a long string (its length, a filter on the whole) stays cheap.
std::string render_ok_within(std::string_view tpl, std::string_view vars, const RenderLimits& limits) {
  auto r = render(tpl, vars, limits);
  if (!r.is_ok()) return r.status().to_string();
  return *r;
}

TEST(ChatErrors, IteratingLongStringsIsBounded) {
  RenderLimits limits;
  limits.max_work = 300000;
  const std::string vars = R"({"s": ")" + std::string(200000, 'x') + R"("})";
  EXPECT_THAT(render_error("{{ s|join(',') }}{{ s|join(',') }}", vars, limits), HasSubstr("units of work"));
  EXPECT_THAT(render_error("{{ (s|join(','))|join(',') }}", vars, limits), HasSubstr("units of work"));
  EXPECT_THAT(render_error("{{ s|list|length }}{{ s|unique|list|length }}", vars, limits), HasSubstr("units of work"));
  EXPECT_THAT(render_error("{% for c in s %}{% endfor %}{% for c in s %}{% endfor %}", vars, limits),
              HasSubstr("units of work"));
  EXPECT_EQ(render_ok_within("{{ s|join('')|length }}", vars, limits), "200000");  // once is within the budget
  // Touching it costs a unit per 16 bytes: five rounds of two filters fit where two iterations did not.
  EXPECT_EQ(render_ok_within("{% for i in range(5) %}{{ s|length }}{{ s|upper|length }}{% endfor %}", vars, limits),
            "200000200000200000200000200000200000200000200000200000200000");
  limits.max_list_items = 1000;
  EXPECT_THAT(render_error("{{ s|first }}", vars, limits), HasSubstr("a list grew past the limit of 1000 items"));
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
