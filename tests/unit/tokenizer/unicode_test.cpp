#include <set>
#include <string>

#include <gtest/gtest.h>

#include "tokenizer/unicode.h"

namespace laneway::unicode {
namespace {

TEST(Unicode, DecodesWellFormedAndRejectsMalformed) {
  EXPECT_EQ(utf8_decode("A", 0).cp, 0x41u);
  const Utf8Char e = utf8_decode("\xC3\xA9", 0);
  EXPECT_TRUE(e.valid);
  EXPECT_EQ(e.cp, 0xE9u);
  EXPECT_EQ(e.len, 2u);
  const Utf8Char llama = utf8_decode("\xF0\x9F\xA6\x99", 0);
  EXPECT_EQ(llama.cp, 0x1F999u);
  EXPECT_EQ(llama.len, 4u);
  for (std::string_view bad : {"\x80", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF0\x9F\xA6", "\xFF"}) {
    const Utf8Char c = utf8_decode(bad, 0);
    EXPECT_FALSE(c.valid);
    EXPECT_EQ(c.len, 1u);  // always advances
  }
}

TEST(Unicode, IncompleteTailHoldsOnlyPrefixesThatCanComplete) {
  EXPECT_EQ(utf8_incomplete_tail_length(""), 0u);
  EXPECT_EQ(utf8_incomplete_tail_length("abc"), 0u);
  EXPECT_EQ(utf8_incomplete_tail_length("ab\xF0"), 1u);
  EXPECT_EQ(utf8_incomplete_tail_length("ab\xF0\x9F"), 2u);
  EXPECT_EQ(utf8_incomplete_tail_length("ab\xF0\x9F\xA6"), 3u);
  EXPECT_EQ(utf8_incomplete_tail_length("ab\xF0\x9F\xA6\x99"), 0u);
  EXPECT_EQ(utf8_incomplete_tail_length("\xE0\x80"), 0u);  // overlong: can never complete
  EXPECT_EQ(utf8_incomplete_tail_length("\xED\xA0"), 0u);  // surrogate
  EXPECT_EQ(utf8_incomplete_tail_length("\x80\x80"), 0u);
  EXPECT_EQ(utf8_incomplete_tail_length("\xFF"), 0u);
}

TEST(Unicode, SanitizeReplacesEachBadByte) {
  EXPECT_EQ(utf8_sanitize("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(utf8_sanitize("\xC3\xA9"), "\xC3\xA9");
  EXPECT_EQ(utf8_sanitize("\xF0\x9F"), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Unicode, ByteLevelAlphabetIsABijection) {
  const auto& cps = byte_level_code_points();
  std::set<uint32_t> seen(cps.begin(), cps.end());
  EXPECT_EQ(seen.size(), 256u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(byte_level_byte(cps[b]), b);
  EXPECT_EQ(cps[' '], 0x120u);  // 'Ġ'
  EXPECT_EQ(cps['\n'], 0x10Au);  // 'Ċ'
  EXPECT_EQ(cps['A'], static_cast<uint32_t>('A'));
  EXPECT_EQ(byte_level_byte(0x4E00), -1);
}

TEST(Unicode, Categories) {
  EXPECT_TRUE(is_letter('a'));
  EXPECT_TRUE(is_letter(0x4E2D));
  EXPECT_FALSE(is_letter('1'));
  EXPECT_TRUE(is_punctuation(','));
  EXPECT_FALSE(is_punctuation('$'));  // a symbol (Sc), not punctuation
  EXPECT_TRUE(is_mark_nonspacing(0x301));
  EXPECT_TRUE(is_other_category(0x200D));  // ZWJ is Cf
  EXPECT_TRUE(is_white_space(0x3000));
  EXPECT_TRUE(is_cjk_ideograph(0x4E2D));
  EXPECT_EQ(to_lower('A'), static_cast<uint32_t>('a'));
  uint32_t out[8];
  ASSERT_EQ(decompose_nfd(0xE9, out, 8), 2u);  // é = e + combining acute
  EXPECT_EQ(out[0], static_cast<uint32_t>('e'));
  EXPECT_EQ(out[1], 0x301u);
}

}  // namespace
}  // namespace laneway::unicode
