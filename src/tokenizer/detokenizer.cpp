#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace laneway {

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, DecodeOptions options)
    : tokenizer_(&tokenizer), options_(options) {}

std::string StreamingDetokenizer::push(int32_t id) {
  if (!tokenizer_->valid_id(id)) return {};
  if (tokenizer_->is_special(id) && !options_.render_special) return {};
  std::string_view piece = tokenizer_->token_to_piece(id);
  if (first_ && options_.remove_space_prefix && tokenizer_->adds_space_prefix() && piece.starts_with(' ')) {
    piece.remove_prefix(1);
  }
  first_ = false;
  pending_.append(piece);
  const size_t hold = unicode::utf8_incomplete_tail_length(pending_);
  std::string out = unicode::utf8_sanitize(std::string_view(pending_).substr(0, pending_.size() - hold));
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StreamingDetokenizer::flush() {
  std::string out = unicode::utf8_sanitize(pending_);
  pending_.clear();
  first_ = true;
  return out;
}

}  // namespace laneway
