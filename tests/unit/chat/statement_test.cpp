// Statements: if, for (loop variables, else, filters, break/continue), set, namespace, macros, call, filter, with, raise_exception, strftime_now.
// Expected strings follow Jinja's documented behaviour in the reference
// environment (trim_blocks, lstrip_blocks, loopcontrols, sandbox).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "render_helper.h"

namespace laneway::chat {
namespace {

using ::testing::HasSubstr;
using test_support::render_error;
using test_support::render_ok;

TEST(ChatStmt, IfElifElse) {
  EXPECT_EQ(render_ok("{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %},{% endfor %}", "{}"), "one,two,many,");
}

TEST(ChatStmt, ForLoopVariables) {
  EXPECT_EQ(render_ok("{% for x in \"abc\" %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first|int }}{{ loop.last|int }}{{ loop.length }} {% endfor %}", "{}"), "1032103 2121003 3210013 ");
}

TEST(ChatStmt, ForLoopPrevNextCycle) {
  EXPECT_EQ(render_ok("{% for x in [1, 2, 3] %}{{ loop.previtem }}<{{ x }}>{{ loop.nextitem }}{{ loop.cycle('a', 'b') }};{% endfor %}", "{}"), "<1>2a;1<2>3b;2<3>a;");
}

TEST(ChatStmt, ForElse) {
  EXPECT_EQ(render_ok("{% for x in [] %}x{% else %}none{% endfor %}", "{}"), "none");
}

TEST(ChatStmt, ForInlineFilter) {
  EXPECT_EQ(render_ok("{% for x in range(10) if x is odd %}{{ x }}{{ \",\" if not loop.last }}{% endfor %}", "{}"), "1,3,5,7,9");
}

TEST(ChatStmt, ForUnpacking) {
  EXPECT_EQ(render_ok("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}", "{}"), "a=1;b=2;");
}

TEST(ChatStmt, ForOverDictGivesKeys) {
  EXPECT_EQ(render_ok("{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}", "{}"), "ab");
}

TEST(ChatStmt, BreakAndContinue) {
  EXPECT_EQ(render_ok("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}", "{}"), "0134");
}

TEST(ChatStmt, NestedLoopDepth) {
  EXPECT_EQ(render_ok("{% for a in [1] %}{% for b in [1] %}{{ loop.depth }}{% endfor %}{{ loop.depth }}{% endfor %}", "{}"), "11");
}

TEST(ChatStmt, LoopScopeDoesNotLeak) {
  EXPECT_EQ(render_ok("{% set x = 1 %}{% for i in [5] %}{% set x = i %}{{ x }}{% endfor %}{{ x }}", "{}"), "51");
}

TEST(ChatStmt, IfScopeLeaks) {
  EXPECT_EQ(render_ok("{% if true %}{% set x = 2 %}{% endif %}{{ x }}", "{}"), "2");
}

TEST(ChatStmt, NamespaceCarriesOutOfLoops) {
  EXPECT_EQ(render_ok("{% set ns = namespace(n=0, found=false) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}{{ ns.found }}", "{}"), "6False");
}

TEST(ChatStmt, SetTupleUnpacking) {
  EXPECT_EQ(render_ok("{% set a, b = 1, 2 %}{{ a }}{{ b }}", "{}"), "12");
}

TEST(ChatStmt, BlockSet) {
  EXPECT_EQ(render_ok("{% set greeting %}Hello {{ who }}{% endset %}[{{ greeting }}]", "{\"who\": \"Bob\"}"), "[Hello Bob]");
}

TEST(ChatStmt, BlockSetWithFilter) {
  EXPECT_EQ(render_ok("{% set s | upper %}abc{% endset %}{{ s }}", "{}"), "ABC");
}

TEST(ChatStmt, MacroWithDefaults) {
  EXPECT_EQ(render_ok("{% macro tag(name, cls='x') %}<{{ name }} {{ cls }}>{% endmacro %}{{ tag('a') }}{{ tag('b', cls='y') }}{{ tag('c', 'z') }}", "{}"), "<a x><b y><c z>");
}

TEST(ChatStmt, MacroVarargsKwargs) {
  EXPECT_EQ(render_ok("{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}", "{}"), "1(2,){'k': 3}");
}

TEST(ChatStmt, MacroSeesTemplateVariables) {
  EXPECT_EQ(render_ok("{% macro m() %}{{ who }}{% endmacro %}{% set who = \"me\" %}{{ m() }}", "{}"), "me");
}

TEST(ChatStmt, MacroRecursion) {
  EXPECT_EQ(render_ok("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}", "{}"), "321");
}

TEST(ChatStmt, CallBlock) {
  EXPECT_EQ(render_ok("{% macro box() %}[{{ caller() }}]{% endmacro %}{% call box() %}inside{% endcall %}", "{}"), "[inside]");
}

TEST(ChatStmt, CallBlockWithArguments) {
  EXPECT_EQ(render_ok("{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(v) each([1, 2]) %}<{{ v }}>{% endcall %}", "{}"), "<1><2>");
}

TEST(ChatStmt, FilterBlock) {
  EXPECT_EQ(render_ok("{% filter upper %}abc{{ 1 }}{% endfilter %}", "{}"), "ABC1");
}

TEST(ChatStmt, WithBlock) {
  EXPECT_EQ(render_ok("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]", "{}"), "3[]");
}

TEST(ChatStmt, RaiseException) {
  EXPECT_THAT(render_error("{{ raise_exception('bad role') }}", "{}"), HasSubstr("bad role"));
}

TEST(ChatStmt, StrftimeNowUsesInjectedDate) {
  EXPECT_EQ(render_ok("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %A') }}", "{}"), "15 Jan 2026|2026-01-15 Thursday");
}

}  // namespace
}  // namespace laneway::chat
