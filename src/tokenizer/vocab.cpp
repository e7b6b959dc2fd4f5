#include "tokenizer/vocab.h"

#include <fmt/format.h>

#include "gguf/gguf.h"

namespace laneway {

void Vocab::build_index() {
  index_.reserve(static_cast<size_t>(size()) * 2);
  for (int32_t id = 0; id < size(); ++id) index_.emplace(text(id), id);  // emplace keeps the first id
}

Vocab Vocab::from_lists(const std::vector<std::string>& tokens, const std::vector<float>& scores,
                        const std::vector<TokenType>& types) {
  Vocab v;
  v.arena_ = std::make_unique<std::string>();
  v.offsets_.reserve(tokens.size() + 1);
  v.offsets_.push_back(0);
  for (const auto& t : tokens) {
    v.arena_->append(t);
    v.offsets_.push_back(static_cast<uint32_t>(v.arena_->size()));
  }
  v.scores_ = scores;
  v.types_ = types;
  v.scores_.resize(scores.empty() ? 0 : tokens.size());
  v.types_.resize(types.empty() ? 0 : tokens.size(), TokenType::normal);
  v.build_index();
  return v;
}

Result<Vocab> Vocab::from_gguf(const GgufFile& file, std::vector<std::string>& warnings) {
  LANEWAY_ASSIGN_OR_RETURN(GgufStringArray tokens, file.get_string_array("tokenizer.ggml.tokens"));
  if (tokens.empty()) return corrupt_error("tokenizer.ggml.tokens is empty");
  if (tokens.size() > static_cast<uint64_t>(INT32_MAX - 1)) {
    return corrupt_error("tokenizer.ggml.tokens has {} entries; at most {} are supported", tokens.size(),
                         INT32_MAX - 1);
  }
  const size_t n = static_cast<size_t>(tokens.size());

  Vocab v;
  v.arena_ = std::make_unique<std::string>();
  v.offsets_.reserve(n + 1);
  v.offsets_.push_back(0);
  for (std::string_view t : tokens) {
    if (v.arena_->size() + t.size() > UINT32_MAX) return corrupt_error("tokenizer.ggml.tokens holds over 4 GiB of text");
    v.arena_->append(t);
    v.offsets_.push_back(static_cast<uint32_t>(v.arena_->size()));
  }

  if (file.contains("tokenizer.ggml.scores")) {
    LANEWAY_ASSIGN_OR_RETURN(GgufArrayView<float> scores, file.get_array<float>("tokenizer.ggml.scores"));
    if (scores.size() != n) {
      return corrupt_error("tokenizer.ggml.scores has {} entries but tokenizer.ggml.tokens has {}", scores.size(), n);
    }
    v.scores_ = scores.to_vector();
  }
  if (file.contains("tokenizer.ggml.token_type")) {
    LANEWAY_ASSIGN_OR_RETURN(GgufArrayView<int32_t> types, file.get_array<int32_t>("tokenizer.ggml.token_type"));
    if (types.size() != n) {
      return corrupt_error("tokenizer.ggml.token_type has {} entries but tokenizer.ggml.tokens has {}", types.size(), n);
    }
    v.types_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const int32_t t = types[i];
      v.types_[i] = (t >= 0 && t <= 6) ? static_cast<TokenType>(t) : TokenType::undefined;
    }
  }

  struct SpecialKey { const char* key; int32_t SpecialTokenIds::*field; };
  static constexpr SpecialKey kSpecialKeys[] = {
      {"tokenizer.ggml.bos_token_id", &SpecialTokenIds::bos},
      {"tokenizer.ggml.eos_token_id", &SpecialTokenIds::eos},
      {"tokenizer.ggml.eot_token_id", &SpecialTokenIds::eot},
      {"tokenizer.ggml.eom_token_id", &SpecialTokenIds::eom},
      {"tokenizer.ggml.unknown_token_id", &SpecialTokenIds::unk},
      {"tokenizer.ggml.seperator_token_id", &SpecialTokenIds::sep},  // sic: the GGUF key is misspelt
      {"tokenizer.ggml.padding_token_id", &SpecialTokenIds::pad},
      {"tokenizer.ggml.cls_token_id", &SpecialTokenIds::cls},
      {"tokenizer.ggml.mask_token_id", &SpecialTokenIds::mask},
  };
  for (const SpecialKey& k : kSpecialKeys) {
    const GgufValue* value = file.find(k.key);
    if (value == nullptr) continue;
    const auto id = value->as_int();
    if (!id) return invalid_argument_error("metadata key {} is {}, expected an integer", k.key,
                                           gguf_value_type_name(value->type()));
    // -1 (0xFFFFFFFF as a u32) is how GGUF writers say "no such token".
    if (*id == -1 || *id == 0xFFFFFFFFll) continue;
    if (*id < 0 || *id >= static_cast<int64_t>(n)) {
      warnings.push_back(fmt::format("{} = {} is outside the vocabulary of {} tokens; ignored", k.key, *id, n));
      continue;
    }
    v.special.*k.field = static_cast<int32_t>(*id);
  }
  v.build_index();
  return v;
}

}  // namespace laneway
