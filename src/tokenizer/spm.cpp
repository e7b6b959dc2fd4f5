// SentencePiece BPE: start from single characters and repeatedly merge the
// adjacent pair whose concatenation is the vocabulary piece with the highest
// score (leftmost on ties). Characters no piece covers fall back to their
// UTF-8 bytes as <0xXX> tokens.
#include <queue>

#include "tokenizer/model.h"
#include "tokenizer/unicode.h"

namespace laneway {
namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 ▁, SentencePiece's space

class SpmModel final : public TokenizerModel {
 public:
  SpmModel(const Vocab& vocab, bool add_space_prefix) : add_space_prefix_(add_space_prefix) {
    byte_ids_.fill(kNoToken);
    for (int b = 0; b < 256; ++b) {
      char name[8];
      static const char kHex[] = "0123456789ABCDEF";
      name[0] = '<'; name[1] = '0'; name[2] = 'x';
      name[3] = kHex[b >> 4]; name[4] = kHex[b & 15]; name[5] = '>';
      byte_ids_[b] = vocab.find(std::string_view(name, 6));
    }
  }

  void encode(const Vocab& vocab, std::string_view text, bool after_special,
              std::vector<int32_t>& out) const override {
    // SentencePiece's normalization as these models use it: a space in
    // front of the text, every space written as ▁.
    std::string s;
    s.reserve(text.size() + 3 + text.size() / 4);
    if (add_space_prefix_ && after_special) s.append(kSpaceMarker);
    for (char c : text) {
      if (c == ' ') s.append(kSpaceMarker);
      else s.push_back(c);
    }
    if (s.empty()) return;

    struct Symbol {
      uint32_t start;
      uint32_t len;
      int32_t prev;
      int32_t next;
    };
    std::vector<Symbol> symbols;
    symbols.reserve(s.size());
    for (size_t pos = 0; pos < s.size();) {
      const auto len = static_cast<uint32_t>(unicode::utf8_char_length(s, pos));
      const auto i = static_cast<int32_t>(symbols.size());
      symbols.push_back({static_cast<uint32_t>(pos), len, i - 1, -1});
      if (i > 0) symbols[i - 1].next = i;
      pos += len;
    }

    struct Bigram {
      float score;
      int32_t left;
      int32_t right;
      uint32_t len;  // combined length when pushed: a stale entry no longer matches
    };
    auto lower_priority = [](const Bigram& a, const Bigram& b) {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<Bigram, std::vector<Bigram>, decltype(lower_priority)> queue(lower_priority);
    auto try_add = [&](int32_t left, int32_t right) {
      if (left < 0 || right < 0) return;
      const std::string_view merged(s.data() + symbols[left].start, symbols[left].len + symbols[right].len);
      const int32_t id = vocab.find(merged);
      if (id == kNoToken) return;
      queue.push({vocab.score(id), left, right, static_cast<uint32_t>(merged.size())});
    };
    for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

    while (!queue.empty()) {
      const Bigram top = queue.top();
      queue.pop();
      Symbol& left = symbols[top.left];
      Symbol& right = symbols[top.right];
      if (left.len == 0 || right.len == 0 || left.next != top.right || left.len + right.len != top.len) continue;
      left.len += right.len;
      right.len = 0;  // merged away
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = top.left;
      try_add(left.prev, top.left);
      try_add(top.left, left.next);
    }

    for (int32_t i = 0; i >= 0; i = symbols[i].next) {
      const std::string_view piece(s.data() + symbols[i].start, symbols[i].len);
      const int32_t id = vocab.find(piece);
      if (id != kNoToken) {
        out.push_back(id);
        continue;
      }
      for (unsigned char b : piece) {
        const int32_t byte_id = byte_ids_[b] != kNoToken ? byte_ids_[b] : vocab.special.unk;
        if (byte_id != kNoToken) out.push_back(byte_id);
      }
    }
  }

  std::string piece(const Vocab& vocab, int32_t id) const override {
    const std::string_view text = vocab.text(id);
    switch (vocab.type(id)) {
      case TokenType::byte: {
        // "<0xAB>" stands for the byte 0xAB.
        if (text.size() == 6 && text.starts_with("<0x") && text.back() == '>') {
          unsigned value = 0;
          bool ok = true;
          for (char c : text.substr(3, 2)) {
            value <<= 4;
            if (c >= '0' && c <= '9') value |= unsigned(c - '0');
            else if (c >= 'A' && c <= 'F') value |= unsigned(c - 'A' + 10);
            else if (c >= 'a' && c <= 'f') value |= unsigned(c - 'a' + 10);
            else ok = false;
          }
          if (ok) return std::string(1, static_cast<char>(value));
        }
        return std::string(text);
      }
      case TokenType::control:
      case TokenType::unknown:
      case TokenType::user_defined:
        return std::string(text);
      default: {
        std::string out;
        out.reserve(text.size());
        for (size_t pos = 0; pos < text.size();) {
          if (text.substr(pos).starts_with(kSpaceMarker)) {
            out.push_back(' ');
            pos += kSpaceMarker.size();
          } else {
            out.push_back(text[pos++]);
          }
        }
        return out;
      }
    }
  }

 private:
  bool add_space_prefix_;
  std::array<int32_t, 256> byte_ids_{};
};

}  // namespace

std::unique_ptr<TokenizerModel> make_spm_model(const Vocab& vocab, bool add_space_prefix) {
  return std::make_unique<SpmModel>(vocab, add_space_prefix);
}

}  // namespace laneway
