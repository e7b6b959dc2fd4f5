// Hand-written cases for the pre-tokenizers whose vocabularies are not in
// the shared test data (llama3, qwen2, falcon, deepseek-coder, command-r),
// worked out from the published regexes, plus properties every
// pre-tokenizer must have.
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tokenizer/pretokenizer.h"

namespace laneway {
namespace {

using Pieces = std::vector<std::string>;

Pieces split(std::string_view pre, std::string_view text) {
  auto p = PreTokenizer::for_name(pre);
  EXPECT_TRUE(p.is_ok()) << p.status().to_string();
  if (!p.is_ok()) return {};
  std::vector<std::string_view> views;
  p->split(text, views);
  return Pieces(views.begin(), views.end());
}

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(split("gpt-2", "Hello world, it's 2024!  ok\n"),
            (Pieces{"Hello", " world", ",", " it", "'s", " 2024", "!", " ", " ok", "\n"}));
  // Case-sensitive contractions; a letter run does not take a '$'.
  EXPECT_EQ(split("gpt-2", "I'M $hello"), (Pieces{"I", "'", "M", " $", "hello"}));
}

TEST(PreTokenizer, Llama3) {
  EXPECT_EQ(split("llama-bpe", "Hello world 12345 I'M fine\n\n  ok"),
            (Pieces{"Hello", " world", " ", "123", "45", " I", "'M", " fine", "\n\n", " ", " ok"}));
  // One non-letter joins the letter run; punctuation keeps its newlines.
  EXPECT_EQ(split("llama3", "$hello x.\n\ny"), (Pieces{"$hello", " x", ".\n\n", "y"}));
  EXPECT_TRUE(PreTokenizer::for_name("llama-bpe")->ignore_merges());
  EXPECT_FALSE(PreTokenizer::for_name("dbrx")->ignore_merges());
  EXPECT_EQ(split("dbrx", "Hello world 12345 I'M fine\n\n  ok"), split("llama3", "Hello world 12345 I'M fine\n\n  ok"));
}

TEST(PreTokenizer, Qwen2) {
  EXPECT_EQ(split("qwen2", "Hello world 12345 I'M fine"),
            (Pieces{"Hello", " world", " ", "1", "2", "3", "4", "5", " I", "'M", " fine"}));
  EXPECT_EQ(split("qwen2", "$hello x.\n\ny"), (Pieces{"$hello", " x", ".\n\n", "y"}));
  EXPECT_FALSE(PreTokenizer::for_name("qwen2")->ignore_merges());
}

TEST(PreTokenizer, Falcon) {
  // Punctuation runs first, then GPT-2's split, digit runs, groups of three.
  EXPECT_EQ(split("falcon", "Hello, world!!! 1234567"),
            (Pieces{"Hello", ",", " world", "!!!", " ", "123", "456", "7"}));
  EXPECT_EQ(split("falcon", "a+b=c"), (Pieces{"a", "+", "b", "=", "c"}));
}

TEST(PreTokenizer, DeepseekCoder) {
  EXPECT_EQ(split("deepseek-coder", "def foo(x):\n    return x+1 # \xE4\xB8\xAD\xE6\x96\x87"),
            (Pieces{"def", " foo", "(", "x", "):", "\n", "   ", " return", " x", "+", "1", " #", " ",
                    "\xE4\xB8\xAD\xE6\x96\x87"}));
}

TEST(PreTokenizer, CommandRAndStarcoderSplitEveryDigit) {
  const Pieces expected{"abc", " ", "2", "0", "2", "4", " it", "'s"};
  EXPECT_EQ(split("command-r", "abc 2024 it's"), expected);
  EXPECT_EQ(split("starcoder", "abc 2024 it's"), expected);
}

TEST(PreTokenizer, DeepseekLlm) {
  // Cased-letter runs take one space; CJK runs stand alone; trailing spaces.
  // The punctuation class includes the range ':'..'~', which holds the
  // ASCII letters, so it cuts "mega" off " Ωmega" (the published regexes
  // behave so; the vectors agree).
  EXPECT_EQ(split("deepseek-llm", "Hello \xCE\xA9mega \xE4\xB8\xAD\xE6\x96\x87 42  "),
            (Pieces{"Hello", " \xCE\xA9", "mega", " ", "\xE4\xB8\xAD\xE6\x96\x87", " ", "42", "  "}));
  EXPECT_EQ(split("deepseek-llm", "\xCE\xB1\xCE\xB2\xCE\xB3 x\n\ny"), (Pieces{"\xCE\xB1\xCE\xB2\xCE\xB3", " x", "\n", "\n", "y"}));
}

TEST(PreTokenizer, UnknownNameIsAnErrorNamingIt) {
  auto p = PreTokenizer::for_name("no-such-pre");
  ASSERT_FALSE(p.is_ok());
  EXPECT_EQ(p.status().code(), StatusCode::unsupported);
  EXPECT_NE(p.status().message().find("no-such-pre"), std::string::npos);
}

// Whatever the bytes, the pieces are non-empty and cover the text exactly.
TEST(PreTokenizer, PiecesCoverArbitraryBytes) {
  std::mt19937 rng(1234);
  const std::string alphabet[] = {"a", "Z", " ", "  ", "\n", "\r\n", "\t", "1", "'s", "!", "\xC3\xA9",
                                  "\xE4\xB8\xAD", "\xF0\x9F\xA6\x99", "\xFF", "\x80", "\xC3", "\xED\xA0\x80", "\xE2\x96"};
  for (std::string_view name : PreTokenizer::known_names()) {
    auto p = PreTokenizer::for_name(name);
    ASSERT_TRUE(p.is_ok()) << name << ": " << p.status().to_string();
    for (int round = 0; round < 200; ++round) {
      std::string text;
      const int n = static_cast<int>(rng() % 40);
      for (int i = 0; i < n; ++i) text += alphabet[rng() % std::size(alphabet)];
      std::vector<std::string_view> pieces;
      p->split(text, pieces);
      std::string joined;
      for (std::string_view piece : pieces) {
        EXPECT_FALSE(piece.empty()) << name;
        EXPECT_EQ(piece.data(), text.data() + joined.size()) << name;
        joined.append(piece);
      }
      EXPECT_EQ(joined, text) << name;
    }
  }
}

}  // namespace
}  // namespace laneway
