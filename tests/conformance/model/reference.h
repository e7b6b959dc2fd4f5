// Reads a reference dump (../shared/reference/README.md): JSONL lines with
// prompt_tokens, greedy_tokens and the offset/rows of their logits in a
// float32 file.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/testdata.h"

namespace laneway::test {

struct ReferencePrompt {
  std::string prompt;
  std::vector<int32_t> prompt_tokens;
  std::vector<int32_t> greedy_tokens;
  std::vector<float> logits;  // [rows][n_vocab]
  int64_t n_vocab = 0;
  // prompt_tokens + greedy_tokens[:-1]: the teacher-forced input.
  std::vector<int32_t> forced_tokens() const {
    std::vector<int32_t> t = prompt_tokens;
    if (!greedy_tokens.empty()) t.insert(t.end(), greedy_tokens.begin(), greedy_tokens.end() - 1);
    return t;
  }
};

inline std::vector<ReferencePrompt> load_reference(const std::string& jsonl, const std::string& f32) {
  std::vector<ReferencePrompt> out;
  const std::string raw = read_file(f32);
  std::ifstream in(jsonl);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    ReferencePrompt p;
    p.prompt = j.value("prompt", "");
    p.prompt_tokens = j["prompt_tokens"].get<std::vector<int32_t>>();
    p.greedy_tokens = j["greedy_tokens"].get<std::vector<int32_t>>();
    p.n_vocab = j["n_vocab"].get<int64_t>();
    const auto offset = j["logits_offset_floats"].get<size_t>();
    const auto rows = j["logits_rows"].get<size_t>();
    p.logits.resize(rows * static_cast<size_t>(p.n_vocab));
    std::memcpy(p.logits.data(), raw.data() + offset * sizeof(float), p.logits.size() * sizeof(float));
    out.push_back(std::move(p));
  }
  return out;
}

inline std::vector<float> load_f32(const std::string& path) {
  const std::string raw = read_file(path);
  std::vector<float> v(raw.size() / sizeof(float));
  std::memcpy(v.data(), raw.data(), v.size() * sizeof(float));
  return v;
}

}  // namespace laneway::test
