// llama: Llama 1/2/3/3.1/3.2, Mistral, TinyLlama and other models with the
// same block: RMSNorm, rotary positions (adjacent pairs), grouped-query
// attention, SwiGLU feed-forward, optional tied output, Llama-3 rope
// frequency factors and declared rope scaling (linear, YaRN); with
// `llama.expert_count` a Mixtral-style mixture of experts in place of the
// feed-forward (ffn_gate_inp router, stacked ffn_*_exps).

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
    return bind_llama_style_weights(model, hp, /*biases=*/false);
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
