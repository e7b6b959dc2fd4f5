// Expressions: literals, operators, access, slicing, undefined values.
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

TEST(ChatExpr, Literals) {
  EXPECT_EQ(render_ok("{{ 'a' }}|{{ \"b\" }}|{{ 1 }}|{{ 1.5 }}|{{ true }}|{{ False }}|{{ none }}", "{}"), "a|b|1|1.5|True|False|None");
}

TEST(ChatExpr, StringEscapes) {
  EXPECT_EQ(render_ok("{{ 'a\\nb\\t\\'\\\\' }}", "{}"), "a\nb\t'\\");
}

TEST(ChatExpr, AdjacentStringsConcatenate) {
  EXPECT_EQ(render_ok("{{ 'a' 'b' }}", "{}"), "ab");
}

TEST(ChatExpr, ListAndTupleRepr) {
  EXPECT_EQ(render_ok("{{ [1, 'a', none] }}|{{ (1,) }}|{{ (1, 2) }}|{{ () }}", "{}"), "[1, 'a', None]|(1,)|(1, 2)|()");
}

TEST(ChatExpr, DictRepr) {
  EXPECT_EQ(render_ok("{{ {'a': 1, 'b': [true]} }}", "{}"), "{'a': 1, 'b': [True]}");
}

TEST(ChatExpr, StringReprQuotes) {
  EXPECT_EQ(render_ok("{{ [\"it's\", 'say \"hi\"'] }}", "{}"), "[\"it's\", 'say \"hi\"']");
}

TEST(ChatExpr, Arithmetic) {
  EXPECT_EQ(render_ok("{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 7 / 2 }}|{{ 4 / 2 }}", "{}"), "7|9|3|-4|1|2|1024|3.5|2.0");
}

TEST(ChatExpr, FloatFormatting) {
  EXPECT_EQ(render_ok("{{ 0.1 + 0.2 }}|{{ 1e16 }}|{{ 1e15 }}|{{ 0.0001 }}|{{ 0.00001 }}|{{ 2.50 }}|{{ -0.0 }}", "{}"), "0.30000000000000004|1e+16|1000000000000000.0|0.0001|1e-05|2.5|-0.0");
}

TEST(ChatExpr, StringConcatAndRepeat) {
  EXPECT_EQ(render_ok("{{ 'a' + 'b' }}|{{ 'ab' * 3 }}|{{ 1 ~ 'x' ~ none }}", "{}"), "ab|ababab|1xNone");
}

TEST(ChatExpr, ListConcat) {
  EXPECT_EQ(render_ok("{{ [1] + [2, 3] }}", "{}"), "[1, 2, 3]");
}

TEST(ChatExpr, Comparisons) {
  EXPECT_EQ(render_ok("{{ 1 < 2 }}|{{ 2 <= 1 }}|{{ 1 == 1.0 }}|{{ \"a\" != \"b\" }}|{{ 1 < 2 < 3 }}|{{ 3 > 2 > 2 }}|{{ \"b\" > \"a\" }}", "{}"), "True|False|True|True|True|False|True");
}

TEST(ChatExpr, Membership) {
  EXPECT_EQ(render_ok("{{ 'b' in 'abc' }}|{{ 2 in [1, 2] }}|{{ 'k' in {'k': 1} }}|{{ 3 not in [1] }}", "{}"), "True|True|True|True");
}

TEST(ChatExpr, BooleanOperatorsReturnOperands) {
  EXPECT_EQ(render_ok("{{ 0 or 'x' }}|{{ 1 and 'y' }}|{{ '' and 'z' }}|{{ not 0 }}|{{ not 'a' }}", "{}"), "x|y||True|False");
}

TEST(ChatExpr, ConditionalExpression) {
  EXPECT_EQ(render_ok("{{ 'yes' if 1 else 'no' }}|{{ 'yes' if 0 else 'no' }}|{{ 'only' if false }}", "{}"), "yes|no|");
}

TEST(ChatExpr, AttributeAndItemAccess) {
  EXPECT_EQ(render_ok("{{ d.a }}|{{ d['a'] }}|{{ l[0] }}|{{ l[-1] }}|{{ l.1 }}|{{ d.missing }}|{{ l[10] }}", "{\"d\": {\"a\": 1}, \"l\": [\"x\", \"y\", \"z\"]}"), "1|1|x|z|y||");
}

TEST(ChatExpr, Slicing) {
  EXPECT_EQ(render_ok("{{ l[1:] }}|{{ l[:-1] }}|{{ l[::-1] }}|{{ l[::2] }}|{{ s[1:3] }}|{{ s[::-1] }}", "{\"l\": [1, 2, 3], \"s\": \"abcd\"}"), "[2, 3]|[1, 2]|[3, 2, 1]|[1, 3]|bc|dcba");
}

TEST(ChatExpr, UnicodeSlicingCountsCodePoints) {
  EXPECT_EQ(render_ok("{{ s[1:3] }}|{{ s|length }}|{{ s[-1] }}", "{\"s\": \"Gü世🚀\"}"), "ü世|4|🚀");
}

TEST(ChatExpr, UnaryMinusAndFilterPrecedence) {
  EXPECT_EQ(render_ok("{{ -3|abs }}|{{ -(3) }}", "{}"), "3|-3");
}

TEST(ChatExpr, NoneAttributeIsUndefined) {
  EXPECT_EQ(render_ok("{{ x.y is defined }}", "{\"x\": null}"), "False");
}

TEST(ChatExpr, AttributeOfUndefinedFails) {
  EXPECT_THAT(render_error("{{ x.y }}", "{}"), HasSubstr("'x' is undefined"));
}

TEST(ChatExpr, TypeErrorOnAdd) {
  EXPECT_THAT(render_error("{{ 'a' + 1 }}", "{}"), HasSubstr("str"));
}

TEST(ChatExpr, DivisionByZero) {
  EXPECT_THAT(render_error("{{ 1 / 0 }}", "{}"), HasSubstr("division by zero"));
}

TEST(ChatUndefined, PrintsEmpty) {
  EXPECT_EQ(render_ok("[{{ nothing }}]", "{}"), "[]");
}

TEST(ChatUndefined, IteratesEmpty) {
  EXPECT_EQ(render_ok("{% for x in nothing %}x{% else %}empty{% endfor %}", "{}"), "empty");
}

TEST(ChatUndefined, IsFalsy) {
  EXPECT_EQ(render_ok("{% if nothing %}t{% else %}f{% endif %}", "{}"), "f");
}

TEST(ChatUndefined, ConcatIsEmpty) {
  EXPECT_EQ(render_ok("{{ 'a' ~ nothing ~ 'b' }}", "{}"), "ab");
}

TEST(ChatUndefined, LengthZero) {
  EXPECT_EQ(render_ok("{{ nothing|length }}", "{}"), "0");
}

TEST(ChatUndefined, CallingFails) {
  EXPECT_THAT(render_error("{{ nothing() }}", "{}"), HasSubstr("'nothing' is undefined"));
}

TEST(ChatUndefined, ArithmeticFails) {
  EXPECT_THAT(render_error("{{ nothing + 1 }}", "{}"), HasSubstr("'nothing' is undefined"));
}

}  // namespace
}  // namespace laneway::chat
