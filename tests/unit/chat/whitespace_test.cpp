// Whitespace control (trim_blocks, lstrip_blocks, -, +), comments, raw blocks and newline handling.
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

TEST(ChatWhitespace, TrimBlocksDropsNewlineAfterBlockTag) {
  EXPECT_EQ(render_ok("{% if true %}\nyes\n{% endif %}\nend", "{}"), "yes\nend");
}

TEST(ChatWhitespace, NoTrimAfterExpression) {
  EXPECT_EQ(render_ok("{{ 1 }}\n{{ 2 }}", "{}"), "1\n2");
}

TEST(ChatWhitespace, LstripBlocksDropsIndentBeforeTag) {
  EXPECT_EQ(render_ok("a\n    {% if true %}\n    b\n    {% endif %}\nc", "{}"), "a\n    b\nc");
}

TEST(ChatWhitespace, LstripDoesNotTouchExpressions) {
  EXPECT_EQ(render_ok("  {{ 1 }}", "{}"), "  1");
}

TEST(ChatWhitespace, LstripOnlyWhenTagStartsLine) {
  EXPECT_EQ(render_ok("x  {% if true %}y{% endif %}", "{}"), "x  y");
}

TEST(ChatWhitespace, MinusStripsBefore) {
  EXPECT_EQ(render_ok("a  \n  {%- if true %}b{% endif %}", "{}"), "ab");
}

TEST(ChatWhitespace, MinusStripsAfter) {
  EXPECT_EQ(render_ok("{% if true -%}  \n  b{% endif %}", "{}"), "b");
}

TEST(ChatWhitespace, MinusOnExpressions) {
  EXPECT_EQ(render_ok("a \n {{- 1 -}} \n b", "{}"), "a1b");
}

TEST(ChatWhitespace, PlusKeepsIndentation) {
  EXPECT_EQ(render_ok("  {%+ if true %}x{% endif %}", "{}"), "  x");
}

TEST(ChatWhitespace, PlusKeepsNewline) {
  EXPECT_EQ(render_ok("{% if true +%}\nx{% endif %}", "{}"), "\nx");
}

TEST(ChatWhitespace, CommentsVanishWithTheirLine) {
  EXPECT_EQ(render_ok("a\n  {# note #}\nb", "{}"), "a\nb");
}

TEST(ChatWhitespace, CommentMinus) {
  EXPECT_EQ(render_ok("a   {#- note -#}   b", "{}"), "ab");
}

TEST(ChatWhitespace, SingleTrailingNewlineDropped) {
  EXPECT_EQ(render_ok("x\n", "{}"), "x");
}

TEST(ChatWhitespace, OnlyOneTrailingNewlineDropped) {
  EXPECT_EQ(render_ok("x\n\n", "{}"), "x\n");
}

TEST(ChatWhitespace, CrLfNormalised) {
  EXPECT_EQ(render_ok("a\r\nb", "{}"), "a\nb");
}

TEST(ChatWhitespace, RawBlockKeepsDelimiters) {
  EXPECT_EQ(render_ok("{% raw %}{{ x }}{% endraw %}", "{}"), "{{ x }}");
}

TEST(ChatWhitespace, RawBlockWhitespaceControl) {
  EXPECT_EQ(render_ok("a {%- raw -%} {{ x }} {%- endraw -%} b", "{}"), "a{{ x }}b");
}

TEST(ChatWhitespace, DictLiteralBeforeClose) {
  EXPECT_EQ(render_ok("{{ {'a': {'b': 1}} }}", "{}"), "{'a': {'b': 1}}");
}

}  // namespace
}  // namespace laneway::chat
