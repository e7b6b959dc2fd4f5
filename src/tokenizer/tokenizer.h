// Tokenizers built from GGUF `tokenizer.ggml.*` metadata.
//
//   tokenizer.ggml.model = "llama": SentencePiece-style BPE by piece score,
//       byte fallback through <0xXX> tokens, a leading-space prefix ("▁").
//   tokenizer.ggml.model = "gpt2": byte-level BPE with ranked merges, after
//       the pre-tokenizer named by tokenizer.ggml.pre (see pretokenizer.h).
//   tokenizer.ggml.model = "bert": WordPiece with BERT's uncased
//       normalization (clean, split CJK, strip accents, lower-case).
//
// Special tokens: user-defined tokens are always matched in the input as
// whole tokens (as Hugging Face "added tokens" are); control tokens only
// when EncodeOptions::parse_special is set. add_special puts BOS/EOS (CLS/SEP
// for WordPiece) around the ids as tokenizer.ggml.add_bos_token /
// add_eos_token say; when those keys are absent, SentencePiece adds BOS,
// byte-level BPE adds nothing, WordPiece adds CLS and SEP.
//
// Ownership: the Tokenizer copies what it needs from the GgufFile; the file
// may be closed afterwards. Thread-safety: immutable after from_gguf();
// encode/decode may run concurrently from any number of threads.
//
// Any byte string is accepted: malformed UTF-8 never crashes or loops. It is
// encoded through byte tokens where the vocabulary has them (SentencePiece
// byte fallback, byte-level BPE), so it survives a round trip. Exceptions:
// byte-level vocabularies that lack tokens for the bytes that never occur in
// UTF-8 (C0, C1, F5-FF; gpt-neox, mpt, starcoder, refact) drop those bytes,
// and deepseek-llm's user-defined tokens for them decode as their text;
// WordPiece drops malformed bytes (BERT's cleaning removes what it cannot
// read). decode(encode(text)) == text holds for valid UTF-8 text on
// SentencePiece and byte-level BPE vocabularies (except that SentencePiece
// decodes a literal U+2581 "▁" as a space, as SentencePiece itself does).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "tokenizer/vocab.h"

namespace laneway {

class GgufFile;

enum class TokenizerKind { spm, bpe, wordpiece };
std::string_view tokenizer_kind_name(TokenizerKind kind);

struct EncodeOptions {
  // Add BOS/EOS (CLS/SEP for WordPiece) as the metadata says.
  bool add_special = true;
  // Turn control-token text in the input ("<|im_start|>") into that token;
  // otherwise it is plain text. Chat prompts need true; test vectors false.
  bool parse_special = false;
};

struct DecodeOptions {
  // Write the text of control/unknown tokens ("</s>"); otherwise they
  // decode to nothing.
  bool render_special = false;
  // Drop the one space the SentencePiece/WordPiece encoder put in front of
  // the text, so decode(encode(text)) == text. Leave false when decoding a
  // continuation of earlier text (generated tokens).
  bool remove_space_prefix = true;
};

class TokenizerModel;  // the per-family algorithm (spm.h, bpe.h, wordpiece.h)

class Tokenizer {
 public:
  // Builds the tokenizer from the file's metadata. Fails with not_found when
  // tokenizer.ggml.model or .tokens is missing, unsupported for an unknown
  // model or `pre`, corrupt for inconsistent arrays. A gpt2 vocabulary with
  // no `pre` gets the GPT-2 pattern and a warning (see warnings()).
  static Result<Tokenizer> from_gguf(const GgufFile& file);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const;

  // The bytes a token stands for (a piece of UTF-8 text, possibly part of a
  // character for byte tokens). Control/unknown tokens give their text
  // ("</s>"); decode() leaves them out unless asked. Empty for a bad id.
  std::string_view token_to_piece(int32_t id) const;
  // The token's text as the vocabulary stores it ("▁Hello", "Ġworld").
  std::string_view token_text(int32_t id) const;

  // The bytes of a token sequence (not sanitized: may hold malformed UTF-8
  // if the ids split a character; see StreamingDetokenizer for clean text).
  // Bad ids are skipped.
  std::string decode(std::span<const int32_t> ids, const DecodeOptions& options = {}) const;

