// libFuzzer target: arbitrary bytes through every tokenizer family (SPM,
// byte-level BPE, WordPiece): encode, decode, stream. Vocabularies come from
// $LANEWAY_TESTDATA (default ../shared/testdata) at start-up.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {
std::vector<std::unique_ptr<laneway::Tokenizer>>* g_tokenizers = nullptr;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* env = std::getenv("LANEWAY_TESTDATA");
  const std::string root = env != nullptr ? env : "../shared/testdata";
  g_tokenizers = new std::vector<std::unique_ptr<laneway::Tokenizer>>();
  for (const char* name : {"llama-spm", "gpt-2", "bert-bge", "deepseek-llm"}) {
    auto f = laneway::GgufFile::open(root + "/vocab/ggml-vocab-" + name + ".gguf");
    if (!f.is_ok()) continue;
    auto t = laneway::Tokenizer::from_gguf(*f);
    if (t.is_ok()) g_tokenizers->push_back(std::make_unique<laneway::Tokenizer>(std::move(t).value()));
  }
  if (g_tokenizers->empty()) std::abort();  // no vocabularies: nothing would be fuzzed
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& tok : *g_tokenizers) {
    for (bool special : {false, true}) {
      const auto ids = tok->encode(text, {.add_special = special, .parse_special = special});
      for (int32_t id : ids) {
        if (!tok->valid_id(id)) std::abort();
      }
      (void)tok->decode(ids);
      laneway::StreamingDetokenizer stream(*tok);
      for (int32_t id : ids) (void)stream.push(id);
      (void)stream.flush();
    }
  }
  return 0;
}
