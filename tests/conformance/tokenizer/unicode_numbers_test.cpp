// Unicode numbers beyond the decimal digits (categories Nd, Nl, No: vulgar
// fractions, superscripts, circled numbers, Roman numerals, and the digits
// Unicode 15 added) through every pre-tokenizer family, against the splits
// Python's `regex` module makes with the same regexes
// (pretokenize_reference.py, Debian's python3-regex). Each code point alone,
// after a space, a digit and a letter, doubled, and before a letter.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/testdata.h"
#include "tokenizer/pretokenizer.h"

namespace laneway {
namespace {

using json = nlohmann::json;

bool have_python_regex() { return std::system("/usr/bin/python3 -c 'import regex' >/dev/null 2>&1") == 0; }

TEST(PreTokenizerUnicodeNumbers, EveryFamilySplitsAsPythonRegexDoes) {
  if (!have_python_regex()) {
    if (test::testdata_required()) GTEST_FAIL() << "python3-regex is missing (scripts/setup installs it)";
    GTEST_SKIP() << "python3-regex is missing (scripts/setup installs it)";
  }
  // One family per distinct pattern list.
  json families = json::object();
  std::set<std::vector<std::string>> seen;
  for (std::string_view name : PreTokenizer::known_names()) {
    const auto patterns = PreTokenizer::patterns_of(name);
    if (seen.insert(patterns).second) families[std::string(name)] = patterns;
  }
  const auto dir = test::scratch_dir("pretokenize_numbers");
  const std::string in = (dir / "families.json").string(), out = (dir / "splits.json").string();
  std::ofstream(in) << families.dump();
  const std::string cmd = "/usr/bin/python3 '" LANEWAY_TEST_DIR "/pretokenize_reference.py' '" + in + "' '" + out + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream f(out);
  const json ref = json::parse(f, nullptr, false);
  ASSERT_FALSE(ref.is_discarded());
  const auto texts = ref["texts"].get<std::vector<std::string>>();
  ASSERT_GE(ref["numbers"].get<int>(), 1800) << "\\p{N} has about 1,800 code points in Unicode 15";

  size_t compared = 0;
  for (const auto& [family, splits] : ref["splits"].items()) {
    auto pre = PreTokenizer::for_name(family);
    ASSERT_TRUE(pre.is_ok()) << family;
    size_t wrong = 0;
    std::string first;
    for (size_t i = 0; i < texts.size(); ++i) {
      std::vector<std::string_view> views;
      pre->split(texts[i], views);
      const std::vector<std::string> got(views.begin(), views.end());
      const auto want = splits[i].get<std::vector<std::string>>();
      ++compared;
      if (got != want) {
        if (wrong++ == 0) first = json(texts[i]).dump() + ": Laneway " + json(got).dump() + ", regex " + json(want).dump();
      }
    }
    EXPECT_EQ(wrong, 0u) << family << ": " << wrong << " of " << texts.size() << " texts split differently; first: " << first;
  }
  std::printf("pre-tokenizer numbers: %zu families x %zu texts compared (%d code points of \\p{N})\n",
              ref["splits"].size(), texts.size(), ref["numbers"].get<int>());
  EXPECT_GT(compared, 50000u);
}

// The widening itself: a class gains ranges, a bare property becomes a class
// (its quantifier kept), escapes and other properties are left alone.
TEST(PreTokenizerUnicodeNumbers, WidenedPatternsKeepTheirShape) {
  const std::string bare = widen_unicode_properties(R"(\p{N}{1,3})");
  EXPECT_EQ(bare.rfind(R"([\p{N}\x{)", 0), 0u) << bare;
  EXPECT_EQ(bare.substr(bare.size() - 6), "]{1,3}") << bare;
  const std::string in_class = widen_unicode_properties(R"([^\s\p{L}\p{N}]+)");
  EXPECT_EQ(in_class.rfind(R"([^\s\p{L}\x{)", 0), 0u) << in_class;
  EXPECT_EQ(in_class.find('[', 1), std::string::npos) << "no class nested in a class: " << in_class;
  EXPECT_EQ(widen_unicode_properties(R"(\s+(?!\S)|\\p{N}|\p{Lu})"), R"(\s+(?!\S)|\\p{N}|\p{Lu})");
  // Kawi digit one (U+11F51, Unicode 15) is a number for every family now.
  auto pre = PreTokenizer::for_name("llama3");
  ASSERT_TRUE(pre.is_ok());
  std::vector<std::string_view> pieces;
  pre->split("abc 7\U00011F51 \U00011F52", pieces);  // PCRE2 alone: U+11F51 unassigned, a symbol
  EXPECT_EQ(std::vector<std::string>(pieces.begin(), pieces.end()),
            (std::vector<std::string>{"abc", " ", "7\U00011F51", " ", "\U00011F52"}));
}

}  // namespace
}  // namespace laneway
