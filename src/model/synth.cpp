#include "model/synth.h"

#include <cmath>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "model/tensor_layout.h"
#include "quant/quant.h"

namespace laneway {
namespace {

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Normal(0, std) values for one row, from a seed that depends only on the
// tensor and row (so generation is parallel and reproducible).
void random_row(uint64_t seed, float std_dev, float* out, int64_t n) {
  uint64_t s = seed;
  for (int64_t i = 0; i < n; i += 2) {
    const double u1 = (static_cast<double>(splitmix64(s) >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = static_cast<double>(splitmix64(s) >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1)) * std_dev;
    out[i] = static_cast<float>(r * std::cos(2.0 * M_PI * u2));
    if (i + 1 < n) out[i + 1] = static_cast<float>(r * std::sin(2.0 * M_PI * u2));
  }
}

// Llama 3.1 rope scaling (factor 8, low/high frequency factors 1 and 4,
// original context 8192) as per-frequency divisors.
std::vector<float> llama3_rope_factors(const ModelHparams& hp) {
  std::vector<float> factors(static_cast<size_t>(hp.rope_dim / 2));
  const double low_wavelen = 8192.0 / 1.0, high_wavelen = 8192.0 / 4.0;
  for (size_t i = 0; i < factors.size(); ++i) {
    const double freq = std::pow(hp.rope_freq_base, -2.0 * double(i) / double(hp.rope_dim));
    const double wavelen = 2.0 * M_PI / freq;
    if (wavelen < high_wavelen) {
      factors[i] = 1.0f;
    } else if (wavelen > low_wavelen) {
      factors[i] = 8.0f;
    } else {
      const double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
      factors[i] = static_cast<float>(1.0 / ((1.0 - smooth) / 8.0 + smooth));
    }
  }
  return factors;
}

void add_builtin_tokenizer(GgufWriter& w, int64_t n_vocab) {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  tokens.reserve(static_cast<size_t>(n_vocab));
  auto add = [&](std::string t, float score, int32_t type) {
    tokens.push_back(std::move(t));
    scores.push_back(score);
    types.push_back(type);
  };
  add("<unk>", 0, 2);
  add("<s>", 0, 3);
  add("</s>", 0, 3);
  for (int b = 0; b < 256 && static_cast<int64_t>(tokens.size()) < n_vocab; ++b) {
    add(fmt::format("<0x{:02X}>", b), 0, 6);
  }
  // Then pieces made of letters, shortest first, so common text tokenizes.
  const std::string letters = "etaoinshrdlcumwfgypbvkjxqz";
  std::vector<std::string> frontier = {""};
  int64_t rank = 0;
  while (static_cast<int64_t>(tokens.size()) < n_vocab) {
    std::vector<std::string> next;
    for (const auto& prefix : frontier) {
      for (char c : letters) {
        if (static_cast<int64_t>(tokens.size()) >= n_vocab) break;
        std::string piece = prefix + c;
        add((prefix.empty() ? "\xE2\x96\x81" : "") + piece, -static_cast<float>(++rank), 1);
        next.push_back(piece);
      }
    }
    frontier = std::move(next);
  }
  w.add_string("tokenizer.ggml.model", "llama");
  w.add_string_array("tokenizer.ggml.tokens", tokens);
  w.add_array<float>("tokenizer.ggml.scores", scores);
  w.add_array<int32_t>("tokenizer.ggml.token_type", types);
  w.add_u32("tokenizer.ggml.unknown_token_id", 0);
  w.add_u32("tokenizer.ggml.bos_token_id", 1);
  w.add_u32("tokenizer.ggml.eos_token_id", 2);
}

}  // namespace

Status synth_model(const SynthOptions& o, const std::string& out_path) {
  ModelHparams hp = o.shape.hparams;
  if (o.n_layer > 0) hp.n_layer = o.n_layer;
  if (o.n_ctx > 0) hp.n_ctx_train = o.n_ctx;
  if (o.n_embd > 0) hp.n_embd = o.n_embd;
  if (o.n_head > 0) hp.n_head = o.n_head;
  if (o.n_head_kv > 0) hp.n_head_kv = o.n_head_kv;
  if (o.n_ff > 0) hp.n_ff = o.n_ff;
  if (o.n_vocab > 0) hp.n_vocab = o.n_vocab;
  if (o.n_expert >= 0) hp.n_expert = o.n_expert;
  if (o.n_expert_used > 0) hp.n_expert_used = o.n_expert_used;
  if (hp.n_expert == 0) hp.n_expert_used = 0;
  if (hp.n_expert > 0 && (hp.n_expert_used < 1 || hp.n_expert_used > hp.n_expert)) {
    return invalid_argument_error("{} experts per token is not within the {} experts", hp.n_expert_used, hp.n_expert);
  }
  if (hp.n_head <= 0 || hp.n_head_kv <= 0 || hp.n_embd % hp.n_head != 0 || hp.n_head % hp.n_head_kv != 0) {
    return invalid_argument_error("{} heads ({} KV heads) do not divide an embedding of {}", hp.n_head, hp.n_head_kv,
                                  hp.n_embd);
  }
  hp.head_dim = hp.n_embd / hp.n_head;
  hp.rope_dim = hp.head_dim;
  if (hp.n_vocab < 259) return invalid_argument_error("vocabulary of {} is too small (at least 259)", hp.n_vocab);
  LANEWAY_ASSIGN_OR_RETURN(TypeMix mix, parse_type_mix(o.type));

  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_string("general.name", fmt::format("laneway synth {} {}", o.shape.name, o.type));
  w.add_u32("llama.context_length", static_cast<uint32_t>(hp.n_ctx_train));
  w.add_u32("llama.embedding_length", static_cast<uint32_t>(hp.n_embd));
  w.add_u32("llama.block_count", static_cast<uint32_t>(hp.n_layer));
  w.add_u32("llama.feed_forward_length", static_cast<uint32_t>(hp.n_ff));
  w.add_u32("llama.attention.head_count", static_cast<uint32_t>(hp.n_head));
  w.add_u32("llama.attention.head_count_kv", static_cast<uint32_t>(hp.n_head_kv));
  w.add_u32("llama.rope.dimension_count", static_cast<uint32_t>(hp.rope_dim));
  w.add_f32("llama.rope.freq_base", static_cast<float>(hp.rope_freq_base));
  w.add_f32("llama.attention.layer_norm_rms_epsilon", hp.rms_eps);
  if (hp.n_expert > 0) {
    w.add_u32("llama.expert_count", static_cast<uint32_t>(hp.n_expert));
    w.add_u32("llama.expert_used_count", static_cast<uint32_t>(hp.n_expert_used));
  }

  std::optional<GgufFile> tok_file;
  if (!o.tokenizer_path.empty()) {
    LANEWAY_ASSIGN_OR_RETURN(GgufFile tf, GgufFile::open(o.tokenizer_path));
    tok_file = std::move(tf);
    for (const auto& kv : tok_file->metadata()) {
      if (kv.key.starts_with("tokenizer.")) w.add_copy(std::string(kv.key), kv.value);
    }
    auto tokens = tok_file->get_string_array("tokenizer.ggml.tokens");
    if (!tokens.is_ok()) return tokens.status().with_context(o.tokenizer_path);
    hp.n_vocab = static_cast<int64_t>(tokens->size());
  } else {
    add_builtin_tokenizer(w, hp.n_vocab);
  }

  const int n_threads = o.n_threads > 0 ? o.n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto pool = std::make_shared<ThreadPool>(n_threads);
  uint64_t tensor_index = 0;
  // Stacked expert matrices are n_expert matrices' rows one after another.
  auto add_matrix = [&](const std::string& name, GgmlType type, int64_t n_cols, int64_t n_rows, int64_t n_expert,
                        float std_dev) {
    const uint64_t tensor_seed = o.seed * 0x100000001B3ull + (++tensor_index) * 0x9E3779B97F4A7C15ull;
    const auto row_bytes = *ggml_row_bytes(type, static_cast<uint64_t>(n_cols));
    std::vector<uint64_t> dims = {static_cast<uint64_t>(n_cols), static_cast<uint64_t>(n_rows)};
    if (n_expert > 1) dims.push_back(static_cast<uint64_t>(n_expert));
    return w.add_tensor(name, type, dims,
                        [=](uint64_t first_row, uint64_t rows, std::span<uint8_t> out) {
                          pool->parallel_for(static_cast<int64_t>(rows), [&](int64_t b, int64_t e, int) {
                            std::vector<float> tmp(static_cast<size_t>(n_cols));
                            for (int64_t r = b; r < e; ++r) {
                              random_row(tensor_seed ^ ((first_row + static_cast<uint64_t>(r)) * 0xD1B54A32D192ED03ull),
                                         std_dev, tmp.data(), n_cols);
                              quantize_row(type, tmp.data(), out.data() + static_cast<uint64_t>(r) * row_bytes, n_cols);
                            }
                          });
                        });
  };
  auto add_vector = [&](const std::string& name, std::vector<float> values) {
    auto data = std::make_shared<std::vector<float>>(std::move(values));
    const int64_t n = static_cast<int64_t>(data->size());
    return w.add_tensor(name, GgmlType::f32, {static_cast<uint64_t>(n)},
                        [data](uint64_t, uint64_t, std::span<uint8_t> out) {
                          std::memcpy(out.data(), data->data(), out.size());
                        });
  };

  const float std_dev = 0.02f;
  for (const PlannedTensor& t : llama_tensor_layout(hp, mix, o.shape.llama3_rope_factors)) {
    if (!t.is_vector) {
      LANEWAY_TRY(add_matrix(t.name, t.type, t.n_cols, t.n_rows, t.n_expert, std_dev));
    } else if (t.name == "rope_freqs.weight") {
      LANEWAY_TRY(add_vector(t.name, llama3_rope_factors(hp)));
    } else {
      LANEWAY_TRY(add_vector(t.name, std::vector<float>(static_cast<size_t>(t.n_cols), 1.0f)));  // norms
    }
  }
  return w.write_file(out_path);
}

}  // namespace laneway
