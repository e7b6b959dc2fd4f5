#include "model/shapes.h"

namespace laneway {
namespace {

ModelHparams llama(int64_t n_vocab, int64_t n_embd, int64_t n_layer, int64_t n_head, int64_t n_head_kv, int64_t n_ff,
                   int64_t n_ctx, double rope_base, bool tied) {
  ModelHparams h;
  h.architecture = "llama";
  h.n_vocab = n_vocab;
  h.n_embd = n_embd;
  h.n_layer = n_layer;
  h.n_head = n_head;
  h.n_head_kv = n_head_kv;
  h.head_dim = n_embd / n_head;
  h.n_ff = n_ff;
  h.n_ctx_train = n_ctx;
  h.rms_eps = 1e-5f;
  h.rope_dim = h.head_dim;
  h.rope_freq_base = rope_base;
  h.tied_output = tied;
  return h;
}

ModelHparams with_experts(ModelHparams h, int64_t n_expert, int64_t n_used) {
  h.n_expert = n_expert;
  h.n_expert_used = n_used;
  return h;
}

std::vector<ModelShape> shapes() {
  return {
      {"tiny", llama(512, 256, 4, 8, 4, 768, 2048, 10000.0, false), false},
      {"tinyllama-1.1b", llama(32000, 2048, 22, 32, 4, 5632, 2048, 10000.0, false), false},
      {"llama-3.2-1b", llama(128256, 2048, 16, 32, 8, 8192, 131072, 500000.0, true), true},
      {"llama-3.2-3b", llama(128256, 3072, 28, 24, 8, 8192, 131072, 500000.0, true), true},
      {"llama-3.1-8b", llama(128256, 4096, 32, 32, 8, 14336, 131072, 500000.0, false), true},
      // Mixtral's block: 8 experts of Mistral 7B's feed-forward, 2 per token.
      {"mixtral-8x7b", with_experts(llama(32000, 4096, 32, 32, 8, 14336, 32768, 1000000.0, false), 8, 2), false},
  };
}

}  // namespace

std::optional<ModelShape> find_model_shape(std::string_view name) {
  for (auto& s : shapes()) {
    if (s.name == name) {
      s.hparams.name = std::string(name);
      return s;
    }
  }
  return std::nullopt;
}

std::vector<std::string_view> model_shape_names() {
  std::vector<std::string_view> names;
  for (const auto& s : shapes()) names.push_back(s.name);
  return names;
}

}  // namespace laneway
