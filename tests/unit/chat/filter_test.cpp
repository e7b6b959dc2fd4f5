// Builtin filters.
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

TEST(ChatFilter, Trim) {
  EXPECT_EQ(render_ok("[{{ '  a b \n'|trim }}]|[{{ 'xxaxx'|trim('x') }}]", "{}"), "[a b]|[a]");
}

TEST(ChatFilter, LengthAndCount) {
  EXPECT_EQ(render_ok("{{ [1, 2]|length }}{{ 'héllo'|length }}{{ {'a': 1}|count }}", "{}"), "251");
}

TEST(ChatFilter, UpperLowerCapitalizeTitle) {
  EXPECT_EQ(render_ok("{{ 'aBc'|upper }}|{{ 'aBc'|lower }}|{{ 'hello WORLD'|capitalize }}|{{ 'hello big-world (x)'|title }}|{{ 'grüße'|upper }}", "{}"), "ABC|abc|Hello world|Hello Big-World (X)|GRÜSSE");
}

TEST(ChatFilter, Replace) {
  EXPECT_EQ(render_ok("{{ 'aaa'|replace('a', 'b') }}|{{ 'aaa'|replace('a', 'b', 2) }}", "{}"), "bbb|bba");
}

TEST(ChatFilter, Join) {
  EXPECT_EQ(render_ok("{{ [1, 2, 3]|join(', ') }}|{{ [{'n': 'a'}, {'n': 'b'}]|join('-', attribute='n') }}|{{ 'abc'|join('.') }}", "{}"), "1, 2, 3|a-b|a.b.c");
}

TEST(ChatFilter, Default) {
  EXPECT_EQ(render_ok("{{ nothing|default('d') }}|{{ ''|default('d') }}|{{ ''|default('d', true) }}|{{ none|d('x') }}", "{}"), "d||d|None");
}

TEST(ChatFilter, Items) {
  EXPECT_EQ(render_ok("{% for k, v in {'a': 1, 'b': 2}|items %}{{ k }}{{ v }}{% endfor %}|{{ {'a': 1}|items|list }}", "{}"), "a1b2|[('a', 1)]");
}

TEST(ChatFilter, List) {
  EXPECT_EQ(render_ok("{{ 'ab'|list }}|{{ {'a': 1}|list }}|{{ (1, 2)|list }}", "{}"), "['a', 'b']|['a']|[1, 2]");
}

TEST(ChatFilter, FirstLast) {
  EXPECT_EQ(render_ok("{{ [1, 2, 3]|first }}{{ [1, 2, 3]|last }}{{ 'xyz'|first }}[{{ []|first }}]", "{}"), "13x[]");
}

TEST(ChatFilter, Map) {
  EXPECT_EQ(render_ok("{{ [{'n': 'a'}, {'n': 'b'}]|map(attribute='n')|list }}|{{ ['a', 'b']|map('upper')|join }}|{{ [1, 2]|map('string')|list }}", "{}"), "['a', 'b']|AB|['1', '2']");
}

TEST(ChatFilter, SelectReject) {
  EXPECT_EQ(render_ok("{{ range(6)|select('odd')|list }}|{{ range(6)|reject('odd')|list }}|{{ [0, 1, '', 'a']|select|list }}|{{ [1, 2, 3]|select('equalto', 2)|list }}", "{}"), "[1, 3, 5]|[0, 2, 4]|[1, 'a']|[2]");
}

TEST(ChatFilter, SelectAttrRejectAttr) {
  EXPECT_EQ(render_ok("{{ msgs|selectattr('role', 'equalto', 'user')|map(attribute='c')|join }}|{{ msgs|rejectattr('role', 'equalto', 'user')|map(attribute='c')|join }}|{{ msgs|selectattr('flag')|list|length }}", "{\"msgs\": [{\"role\": \"user\", \"c\": \"a\"}, {\"role\": \"system\", \"c\": \"b\", \"flag\": true}, {\"role\": \"user\", \"c\": \"c\"}]}"), "ac|b|1");
}

TEST(ChatFilter, StringIntFloat) {
  EXPECT_EQ(render_ok("{{ 12|string ~ 'x' }}|{{ '42'|int + 1 }}|{{ '3.9'|int }}|{{ 'x'|int }}|{{ 'x'|int(7) }}|{{ '2.5'|float }}|{{ 3|float }}", "{}"), "12x|43|3|0|7|2.5|3.0");
}

TEST(ChatFilter, Safe) {
  EXPECT_EQ(render_ok("{{ '<b>'|safe }}", "{}"), "<b>");
}

