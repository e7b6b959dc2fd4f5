// llama: Llama 1/2/3/3.1/3.2, Mistral, TinyLlama and other models with the
// same block: RMSNorm, rotary positions (adjacent pairs), grouped-query
// attention, SwiGLU feed-forward, optional tied output, Llama-3 rope
// frequency factors and declared rope scaling (linear, YaRN); with
// `llama.expert_count` a Mixtral-style mixture of experts in place of the
// feed-forward (ffn_gate_inp router, stacked ffn_*_exps).
#include <string>

#include "model/arch.h"
#include "model/arch_common.h"

namespace laneway {
namespace {

class LlamaArchitecture final : public Architecture {
 public:
  std::string_view name() const override { return "llama"; }

  Result<ModelHparams> load_hparams(const GgufFile& f) const override {
    ModelHparams hp;
    hp.architecture = "llama";
    hp.rope_type = RopeType::normal;
    LANEWAY_TRY(read_decoder_hparams(f, hp));
    return hp;
  }

  Result<ModelWeights> bind_weights(const GgufModel& model, ModelHparams& hp) const override {
    ModelWeights w;
    WeightBinder b(model, w);
    LANEWAY_TRY(bind_model_weights(b, hp, w));
    for (int64_t i = 0; i < hp.n_layer; ++i) {
      const std::string blk = "blk." + std::to_string(i) + ".";
      LayerWeights& l = w.layers[static_cast<size_t>(i)];
      LANEWAY_TRY(bind_attention(b, blk, hp, l, /*biases=*/false));
      LANEWAY_TRY(bind_feed_forward(b, blk, hp, l));
    }
    return w;
  }

  void build_graph(const ModelHparams& hp, const ModelWeights& w, ForwardGraph& g) const override {
    build_llama_style_graph(hp, w, g);
  }
};

}  // namespace

const Architecture& llama_architecture() {
  static const LlamaArchitecture arch;
  return arch;
}

}  // namespace laneway
