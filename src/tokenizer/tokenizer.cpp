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
      t.always_split_.insert(text, id);
      t.special_split_.insert(text, id);
    } else if (type == TokenType::control || type == TokenType::unknown) {
      t.special_split_.insert(text, id);
      if (type == TokenType::control &&
          std::find(std::begin(kEndOfTurnTexts), std::end(kEndOfTurnTexts), text) != std::end(kEndOfTurnTexts)) {
        t.end_of_generation_[id] = 1;
      }
    }
  }
  for (int32_t id : {v.special.eos, v.special.eot, v.special.eom}) {
    if (id != kNoToken) t.end_of_generation_[id] = 1;
  }
  return t;
}

void Tokenizer::SplitTrie::insert(std::string_view text, int32_t id) {
  if (text.empty()) return;
  int32_t& first = root_[static_cast<unsigned char>(text[0])];
  if (first == 0) {
    first = static_cast<int32_t>(nodes_.size());
    nodes_.emplace_back();
  }
  int32_t node = first;
  for (size_t i = 1; i < text.size(); ++i) {
    const auto byte = static_cast<uint8_t>(text[i]);
    Node& n = nodes_[static_cast<size_t>(node)];
    const auto it = n.child(byte);
    if (it != n.children.end() && it->first == byte) {
      node = it->second;
      continue;
    }
    const auto next = static_cast<int32_t>(nodes_.size());
    n.children.insert(it, {byte, next});
    nodes_.emplace_back();  // last: it may move the nodes, `n` with them
    node = next;
  }
  int32_t& token = nodes_[static_cast<size_t>(node)].token;
  if (token == kNoToken || id < token) token = id;
}

std::pair<int32_t, size_t> Tokenizer::SplitTrie::longest_prefix(std::string_view text) const {
  std::pair<int32_t, size_t> best{kNoToken, 0};
  if (text.empty()) return best;
  int32_t node = root_[static_cast<unsigned char>(text[0])];
  for (size_t i = 1; node != 0; ++i) {
    const Node& n = nodes_[static_cast<size_t>(node)];
    if (n.token != kNoToken) best = {n.token, i};
    if (i == text.size()) break;
    const auto byte = static_cast<uint8_t>(text[i]);
    const auto it = n.child(byte);
    node = it != n.children.end() && it->first == byte ? it->second : 0;
  }
  return best;
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
  const SplitTrie& split = options.parse_special ? special_split_ : always_split_;
  bool after_special = true;
  size_t start = 0;
  for (size_t pos = 0; pos < text.size();) {
    const auto [match, length] = split.longest_prefix(text.substr(pos));
    if (match == kNoToken) {
      ++pos;
      continue;
    }
    encode_text(text.substr(start, pos - start), after_special, out);
    out.push_back(match);
    after_special = true;
    pos += length;
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
