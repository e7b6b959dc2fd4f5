// Tokenizing 1 MB of mixed text (English prose, code, numbers, Cyrillic,
// CJK, emoji, whitespace runs) with real vocabularies from ../shared:
//   ./tokenizer_encode_bench   (LANEWAY_TESTDATA=/path/to/shared/testdata to point elsewhere)
// Reports MB/s and tokens/s; the time per iteration is one whole 1 MB encode.
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include <benchmark/benchmark.h>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace {

namespace fs = std::filesystem;

fs::path find_testdata() {
  if (const char* env = std::getenv("LANEWAY_TESTDATA")) return env;
  for (fs::path dir = fs::current_path(); !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / "shared/testdata/vocab")) return dir / "shared/testdata";
    if (dir == dir.parent_path()) break;
  }
  return {};
}

std::string mixed_text(size_t bytes) {
  static const char* const kSnippets[] = {
      "The quick brown fox jumps over the lazy dog. ",
      "It's a truth universally acknowledged, that a single man in possession of a good fortune... ",
      "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }\n",
      "    def forward(self, x):\n        return self.proj(x) + 1e-6\n",
      "Call 555-0134 before 2024-07-15 or pay $1,299.99 (+15% VAT). ",
      "Привет, как дела? Всё хорошо. ",
      "\xE6\x88\x91\xE6\x83\xB3\xE5\x9C\xA8\xE5\x85\xAC\xE5\x8F\xB8\xE5\xB7\xA5\xE4\xBD\x9C\xE3\x80\x82",
      "\xF0\x9F\x9A\x80 launch \xF0\x9F\xA6\x99 llama \xE2\x9C\x85 done ",
      "\n\n\t  \n   ",
      // "Cửa Việt": \x61 is the 'a', which written plainly would extend the \xAD escape.
      "C\xE1\xBB\xAD\x61 Vi\xE1\xBB\x87t, na\xC3\xAFve caf\xC3\xA9 r\xC3\xA9sum\xC3\xA9. ",
      "<div class=\"row\">&nbsp;</div>\n",
      "333333333 3.14159 0x7fffffff ",
  };
  std::mt19937 rng(7);
  std::string text;
  text.reserve(bytes + 256);
  while (text.size() < bytes) text += kSnippets[rng() % std::size(kSnippets)];
  text.resize(bytes);
  // Do not end inside a UTF-8 character.
  while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();
  if (!text.empty() && static_cast<unsigned char>(text.back()) >= 0xC0) text.pop_back();
  return text;
}

void encode_1mb(benchmark::State& state, const char* vocab) {
  const fs::path path = find_testdata() / "vocab" / vocab;
  auto file = laneway::GgufFile::open(path.string());
  if (!file.is_ok()) {
    state.SkipWithError(("cannot open " + path.string() + "; set LANEWAY_TESTDATA").c_str());
    return;
  }
  auto tok = laneway::Tokenizer::from_gguf(*file);
  if (!tok.is_ok()) {
    state.SkipWithError(tok.status().to_string().c_str());
    return;
  }
  const std::string text = mixed_text(1 << 20);
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = tok->encode(text, {.add_special = false, .parse_special = false});
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(n_tokens), benchmark::Counter::kIsIterationInvariantRate);
}

void decode_1mb(benchmark::State& state, const char* vocab) {
  const fs::path path = find_testdata() / "vocab" / vocab;
  auto file = laneway::GgufFile::open(path.string());
  if (!file.is_ok()) {
    state.SkipWithError(("cannot open " + path.string() + "; set LANEWAY_TESTDATA").c_str());
    return;
  }
  auto tok = laneway::Tokenizer::from_gguf(*file);
  if (!tok.is_ok()) {
    state.SkipWithError(tok.status().to_string().c_str());
    return;
  }
  const auto ids = tok->encode(mixed_text(1 << 20), {.add_special = false});
  for (auto _ : state) {
    laneway::StreamingDetokenizer stream(*tok);
    size_t bytes = 0;
    for (int32_t id : ids) bytes += stream.push(id).size();
    bytes += stream.flush().size();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(ids.size()), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK_CAPTURE(encode_1mb, gpt2, "ggml-vocab-gpt-2.gguf")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode_1mb, llama_spm, "ggml-vocab-llama-spm.gguf")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode_1mb, deepseek_llm, "ggml-vocab-deepseek-llm.gguf")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(encode_1mb, bert_bge, "ggml-vocab-bert-bge.gguf")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(decode_1mb, gpt2_streaming, "ggml-vocab-gpt-2.gguf")->Unit(benchmark::kMillisecond);

}  // namespace