  int32_t vocab_size() const { return vocab_.size(); }
  bool valid_id(int32_t id) const { return vocab_.valid_id(id); }
  TokenType token_type(int32_t id) const { return valid_id(id) ? vocab_.type(id) : TokenType::undefined; }
  // Control and unknown tokens: what decode() leaves out unless render_special.
  bool is_special(int32_t id) const;

  // BOS/EOS are CLS/SEP for WordPiece vocabularies. kNoToken when absent.
  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t eot_id() const { return vocab_.special.eot; }
  int32_t unk_id() const { return vocab_.special.unk; }
  const SpecialTokenIds& special_ids() const { return vocab_.special; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }

  // Whether generation should stop at this token: EOS, EOT, EOM, and control
  // tokens whose text is a well-known end-of-turn marker ("<|im_end|>",
  // "<|eot_id|>", "<end_of_turn>", ...) even when the metadata names none.
  bool is_end_of_generation(int32_t id) const;

  TokenizerKind kind() const { return kind_; }
  // tokenizer.ggml.pre as read ("" when absent).
  const std::string& pre() const { return pre_; }
  // Non-fatal findings while loading (missing `pre`, ignored ids).
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Whether decoding drops a leading space the encoder added.
  bool adds_space_prefix() const { return add_space_prefix_; }

 private:
  Tokenizer(Vocab vocab);
  void encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const;

  Vocab vocab_;
  TokenizerKind kind_ = TokenizerKind::spm;
  std::unique_ptr<TokenizerModel> model_;
  std::string pre_;
  std::vector<std::string> warnings_;
  std::vector<std::string> pieces_;         // token_to_piece, per id
  // The tokens encode() cuts out of the text before the model sees it, as
  // byte tries (one walk finds the longest that starts at a position, in
  // time bounded by its length, not by how many there are: Gemma's
  // vocabularies have thousands of <unusedN>): user-defined tokens always,
  // control and unknown ones too when special tokens are parsed.
  class SplitTrie {
   public:
    void insert(std::string_view text, int32_t id);
    // The longest token whose text begins `text` ({kNoToken, 0} when none);
    // between equal texts, the lowest id.
    std::pair<int32_t, size_t> longest_prefix(std::string_view text) const;

   private:
    struct Node {
      std::vector<std::pair<uint8_t, int32_t>> children;  // (byte, node), by byte
      int32_t token = kNoToken;
      // Where the child for `byte` is or would go.
      auto child(uint8_t byte) const {
        return std::lower_bound(children.begin(), children.end(), byte,
                                [](const std::pair<uint8_t, int32_t>& c, uint8_t b) { return c.first < b; });
      }
    };
    std::array<int32_t, 256> root_{};  // node of each first byte, 0 = none
    std::vector<Node> nodes_{Node{}};  // nodes_[0] is unused (the root is root_)
  };
  SplitTrie always_split_;
  SplitTrie special_split_;
  std::vector<uint8_t> end_of_generation_;  // per id
  int32_t bos_id_ = kNoToken;
  int32_t eos_id_ = kNoToken;
  bool add_bos_ = false;
  bool add_eos_ = false;
  bool add_space_prefix_ = false;
};

// Turns a stream of token ids into text that never ends in half a UTF-8
// character: bytes of an incomplete character are held until the next
// token completes it. Malformed bytes become U+FFFD, so every string it
// returns is valid UTF-8 (safe for JSON / SSE).
//
// Ownership: borrows the Tokenizer, which must outlive it. One per stream;
// not thread-safe.
class StreamingDetokenizer {
 public:
  // Default options suit generated text: special tokens are not rendered and
  // no leading space is removed (the text continues a prompt).
  explicit StreamingDetokenizer(const Tokenizer& tokenizer,
                                DecodeOptions options = {.render_special = false, .remove_space_prefix = false});

  // Adds a token; returns the text that is now complete (maybe empty).
  std::string push(int32_t id);
  // Ends the stream: returns what is held back, a trailing incomplete
  // character as U+FFFD. The detokenizer can then start a new stream.
  std::string flush();
  // Bytes held back waiting for the rest of a character (0 to 3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  DecodeOptions options_;
  std::string pending_;
  bool first_ = true;
};

}  // namespace laneway
