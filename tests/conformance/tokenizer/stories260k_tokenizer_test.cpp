// stories260K: the prompts encode to the reference prompt_tokens (with BOS)
// and the reference greedy tokens decode to greedy_text_hex, in one piece
// and streamed token by token.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "support/testdata.h"
#include "tokenizer/tokenizer.h"

namespace laneway {
namespace {

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

TEST(Stories260KTokenizer, PromptsEncodeToReferenceTokensAndGreedyTokensDecode) {
  const std::string model = test::testdata_path("models/stories260K.gguf");
  const std::string ref = test::reference_path("stories260K/llamacpp.jsonl");
  LANEWAY_REQUIRE_FILE(model);
  LANEWAY_REQUIRE_FILE(ref);
  auto file = GgufFile::open(model);
  ASSERT_TRUE(file.is_ok()) << file.status().to_string();
  auto tok = Tokenizer::from_gguf(*file);
  ASSERT_TRUE(tok.is_ok()) << tok.status().to_string();
  EXPECT_EQ(tok->kind(), TokenizerKind::spm);
  EXPECT_EQ(tok->vocab_size(), 512);
  EXPECT_TRUE(tok->add_bos());  // no add_bos_token key: SentencePiece adds BOS
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_TRUE(tok->is_end_of_generation(2));

  std::ifstream in(ref);
  std::string line;
  int records = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    const std::string prompt = j.at("prompt");
    SCOPED_TRACE(prompt);
    const auto expected_prompt = j.at("prompt_tokens").get<std::vector<int32_t>>();
    EXPECT_EQ(tok->encode(prompt, {.add_special = true, .parse_special = false}), expected_prompt);
    EXPECT_EQ(tok->decode(expected_prompt), prompt);

    const auto greedy = j.at("greedy_tokens").get<std::vector<int32_t>>();
    const std::string expected_text = from_hex(j.at("greedy_text_hex"));
    // Generated text continues the prompt: its leading space stays.
    EXPECT_EQ(tok->decode(greedy, {.render_special = false, .remove_space_prefix = false}), expected_text);
    StreamingDetokenizer stream(*tok);
    std::string streamed;
    for (int32_t id : greedy) streamed += stream.push(id);
    streamed += stream.flush();
    EXPECT_EQ(streamed, expected_text);
    ++records;
  }
  EXPECT_EQ(records, 8);
}

}  // namespace
}  // namespace laneway
