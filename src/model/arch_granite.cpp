// granite: IBM Granite 3.x dense models: the llama block with four
// multipliers from the file: granite.embedding_scale on the token
// embeddings, granite.residual_scale on each attention and feed-forward
// branch before it is added back, granite.attention.scale in place of
// 1/sqrt(head_dim), and granite.logit_scale dividing the logits.

#include "model/arch.h"
#include "model/arch_common.h"

namespace laneway {
namespace {

class GraniteArchitecture final : public Architecture {
 public:
  std::string_view name() const override { return "granite"; }

  Result<ModelHparams> load_hparams(const GgufFile& f) const override {
    ModelHparams hp;
    hp.architecture = "granite";
    hp.rope_type = RopeType::normal;
    LANEWAY_TRY(read_decoder_hparams(f, hp));
    if (hp.n_expert > 0) return unsupported_error("granite with experts (granitemoe) is not supported yet");
    LANEWAY_ASSIGN_OR_RETURN(hp.embedding_scale, f.get_f32("granite.embedding_scale"));
    LANEWAY_ASSIGN_OR_RETURN(hp.residual_scale, f.get_f32("granite.residual_scale"));
    LANEWAY_ASSIGN_OR_RETURN(hp.attention_scale, f.get_f32("granite.attention.scale"));
    LANEWAY_ASSIGN_OR_RETURN(hp.logit_scale, f.get_f32("granite.logit_scale"));
    for (float m : {hp.embedding_scale, hp.residual_scale, hp.attention_scale, hp.logit_scale}) {
      if (!(m > 0)) {
        return corrupt_error("granite multipliers must be positive (embedding {}, residual {}, attention {}, logit {})",
                             hp.embedding_scale, hp.residual_scale, hp.attention_scale, hp.logit_scale);
      }
    }
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

const Architecture& granite_architecture() {
  static const GraniteArchitecture arch;
  return arch;
}

}  // namespace laneway
