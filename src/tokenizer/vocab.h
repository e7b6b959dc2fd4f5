// The token table of a GGUF tokenizer (tokenizer.ggml.tokens / scores /
// token_type and the special-token ids), copied out of the file so the
// tokenizer does not depend on the GgufFile staying open.
//
// Thread-safety: immutable after from_gguf(); concurrent reads are fine.
// Not copyable (the text index holds views into the owned text).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace laneway {

class GgufFile;

// tokenizer.ggml.token_type values (llama.cpp's numbering, which GGUF files use).
enum class TokenType : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

inline constexpr int32_t kNoToken = -1;

// Special ids from tokenizer.ggml.*_token_id; kNoToken when absent (or out of range).
struct SpecialTokenIds {
  int32_t bos = kNoToken;
  int32_t eos = kNoToken;
  int32_t eot = kNoToken;
  int32_t eom = kNoToken;
  int32_t unk = kNoToken;
  int32_t sep = kNoToken;
  int32_t pad = kNoToken;
  int32_t cls = kNoToken;
  int32_t mask = kNoToken;
};

class Vocab {
 public:
  // Reads tokens (required), scores and token_type (optional; 0 and normal
  // when absent) and the special ids. A special id outside the vocabulary is
  // dropped with a warning (real files have such padding ids).
  static Result<Vocab> from_gguf(const GgufFile& file, std::vector<std::string>& warnings);
  // For tests: a vocabulary from plain lists (scores/types may be empty).
  static Vocab from_lists(const std::vector<std::string>& tokens, const std::vector<float>& scores,
                          const std::vector<TokenType>& types);

  Vocab(Vocab&&) noexcept = default;
  Vocab& operator=(Vocab&&) noexcept = default;
  Vocab(const Vocab&) = delete;
  Vocab& operator=(const Vocab&) = delete;

  int32_t size() const { return static_cast<int32_t>(offsets_.size()) - 1; }
  bool valid_id(int32_t id) const { return id >= 0 && id < size(); }
  std::string_view text(int32_t id) const {
    return std::string_view(*arena_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
  }
  float score(int32_t id) const { return scores_.empty() ? 0.0f : scores_[id]; }
  TokenType type(int32_t id) const { return types_.empty() ? TokenType::normal : types_[id]; }
  // The id of the token whose text is exactly `text` (the lowest id when the
  // vocabulary repeats a text), or kNoToken.
  int32_t find(std::string_view text) const {
    auto it = index_.find(text);
    return it == index_.end() ? kNoToken : it->second;
  }

  SpecialTokenIds special;

 private:
  Vocab() = default;
  void build_index();

  // One allocation for all token text; unique_ptr keeps the views in index_
  // valid when the Vocab moves.
  std::unique_ptr<std::string> arena_;
  std::vector<uint32_t> offsets_;  // size()+1 entries
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  std::unordered_map<std::string_view, int32_t> index_;
};

}  // namespace laneway