TEST(ChatFilter, Escape) {
  EXPECT_EQ(render_ok("{{ '<a href=\"x\">&\\'</a>'|e }}", "{}"), "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt;");
}

TEST(ChatFilter, Indent) {
  EXPECT_EQ(render_ok("{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, true) }}|{{ 'a\n\nb'|indent(2, blank=true) }}|{{ 'a\n'|indent }}", "{}"), "a\n  b\n\n  c|  a\n  b|a\n  \n  b|a\n");
}

TEST(ChatFilter, Tojson) {
  EXPECT_EQ(render_ok("{{ {'a': [1, 2.5, none, true], 'b': 'é\"\n'}|tojson }}", "{}"), "{\"a\": [1, 2.5, null, true], \"b\": \"é\\\"\\n\"}");
}

TEST(ChatFilter, TojsonIndent) {
  EXPECT_EQ(render_ok("{{ {'a': [1], 'b': {}}|tojson(indent=2) }}", "{}"), "{\n  \"a\": [\n    1\n  ],\n  \"b\": {}\n}");
}

TEST(ChatFilter, TojsonKeepsKeyOrder) {
  EXPECT_EQ(render_ok("{{ d|tojson }}", "{\"d\": {\"z\": 1, \"a\": 2}}"), "{\"z\": 1, \"a\": 2}");
}

TEST(ChatFilter, Unique) {
  EXPECT_EQ(render_ok("{{ [1, 2, 1, 3, 2]|unique|list }}|{{ ['a', 'A', 'b']|unique|list }}", "{}"), "[1, 2, 3]|['a', 'b']");
}

TEST(ChatFilter, Sort) {
  EXPECT_EQ(render_ok("{{ [3, 1, 2]|sort }}|{{ [3, 1, 2]|sort(reverse=true) }}|{{ ['b', 'A', 'c']|sort }}|{{ [{'k': 2}, {'k': 1}]|sort(attribute='k')|map(attribute='k')|list }}", "{}"), "[1, 2, 3]|[3, 2, 1]|['A', 'b', 'c']|[1, 2]");
}

TEST(ChatFilter, DictSort) {
  EXPECT_EQ(render_ok("{{ {'b': 1, 'a': 2}|dictsort }}", "{}"), "[('a', 2), ('b', 1)]");
}

TEST(ChatFilter, Reverse) {
  EXPECT_EQ(render_ok("{{ 'abc'|reverse }}|{{ [1, 2]|reverse|list }}", "{}"), "cba|[2, 1]");
}

TEST(ChatFilter, SumMinMaxAbsRound) {
  EXPECT_EQ(render_ok("{{ [1, 2, 3]|sum }}|{{ [3, 1]|min }}|{{ [3, 1]|max }}|{{ -2|abs }}|{{ 2.567|round(2) }}|{{ 2.5|round }}|{{ 2.1|round(method='ceil') }}", "{}"), "6|1|3|2|2.57|2.0|3.0");
}

TEST(ChatFilter, Batch) {
  EXPECT_EQ(render_ok("{{ [1, 2, 3]|batch(2)|list }}|{{ [1, 2, 3]|batch(2, 0)|list }}", "{}"), "[[1, 2], [3]]|[[1, 2], [3, 0]]");
}

TEST(ChatFilter, CenterWordcountTruncate) {
  EXPECT_EQ(render_ok("[{{ 'ab'|center(6) }}]|{{ 'a b, c'|wordcount }}|{{ 'hello world foo'|truncate(9, leeway=0) }}", "{}"), "[  ab  ]|3|hello...");
}

TEST(ChatFilter, Format) {
  EXPECT_EQ(render_ok("{{ '%s-%d-%.2f'|format('a', 3, 1.5) }}|{{ '%s' % 'x' }}|{{ '%(a)s'|format(a=1) }}", "{}"), "a-3-1.50|x|1");
}

TEST(ChatFilter, AttrSkipsItems) {
  EXPECT_EQ(render_ok("[{{ d|attr('a') }}]", "{\"d\": {\"a\": 1}}"), "[]");
}

TEST(ChatFilter, Groupby) {
  EXPECT_EQ(render_ok("{% for g in [{'t': 'x', 'v': 1}, {'t': 'y', 'v': 2}, {'t': 'x', 'v': 3}]|groupby('t') %}{{ g.grouper }}:{{ g.list|map(attribute='v')|join(',') }};{% endfor %}", "{}"), "x:1,3;y:2;");
}

TEST(ChatFilter, UnknownFilterFails) {
  EXPECT_THAT(render_error("{{ 1|nosuchfilter }}", "{}"), HasSubstr("nosuchfilter"));
}

}  // namespace
}  // namespace laneway::chat
