#include "tokenizer/tokenizer.h"

#include <algorithm>

#include <fmt/format.h>

#include "gguf/gguf.h"
#include "tokenizer/model.h"

namespace laneway {

std::string_view tokenizer_kind_name(TokenizerKind kind) {
  switch (kind) {
    case TokenizerKind::spm: return "spm";
    case TokenizerKind::bpe: return "bpe";
    case TokenizerKind::wordpiece: return "wordpiece";
  }
  return "?";
}

namespace {

// Control-token texts that end a turn in widely used chat formats; models
// often name only one of them as EOS/EOT in their metadata.
constexpr std::string_view kEndOfTurnTexts[] = {
    "</s>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|im_end|>", "<|end|>",
    "<end_of_turn>", "<|return|>", "<|call|>", "<EOT>", "<|END_OF_TURN_TOKEN|>", "<｜end▁of▁sentence｜>",
};

Result<std::optional<bool>> optional_bool(const GgufFile& file, std::string_view key) {
  if (!file.contains(key)) return std::optional<bool>();
  LANEWAY_ASSIGN_OR_RETURN(bool value, file.get_bool(key));
  return std::optional<bool>(value);
}

}  // namespace

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Tokenizer> Tokenizer::from_gguf(const GgufFile& file) {
  if (!file.contains("tokenizer.ggml.model")) {
    return not_found_error("{} has no tokenizer (metadata key tokenizer.ggml.model is missing)", file.name());
  }
  LANEWAY_ASSIGN_OR_RETURN(std::string_view model, file.get_string("tokenizer.ggml.model"));
  TokenizerKind kind;
  if (model == "llama") kind = TokenizerKind::spm;
  else if (model == "gpt2") kind = TokenizerKind::bpe;
  else if (model == "bert") kind = TokenizerKind::wordpiece;
  else return unsupported_error("tokenizer.ggml.model '{}' is not supported (supported: llama, gpt2, bert)", model);

  std::vector<std::string> warnings;
  LANEWAY_ASSIGN_OR_RETURN(Vocab vocab, Vocab::from_gguf(file, warnings));
  Tokenizer t(std::move(vocab));
  t.kind_ = kind;
  t.warnings_ = std::move(warnings);
  const Vocab& v = t.vocab_;

  LANEWAY_ASSIGN_OR_RETURN(std::optional<bool> add_bos, optional_bool(file, "tokenizer.ggml.add_bos_token"));
  LANEWAY_ASSIGN_OR_RETURN(std::optional<bool> add_eos, optional_bool(file, "tokenizer.ggml.add_eos_token"));
  if (file.contains("tokenizer.ggml.pre")) {
    LANEWAY_ASSIGN_OR_RETURN(std::string_view pre, file.get_string("tokenizer.ggml.pre"));
    t.pre_ = std::string(pre);
  }

  switch (kind) {
    case TokenizerKind::spm: {
      LANEWAY_ASSIGN_OR_RETURN(std::optional<bool> prefix, optional_bool(file, "tokenizer.ggml.add_space_prefix"));
      t.add_space_prefix_ = prefix.value_or(true);
      t.model_ = make_spm_model(v, t.add_space_prefix_);
      t.bos_id_ = v.special.bos;
      t.eos_id_ = v.special.eos;
      t.add_bos_ = add_bos.value_or(true);
      t.add_eos_ = add_eos.value_or(false);
      break;
    }
    case TokenizerKind::bpe: {
      std::string_view pre_name = t.pre_;
      if (t.pre_.empty()) {
        t.warnings_.push_back(
            "tokenizer.ggml.pre is missing; using the GPT-2 pre-tokenizer, which may not be how this model "
            "was trained (re-convert the model with a current converter to record it)");
        pre_name = "default";
      }
      LANEWAY_ASSIGN_OR_RETURN(PreTokenizer pre, PreTokenizer::for_name(pre_name));
      std::vector<std::string_view> merges;
      if (file.contains("tokenizer.ggml.merges")) {
        LANEWAY_ASSIGN_OR_RETURN(GgufStringArray merge_array, file.get_string_array("tokenizer.ggml.merges"));
        merges = merge_array.to_vector();
      } else {
        t.warnings_.push_back("tokenizer.ggml.merges is missing; every byte becomes its own token");
      }
      size_t skipped = 0;
      t.model_ = make_bpe_model(v, merges, std::move(pre), skipped);
      if (skipped > 0) {
        t.warnings_.push_back(fmt::format("{} of {} merges name tokens outside the vocabulary; skipped", skipped,
                                          merges.size()));
      }
      t.bos_id_ = v.special.bos;
      t.eos_id_ = v.special.eos;
      t.add_bos_ = add_bos.value_or(false);
      t.add_eos_ = add_eos.value_or(false);
      break;
    }
    case TokenizerKind::wordpiece: {
      t.model_ = make_wordpiece_model(v);
      t.add_space_prefix_ = true;  // word-initial pieces decode with a space in front
      t.bos_id_ = v.special.cls != kNoToken ? v.special.cls : v.special.bos;
      t.eos_id_ = v.special.sep != kNoToken ? v.special.sep : v.special.eos;
      t.add_bos_ = add_bos.value_or(true);
      t.add_eos_ = add_eos.value_or(true);
      break;
    }
  }

  const int32_t n = v.size();
  t.pieces_.reserve(static_cast<size_t>(n));
  t.end_of_generation_.assign(static_cast<size_t>(n), 0);
  for (int32_t id = 0; id < n; ++id) {
    t.pieces_.push_back(t.model_->piece(v, id));
    const TokenType type = v.type(id);
    const std::string_view text = v.text(id);
    if (text.empty()) continue;
    if (type == TokenType::user_defined) {
      t.always_split_.push_back(id);
      t.special_split_.push_back(id);
    } else if (type == TokenType::control || type == TokenType::unknown) {
      t.special_split_.push_back(id);
      if (type == TokenType::control &&
          std::find(std::begin(kEndOfTurnTexts), std::end(kEndOfTurnTexts), text) != std::end(kEndOfTurnTexts)) {
        t.end_of_generation_[id] = 1;
      }
    }
  }
  for (int32_t id : {v.special.eos, v.special.eot, v.special.eom}) {
    if (id != kNoToken) t.end_of_generation_[id] = 1;
  }
  // Longest first, so a scan takes the longest special token at a position.
  auto longest_first = [&v](int32_t a, int32_t b) {
    const size_t la = v.text(a).size(), lb = v.text(b).size();
    return la != lb ? la > lb : a < b;
  };
  std::sort(t.always_split_.begin(), t.always_split_.end(), longest_first);
  std::sort(t.special_split_.begin(), t.special_split_.end(), longest_first);
  for (const auto* list : {&t.always_split_, &t.special_split_}) {
    auto& index = list == &t.always_split_ ? t.always_by_byte_ : t.special_by_byte_;
    for (int32_t id : *list) index[static_cast<unsigned char>(v.text(id)[0])].push_back(id);
  }
  return t;
}

bool Tokenizer::is_special(int32_t id) const {
  const TokenType type = token_type(id);
  return type == TokenType::control || type == TokenType::unknown;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return valid_id(id) && end_of_generation_[static_cast<size_t>(id)] != 0;
}

std::string_view Tokenizer::token_to_piece(int32_t id) const {
  return valid_id(id) ? std::string_view(pieces_[static_cast<size_t>(id)]) : std::string_view();
}

std::string_view Tokenizer::token_text(int32_t id) const {
  return valid_id(id) ? vocab_.text(id) : std::string_view();
}

void Tokenizer::encode_text(std::string_view text, bool after_special, std::vector<int32_t>& out) const {
  if (!text.empty()) model_->encode(vocab_, text, after_special, out);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (options.add_special && add_bos_ && bos_id_ != kNoToken) out.push_back(bos_id_);

  // Special tokens are cut out first (leftmost, then longest); the text
  // between them is tokenized on its own.
  const auto& by_byte = options.parse_special ? special_by_byte_ : always_by_byte_;
  bool after_special = true;
  size_t start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const auto& candidates = by_byte[static_cast<unsigned char>(text[pos])];
    int32_t match = kNoToken;
    for (int32_t id : candidates) {
      if (text.substr(pos).starts_with(vocab_.text(id))) {
        match = id;
        break;
      }
    }
    if (match == kNoToken) {
      ++pos;
      continue;
    }
    encode_text(text.substr(start, pos - start), after_special, out);
    out.push_back(match);
    after_special = true;
    pos += vocab_.text(match).size();
    start = pos;
  }
  if (start < text.size()) encode_text(text.substr(start), after_special, out);

  if (options.add_special && add_eos_ && eos_id_ != kNoToken) out.push_back(eos_id_);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, const DecodeOptions& options) const {
  std::string out;
  bool at_start = true;
  for (int32_t id : ids) {
    if (!valid_id(id)) continue;
    if (is_special(id) && !options.render_special) continue;
    std::string_view piece = pieces_[static_cast<size_t>(id)];
    if (at_start && options.remove_space_prefix && add_space_prefix_ && piece.starts_with(' ')) {
      piece.remove_prefix(1);
    }
    at_start = false;
    out.append(piece);
  }
  return out;
}

}  // namespace laneway
