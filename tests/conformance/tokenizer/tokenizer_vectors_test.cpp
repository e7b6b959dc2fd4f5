// The llama.cpp tokenizer vectors (../shared/testdata/vocab/*.gguf.inp/.out,
// produced by the Hugging Face tokenizers): every input must encode to the
// expected ids (no BOS/EOS, special-token text as plain text), and every
// input must survive decode(encode(text)) for all but the WordPiece vocab.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "support/testdata.h"
#include "tokenizer/tokenizer.h"

namespace laneway {
namespace {

constexpr std::string_view kSeparator = "\n__ggml_vocab_test__\n";

struct VectorCase {
  std::string text;
  std::vector<int32_t> expected;
};

std::vector<VectorCase> read_vectors(const std::string& inp_path, const std::string& out_path) {
  const std::string inp = test::read_file(inp_path);
  const std::string outs = test::read_file(out_path);
  std::vector<VectorCase> cases;
  size_t pos = 0;
  while (true) {
    const size_t next = inp.find(kSeparator, pos);
    if (next == std::string::npos) break;
    cases.push_back({inp.substr(pos, next - pos), {}});
    pos = next + kSeparator.size();
  }
  size_t line_start = 0;
  for (auto& c : cases) {
    const size_t line_end = outs.find('\n', line_start);
    const std::string line = outs.substr(line_start, line_end - line_start);
    line_start = line_end == std::string::npos ? outs.size() : line_end + 1;
    size_t p = 0;
    while (p < line.size()) {
      while (p < line.size() && line[p] == ' ') ++p;
      size_t q = p;
      while (q < line.size() && line[q] != ' ') ++q;
      if (q > p) c.expected.push_back(std::stoi(line.substr(p, q - p)));
      p = q;
    }
  }
  return cases;
}

std::string ids_to_string(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += " " + std::to_string(id);
  return s;
}

std::string escaped(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else out.push_back(static_cast<char>(c));
  }
  return out;
}

std::string vocab_test_name(const testing::TestParamInfo<std::string>& param_info) {
  std::string name = param_info.param;
  for (char& ch : name) if (ch == '-') ch = '_';
  return name;
}

class TokenizerVectors : public testing::TestWithParam<std::string> {};

TEST_P(TokenizerVectors, EncodesEveryVectorExactly) {
  const std::string base = test::testdata_path("vocab/ggml-vocab-" + GetParam() + ".gguf");
  LANEWAY_REQUIRE_FILE(base);
  auto file = GgufFile::open(base);
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  auto tok = Tokenizer::from_gguf(*file);
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  EXPECT_TRUE(tok->warnings().empty()) << tok->warnings().front();

  const auto cases = read_vectors(base + ".inp", base + ".out");
  ASSERT_EQ(cases.size(), 46u);
  int passed = 0;
  for (const auto& c : cases) {
    const auto ids = tok->encode(c.text, {.add_special = false, .parse_special = false});
    EXPECT_EQ(ids, c.expected) << "input: '" << escaped(c.text) << "'\n  got:     " << ids_to_string(ids)
                               << "\n  expected:" << ids_to_string(c.expected);
    passed += ids == c.expected;
  }
  std::printf("[ vectors  ] %s: %d/%zu passed\n", GetParam().c_str(), passed, cases.size());
}

// WordPiece (bert-bge) lower-cases and drops spaces, so it has no round trip.
class TokenizerRoundTrip : public testing::TestWithParam<std::string> {};

TEST_P(TokenizerRoundTrip, RoundTripsEveryInput) {
  const std::string base = test::testdata_path("vocab/ggml-vocab-" + GetParam() + ".gguf");
  LANEWAY_REQUIRE_FILE(base);
  auto file = GgufFile::open(base);
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  auto tok = Tokenizer::from_gguf(*file);
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  const auto cases = read_vectors(base + ".inp", base + ".out");
  int passed = 0;
  for (const auto& c : cases) {
    for (bool add_special : {false, true}) {
      const auto ids = tok->encode(c.text, {.add_special = add_special, .parse_special = false});
      const std::string back = tok->decode(ids);
      EXPECT_EQ(back, c.text) << "add_special " << add_special;
      if (!add_special) passed += back == c.text;
    }
  }
  std::printf("[ roundtrip] %s: %d/%zu passed\n", GetParam().c_str(), passed, cases.size());
}

INSTANTIATE_TEST_SUITE_P(Vocab, TokenizerVectors,
                         testing::Values("llama-spm", "gpt-2", "deepseek-llm", "mpt", "refact", "starcoder",
                                         "bert-bge"),
                         vocab_test_name);
INSTANTIATE_TEST_SUITE_P(Vocab, TokenizerRoundTrip,
                         testing::Values("llama-spm", "gpt-2", "deepseek-llm", "mpt", "refact", "starcoder"),
                         vocab_test_name);

// The vocab files without vectors still load (same families).
TEST(TokenizerVocabFiles, BaichuanAndGptNeoxLoad) {
  for (const char* name : {"baichuan", "gpt-neox"}) {
    const std::string path = test::testdata_path(std::string("vocab/ggml-vocab-") + name + ".gguf");
    LANEWAY_REQUIRE_FILE(path);
    auto file = GgufFile::open(path);
    ASSERT_TRUE(file.is_ok()) << file.status().to_string();
    auto tok = Tokenizer::from_gguf(*file);
    ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
    const std::string text = "Hello world, 12345 \xC3\xA9t\xC3\xA9!";
    EXPECT_EQ(tok->decode(tok->encode(text)), text) << name;
  }
}

}  // namespace
}  // namespace laneway
