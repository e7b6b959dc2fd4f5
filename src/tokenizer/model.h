// The per-family tokenization algorithms behind Tokenizer (internal to
// src/tokenizer). One virtual call per span of plain text, not per token.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab.h"

namespace laneway {

class TokenizerModel {
 public:
  virtual ~TokenizerModel() = default;
  // Appends the ids of `text`, which holds no special tokens. `after_special`
  // is true when the span starts the input or follows a special token
  // (SentencePiece puts its space prefix there).
  virtual void encode(const Vocab& vocab, std::string_view text, bool after_special,
                      std::vector<int32_t>& out) const = 0;
  // The bytes token `id` stands for (valid id).
  virtual std::string piece(const Vocab& vocab, int32_t id) const = 0;
};

// SentencePiece BPE (tokenizer.ggml.model = "llama").
std::unique_ptr<TokenizerModel> make_spm_model(const Vocab& vocab, bool add_space_prefix);

// Byte-level BPE (tokenizer.ggml.model = "gpt2"). `merges` are the
// "left right" strings of tokenizer.ggml.merges, highest priority first.
// Merges naming tokens outside the vocabulary are skipped and counted in
// `skipped_merges`.
std::unique_ptr<TokenizerModel> make_bpe_model(const Vocab& vocab, const std::vector<std::string_view>& merges,
                                               PreTokenizer pre, size_t& skipped_merges);

// WordPiece with BERT normalization (tokenizer.ggml.model = "bert").
std::unique_ptr<TokenizerModel> make_wordpiece_model(const Vocab& vocab);

}  // namespace laneway
