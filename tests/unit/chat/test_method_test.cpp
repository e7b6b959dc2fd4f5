// Builtin tests, str/dict methods and global functions.
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

TEST(ChatTest, DefinedUndefinedNone) {
  EXPECT_EQ(render_ok("{{ x is defined }}{{ y is defined }}{{ y is undefined }}{{ x is none }}{{ x is not none }}", "{\"x\": null}"), "TrueFalseTrueTrueFalse");
}

TEST(ChatTest, Types) {
  EXPECT_EQ(render_ok("{{ 'a' is string }}{{ 1 is string }}{{ {} is mapping }}{{ [] is mapping }}{{ [] is iterable }}{{ 'a' is iterable }}{{ 1 is iterable }}{{ [] is sequence }}{{ 1 is number }}{{ 1.5 is number }}{{ 'a' is number }}", "{}"), "TrueFalseTrueFalseTrueTrueFalseTrueTrueTrueFalse");
}

TEST(ChatTest, IntegerFloatBoolean) {
  EXPECT_EQ(render_ok("{{ 1 is integer }}{{ 1.0 is integer }}{{ 1.0 is float }}{{ true is boolean }}{{ 1 is boolean }}{{ true is true }}{{ 1 is true }}{{ false is false }}", "{}"), "TrueFalseTrueTrueFalseTrueFalseTrue");
}

TEST(ChatTest, Comparisons) {
  EXPECT_EQ(render_ok("{{ 1 is equalto 1 }}{{ 1 is eq(2) }}{{ 2 is gt 1 }}{{ 2 is lt 1 }}{{ 2 is ge 2 }}{{ 1 is ne 1 }}{{ 'a' is in 'abc' }}", "{}"), "TrueFalseTrueFalseTrueFalseTrue");
}

TEST(ChatTest, OddEvenDivisibleby) {
  EXPECT_EQ(render_ok("{{ 3 is odd }}{{ 3 is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(2) }}", "{}"), "TrueFalseTrueFalse");
}

TEST(ChatTest, LowerUpperCallable) {
  EXPECT_EQ(render_ok("{{ 'abc' is lower }}{{ 'aBc' is lower }}{{ 'ABC' is upper }}{{ range is callable }}{{ 1 is callable }}", "{}"), "TrueFalseTrueTrueFalse");
}

TEST(ChatTest, SameasAndFilterTest) {
  EXPECT_EQ(render_ok("{{ none is sameas none }}{{ 'trim' is filter }}{{ 'nope' is filter }}{{ 'odd' is test }}", "{}"), "TrueTrueFalseTrue");
}

TEST(ChatTest, UnknownTestFails) {
  EXPECT_THAT(render_error("{{ 1 is nosuchtest }}", "{}"), HasSubstr("nosuchtest"));
}

TEST(ChatMethod, StartsEndsWith) {
  EXPECT_EQ(render_ok("{{ 'hello'.startswith('he') }}{{ 'hello'.endswith('lo') }}{{ 'hello'.startswith(('x', 'h')) }}{{ 'hello'.endswith('x') }}", "{}"), "TrueTrueTrueFalse");
}

TEST(ChatMethod, Strip) {
  EXPECT_EQ(render_ok("[{{ '  a  '.strip() }}][{{ '  a  '.lstrip() }}][{{ '  a  '.rstrip() }}][{{ 'xax'.strip('x') }}]", "{}"), "[a][a  ][  a][a]");
}

TEST(ChatMethod, Split) {
  EXPECT_EQ(render_ok("{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a,b,c'.split(',', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}", "{}"), "['a', 'b', '', 'c']|['a', 'b']|['a', 'b,c']|['a,b', 'c']");
}

TEST(ChatMethod, CaseMethods) {
  EXPECT_EQ(render_ok("{{ 'aB'.upper() }}{{ 'aB'.lower() }}{{ 'hello world'.title() }}{{ 'hELLO'.capitalize() }}", "{}"), "ABabHello WorldHello");
}

TEST(ChatMethod, ReplaceFindCount) {
  EXPECT_EQ(render_ok("{{ 'aXbX'.replace('X', '-') }}|{{ 'abc'.find('c') }}|{{ 'abc'.find('z') }}|{{ 'aaa'.count('a') }}", "{}"), "a-b-|2|-1|3");
}

TEST(ChatMethod, Format) {
  EXPECT_EQ(render_ok("{{ '{} and {}'.format('a', 'b') }}|{{ '{1}{0}'.format('a', 'b') }}|{{ '{x}!'.format(x=1) }}|{{ '{:>4}|{:.2f}'.format('a', 1.234) }}|{{ '{{}}'.format() }}", "{}"), "a and b|ba|1!|   a|1.23|{}");
}

TEST(ChatMethod, DictMethods) {
  EXPECT_EQ(render_ok("{{ d.get('a') }}|{{ d.get('z') }}|{{ d.get('z', 0) }}|{{ d.keys()|list }}|{{ d.values()|list }}|{{ d.items()|list }}", "{\"d\": {\"a\": 1, \"b\": 2}}"), "1|None|0|['a', 'b']|[1, 2]|[('a', 1), ('b', 2)]");
}

TEST(ChatMethod, DictMethodsWinOverKeys) {
  EXPECT_EQ(render_ok("{{ d.items()|list }}", "{\"d\": {\"items\": 1}}"), "[('items', 1)]");
}

TEST(ChatMethod, StringJoinAndPredicates) {
  EXPECT_EQ(render_ok("{{ '-'.join(['a', 'b']) }}|{{ '12'.isdigit() }}|{{ 'ab'.isalpha() }}|{{ ' '.isspace() }}", "{}"), "a-b|True|True|True");
}

TEST(ChatMethod, ListMutationIsRefused) {
  EXPECT_THAT(render_error("{% set l = [1] %}{{ l.append(2) }}", "{}"), HasSubstr("unsafe"));
}

TEST(ChatGlobal, Range) {
  EXPECT_EQ(render_ok("{{ range(3)|list }}|{{ range(1, 4)|list }}|{{ range(5, 0, -2)|list }}", "{}"), "[0, 1, 2]|[1, 2, 3]|[5, 3, 1]");
}

TEST(ChatGlobal, DictAndNamespace) {
  EXPECT_EQ(render_ok("{{ dict(a=1, b=2) }}|{% set ns = namespace(x=[]) %}{% set ns.x = ns.x + [1] %}{{ ns.x }}", "{}"), "{'a': 1, 'b': 2}|[1]");
}

TEST(ChatGlobal, Joiner) {
  EXPECT_EQ(render_ok("{% set j = joiner(', ') %}{% for x in [1, 2, 3] %}{{ j() }}{{ x }}{% endfor %}", "{}"), "1, 2, 3");
}

}  // namespace
}  // namespace laneway::chat
