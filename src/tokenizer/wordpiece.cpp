// WordPiece as BERT uses it.
//
// Normalization (BERT uncased): drop NUL, U+FFFD and other-category (C*)
// characters except \t \n \r; turn white space into ' '; put spaces around
// CJK ideographs; decompose (NFD) and drop non-spacing marks (accents);
// lower-case. Then split on white space and cut every punctuation character
// (Unicode P* and the ASCII symbols) out as its own word.
//
// Each word is matched greedily, longest vocabulary piece first, from the
// left; a word with a part no piece covers, or longer than 100 characters,
// becomes [UNK] as a whole.
//
// GGUF vocabularies (as written by llama.cpp's converter) mark word-initial
// pieces with a leading "▁" and store continuation pieces bare; original
// BERT vocabularies store word-initial pieces bare and continuations with
// "##". Both are recognised.
#include <array>

#include "tokenizer/model.h"
#include "tokenizer/unicode.h"

namespace laneway {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // ▁
constexpr size_t kMaxWordChars = 100;

bool is_bert_punctuation(uint32_t cp) {
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
         (cp >= 123 && cp <= 126) || unicode::is_punctuation(cp);
}

class WordPieceModel final : public TokenizerModel {
 public:
  explicit WordPieceModel(const Vocab& vocab) {
    // Phantom-space convention when any piece starts with ▁ and none with ##.
    bool any_marker = false;
    bool any_hashes = false;
    for (int32_t id = 0; id < vocab.size(); ++id) {
      const std::string_view t = vocab.text(id);
      any_marker = any_marker || t.starts_with(kSpaceMarker);
      any_hashes = any_hashes || (t.size() > 2 && t.starts_with("##"));
    }
    phantom_space_ = any_marker || !any_hashes;
  }

  void encode(const Vocab& vocab, std::string_view text, bool /*after_special*/,
              std::vector<int32_t>& out) const override {
    // Normalize into code points, with ' ' marking word boundaries and
    // punctuation flagged to stand alone.
    std::vector<uint32_t> cps;
    cps.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
      const unicode::Utf8Char c = unicode::utf8_decode(text, pos);
      pos += c.len;
      if (!c.valid) continue;  // unreadable bytes are cleaned away like U+FFFD
      uint32_t cp = c.cp;
      if (cp == 0 || cp == unicode::kReplacementChar) continue;
      if (cp != '\t' && cp != '\n' && cp != '\r' && unicode::is_other_category(cp)) continue;
      if (unicode::is_white_space(cp)) cp = ' ';
      if (unicode::is_cjk_ideograph(cp)) {
        cps.push_back(' ');
        cps.push_back(cp);
        cps.push_back(' ');
        continue;
      }
      uint32_t decomposed[32];
      const size_t n = unicode::decompose_nfd(cp, decomposed, 32);
      for (size_t i = 0; i < n && i < 32; ++i) {
        if (unicode::is_mark_nonspacing(decomposed[i])) continue;
        cps.push_back(unicode::to_lower(decomposed[i]));
      }
    }

    std::vector<uint32_t> word;
    auto flush_word = [&] {
      if (!word.empty()) encode_word(vocab, word, out);
      word.clear();
    };
    for (uint32_t cp : cps) {
      if (cp == ' ') {
        flush_word();
      } else if (is_bert_punctuation(cp)) {
        flush_word();
        word.push_back(cp);
        flush_word();
      } else {
        word.push_back(cp);
      }
    }
    flush_word();
  }

  std::string piece(const Vocab& vocab, int32_t id) const override {
    const std::string_view text = vocab.text(id);
    const TokenType type = vocab.type(id);
    if (type == TokenType::control || type == TokenType::unknown) return std::string(text);
    if (phantom_space_) {
      if (text.starts_with(kSpaceMarker)) return " " + std::string(text.substr(kSpaceMarker.size()));
      return std::string(text);
    }
    if (text.size() > 2 && text.starts_with("##")) return std::string(text.substr(2));
    return " " + std::string(text);
  }

 private:
  void encode_word(const Vocab& vocab, const std::vector<uint32_t>& word, std::vector<int32_t>& out) const {
    if (word.size() > kMaxWordChars) {
      if (vocab.special.unk != kNoToken) out.push_back(vocab.special.unk);
      return;
    }
    // UTF-8 of the word with the byte offset of every character.
    std::string utf8;
    std::vector<size_t> offsets;
    for (uint32_t cp : word) {
      offsets.push_back(utf8.size());
      unicode::utf8_append(utf8, cp);
    }
    offsets.push_back(utf8.size());

    const size_t first_out = out.size();
    std::string candidate;
    size_t start = 0;
    while (start < word.size()) {
      int32_t found = kNoToken;
      size_t end = word.size();
      for (; end > start; --end) {
        const std::string_view sub(utf8.data() + offsets[start], offsets[end] - offsets[start]);
        if (phantom_space_) {
          candidate.assign(start == 0 ? kSpaceMarker : std::string_view()).append(sub);
        } else {
          candidate.assign(start == 0 ? std::string_view() : std::string_view("##")).append(sub);
        }
        found = vocab.find(candidate);
        if (found != kNoToken) break;
      }
      if (found == kNoToken) {
        out.resize(first_out);
        if (vocab.special.unk != kNoToken) out.push_back(vocab.special.unk);
        return;
      }
      out.push_back(found);
      start = end;
    }
  }

  bool phantom_space_ = true;
};

}  // namespace

std::unique_ptr<TokenizerModel> make_wordpiece_model(const Vocab& vocab) {
  return std::make_unique<WordPieceModel>(vocab);
}

}  // namespace laneway
