// Pre-tokenizers of byte-level BPE vocabularies: the text is cut into pieces
// by a sequence of regexes before BPE runs on each piece. The table of
// regexes per `tokenizer.ggml.pre` name is in pretokenizer.cpp; each entry is
// the published pattern list of that model's tokenizer.
//
// Semantics (those of a sequence of "isolated" splits): the text starts as
// one piece; each regex in turn cuts every current piece into its matches
// and the stretches between matches, all kept as pieces. The pieces always
// cover the text exactly, in order. Each regex sees one piece as its whole
// subject (lookarounds and `$` stop at the piece's edges).
//
// Regexes run under PCRE2 with UTF, UCP (so \s \d \w and \p{..} are
// Unicode-aware), MATCH_INVALID_UTF (malformed bytes never match and end up
// in between-match pieces) and JIT when available.
//
// Thread-safety: immutable after creation; split() may run concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace laneway {

class PreTokenizer {
 public:
  // The pre-tokenizer named by tokenizer.ggml.pre; an unknown name is an
  // unsupported error naming it.
  static Result<PreTokenizer> for_name(std::string_view pre);
  // A pre-tokenizer from explicit regexes (for tests and the default).
  static Result<PreTokenizer> from_patterns(const std::vector<std::string>& patterns, bool ignore_merges);
  // Every name for_name() accepts.
  static std::vector<std::string_view> known_names();
  // The regexes of a known name as its tokenizer publishes them (empty for unknown names).
  static std::vector<std::string> patterns_of(std::string_view pre);

  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;
  ~PreTokenizer();

  // Appends the pieces of `text` (views into it) to `pieces`.
  void split(std::string_view text, std::vector<std::string_view>& pieces) const;

  // Whether BPE should emit a piece that is itself a vocabulary token whole,
  // without merging (the llama-3 tokenizer's `ignore_merges`).
  bool ignore_merges() const { return ignore_merges_; }

 private:
  struct Regex;
  PreTokenizer() = default;
  std::vector<std::unique_ptr<Regex>> regexes_;
  bool ignore_merges_ = false;
};

// A pattern with each \p{X} of a major category (L, M, N, P, S) widened by
// the code points utf8proc puts in X and PCRE2's older Unicode tables do not
// (see pretokenizer.cpp); from_patterns() applies it. Exposed for tests.
std::string widen_unicode_properties(std::string_view pattern);

}  // namespace laneway
