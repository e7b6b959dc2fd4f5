// Byte-level BPE (GPT-2 family). The pre-tokenizer cuts the text into
// pieces; each piece's bytes become the printable characters of the GPT-2
// byte alphabet (one vocabulary token per byte), and then the adjacent pair
// with the best (lowest) merge rank is merged until no listed merge applies.
// Ties go to the leftmost pair.
#include <algorithm>
#include <array>
#include <unordered_map>

#include "tokenizer/model.h"
#include "tokenizer/unicode.h"

namespace laneway {
namespace {

struct MergeResult {
  int32_t rank;
  int32_t id;
};

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

class BpeModel final : public TokenizerModel {
 public:
  BpeModel(const Vocab& vocab, const std::vector<std::string_view>& merges, PreTokenizer pre, size_t& skipped)
      : pre_(std::move(pre)) {
    // A byte with no token (gpt-neox-style vocabularies lack C0, C1 and
    // F5-FF, which never occur in UTF-8) becomes the unknown token only
    // when that is a real <unk>; these vocabularies name <|endoftext|> as
    // "unknown", and ending the text is worse than dropping a bad byte.
    const int32_t unk = vocab.special.unk;
    unk_for_missing_byte_ = unk != kNoToken && vocab.type(unk) == TokenType::unknown ? unk : kNoToken;
    const auto& cps = unicode::byte_level_code_points();
    for (int b = 0; b < 256; ++b) {
      std::string s;
      unicode::utf8_append(s, cps[b]);
      byte_ids_[b] = vocab.find(s);
    }
    merges_.reserve(merges.size() * 2);
    std::string joined;
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const std::string_view m = merges[rank];
      // The two sides are separated by one space; a side may itself begin
      // with a space in vocabularies that are not byte-level, hence from 1.
      const size_t space = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
      if (space == std::string_view::npos) { ++skipped; continue; }
      const std::string_view left = m.substr(0, space);
      const std::string_view right = m.substr(space + 1);
      joined.assign(left).append(right);
      const int32_t left_id = vocab.find(left);
      const int32_t right_id = vocab.find(right);
      const int32_t merged_id = vocab.find(joined);
      if (left_id == kNoToken || right_id == kNoToken || merged_id == kNoToken) { ++skipped; continue; }
      merges_.emplace(pair_key(left_id, right_id), MergeResult{static_cast<int32_t>(rank), merged_id});
    }
  }

  void encode(const Vocab& vocab, std::string_view text, bool /*after_special*/,
              std::vector<int32_t>& out) const override {
    std::vector<std::string_view> pieces;
    pre_.split(text, pieces);
    Scratch scratch;
    for (std::string_view piece : pieces) encode_piece(vocab, piece, scratch, out);
  }

  std::string piece(const Vocab& vocab, int32_t id) const override {
    const std::string_view text = vocab.text(id);
    switch (vocab.type(id)) {
      case TokenType::control:
      case TokenType::unknown:
      case TokenType::user_defined:
        return std::string(text);  // stored as the text itself, not byte-level
      default: {
        std::string out;
        out.reserve(text.size());
        for (size_t pos = 0; pos < text.size();) {
          const unicode::Utf8Char c = unicode::utf8_decode(text, pos);
          const int byte = c.valid ? unicode::byte_level_byte(c.cp) : -1;
          if (byte >= 0) out.push_back(static_cast<char>(byte));
          else out.append(text.substr(pos, c.len));  // not of the byte alphabet: keep as is
          pos += c.len;
        }
        return out;
      }
    }
  }

 private:
  struct Symbol {
    int32_t id;  // kNoToken: a byte the vocabulary lacks; kMerged: merged away
    int32_t prev;
    int32_t next;
  };
  static constexpr int32_t kMerged = -2;
  struct Candidate {
    int32_t rank;
    int32_t left;
    int32_t left_id;
    int32_t right_id;
    int32_t merged_id;
  };
  struct WorseCandidate {
    bool operator()(const Candidate& a, const Candidate& b) const {
      return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
  };
  // Buffers reused across the pieces of one encode call.
  struct Scratch {
    std::vector<Symbol> symbols;
    std::vector<Candidate> heap;
    std::string mapped;
  };

  void encode_piece(const Vocab& vocab, std::string_view piece, Scratch& scratch, std::vector<int32_t>& out) const {
    if (pre_.ignore_merges()) {
      // A piece that is a token as a whole is emitted whole.
      scratch.mapped.clear();
      for (unsigned char b : piece) unicode::utf8_append(scratch.mapped, unicode::byte_level_code_points()[b]);
      const int32_t id = vocab.find(scratch.mapped);
      if (id != kNoToken) {
        out.push_back(id);
        return;
      }
    }
    auto& symbols = scratch.symbols;
    symbols.clear();
    for (size_t i = 0; i < piece.size(); ++i) {
      const auto b = static_cast<unsigned char>(piece[i]);
      symbols.push_back({byte_ids_[b], static_cast<int32_t>(i) - 1,
                         i + 1 < piece.size() ? static_cast<int32_t>(i + 1) : -1});
    }
    if (symbols.size() == 1) {
      emit(symbols[0].id, out);
      return;
    }
    auto& heap = scratch.heap;
    heap.clear();
    auto consider = [&](int32_t left) {
      if (left < 0) return;
      const int32_t right = symbols[left].next;
      if (right < 0 || symbols[left].id < 0 || symbols[right].id < 0) return;
      auto it = merges_.find(pair_key(symbols[left].id, symbols[right].id));
      if (it == merges_.end()) return;
      heap.push_back({it->second.rank, left, symbols[left].id, symbols[right].id, it->second.id});
      std::push_heap(heap.begin(), heap.end(), WorseCandidate{});
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) consider(i);

    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), WorseCandidate{});
      const Candidate c = heap.back();
      heap.pop_back();
      Symbol& left = symbols[c.left];
      // Stale entries: a side has changed since the pair was queued.
      if (left.id != c.left_id || left.next < 0 || symbols[left.next].id != c.right_id) continue;
      Symbol& right = symbols[left.next];
      left.id = c.merged_id;
      right.id = kMerged;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = c.left;
      consider(left.prev);
      consider(c.left);
    }
    for (int32_t i = 0; i >= 0; i = symbols[i].next) emit(symbols[i].id, out);
  }

  void emit(int32_t id, std::vector<int32_t>& out) const {
    if (id >= 0) out.push_back(id);
    else if (unk_for_missing_byte_ != kNoToken) out.push_back(unk_for_missing_byte_);
  }

  PreTokenizer pre_;
  int32_t unk_for_missing_byte_ = kNoToken;
  std::array<int32_t, 256> byte_ids_{};
  std::unordered_map<uint64_t, MergeResult> merges_;
};

}  // namespace

std::unique_ptr<TokenizerModel> make_bpe_model(const Vocab& vocab, const std::vector<std::string_view>& merges,
                                               PreTokenizer pre, size_t& skipped_merges) {
  return std::make_unique<BpeModel>(vocab, merges, std::move(pre), skipped_merges);
}

}  // namespace laneway
