// Arbitrary and pathological input on every real vocabulary of each family:
// no crash, no hang (long runs stay near-linear), ids in range, byte-exact
// round trips (SentencePiece: any bytes; byte-level BPE: valid UTF-8, see
// tokenizer.h), and streaming output that is always valid UTF-8.
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "support/testdata.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace laneway {
namespace {

class TokenizerRobustness : public testing::TestWithParam<std::string> {
 protected:
  std::optional<Tokenizer> load() {
    const std::string path = test::testdata_path("vocab/ggml-vocab-" + GetParam() + ".gguf");
    if (!std::filesystem::exists(path)) return std::nullopt;
    auto file = GgufFile::open(path);
    EXPECT_TRUE(file.is_ok()) << file.status().to_string();
    if (!file.is_ok()) return std::nullopt;
    auto tok = Tokenizer::from_gguf(*file);
    EXPECT_TRUE(tok.is_ok()) << tok.status().to_string();
    if (!tok.is_ok()) return std::nullopt;
    return std::move(tok).value();
  }
};

// Half the texts are valid UTF-8 (fragments before kFirstInvalid only).
std::string random_text(std::mt19937& rng, bool valid_only) {
  static const std::string kFragments[] = {
      "a", "Hello", " ", "   ", "\n", "\r\n", "\t", "3", "333", "'s", "'LL", "!", "...", "\xC3\xA9", "\xE4\xB8\xAD",
      "\xF0\x9F\xA6\x99", "\xE2\x80\x8D", "\xCC\x81", "<s>", "</s>", "<|endoftext|>", "[CLS]", "  ", "\xEF\xBF\xBD",
      "\xFF", "\x80", "\xC3", "\xE4\xB8", "\xF0\x9F\xA6", "\xED\xA0\x80", "\xC0\xAF", std::string(1, '\0')};
  constexpr size_t kFirstInvalid = 24;  // "\xFF" and after are malformed
  std::string text;
  const int n = static_cast<int>(rng() % 48);
  for (int i = 0; i < n; ++i) {
    if (valid_only) text += kFragments[rng() % kFirstInvalid];
    else if (rng() % 4 == 0) text.push_back(static_cast<char>(rng() % 256));
    else text += kFragments[rng() % std::size(kFragments)];
  }
  return text;
}

TEST_P(TokenizerRobustness, ArbitraryBytes) {
  LANEWAY_REQUIRE_FILE(test::testdata_path("vocab/ggml-vocab-" + GetParam() + ".gguf"));
  auto tok = load();
  ASSERT_TRUE(tok.has_value());
  const bool any_bytes_exact = tok->kind() == TokenizerKind::spm;
  const bool utf8_exact = tok->kind() != TokenizerKind::wordpiece;
  int checked = 0;
  std::mt19937 rng(2024);
  for (int round = 0; round < 300; ++round) {
    const std::string text = random_text(rng, round % 2 == 0);
    for (bool parse_special : {false, true}) {
      const auto ids = tok->encode(text, {.add_special = true, .parse_special = parse_special});
      for (int32_t id : ids) ASSERT_TRUE(tok->valid_id(id)) << id;
      const bool valid_utf8 = unicode::utf8_sanitize(text) == text;
      if (!parse_special && (any_bytes_exact || (utf8_exact && valid_utf8))) {
        ASSERT_EQ(tok->decode(ids), text) << "round " << round;
        ++checked;
      }
      StreamingDetokenizer stream(*tok);
      std::string streamed;
      for (int32_t id : ids) streamed += stream.push(id);
      streamed += stream.flush();
      ASSERT_EQ(unicode::utf8_sanitize(streamed), streamed);
    }
  }
  if (utf8_exact) {
    EXPECT_GT(checked, 140);
  }
}

TEST_P(TokenizerRobustness, LongRunsStayFast) {
  LANEWAY_REQUIRE_FILE(test::testdata_path("vocab/ggml-vocab-" + GetParam() + ".gguf"));
  auto tok = load();
  ASSERT_TRUE(tok.has_value());
  const std::vector<std::string> inputs = {
      std::string(200000, ' ') + "5", std::string(200000, '\n') + "x", std::string(100000, 'a'),
      std::string(100000, '1'),       std::string(100000, '\xFF'),     std::string(50000, '!') + " \t",
      [] { std::string s; for (int i = 0; i < 30000; ++i) s += " \t\n"; return s + "z"; }(),
  };
  for (const std::string& text : inputs) {
    const auto start = std::chrono::steady_clock::now();
    const auto ids = tok->encode(text, {.add_special = false});
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const bool valid_utf8 = unicode::utf8_sanitize(text) == text;
    EXPECT_TRUE(!valid_utf8 || !ids.empty());
    EXPECT_LT(seconds, 20.0) << "input of " << text.size() << " bytes starting with byte "
                             << int(static_cast<unsigned char>(text[0]));
    if (tok->kind() != TokenizerKind::wordpiece && valid_utf8) {
      EXPECT_EQ(tok->decode(ids), text);
    }
  }
}

std::string robustness_test_name(const testing::TestParamInfo<std::string>& param_info) {
  std::string name = param_info.param;
  for (char& ch : name) if (ch == '-') ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Vocab, TokenizerRobustness,
                         testing::Values("llama-spm", "baichuan", "gpt-2", "gpt-neox", "deepseek-llm", "mpt",
                                         "refact", "starcoder", "bert-bge"),
                         robustness_test_name);

}  // namespace
}  // namespace laneway
