// qwen2: Qwen2, Qwen2.5 (Coder, Math) and the DeepSeek-R1 distills built on
// them: the llama block with biases on the Q, K and V projections and
// rotary positions over halves of each head (neox style), rope base from
// the file (1e6 in Qwen2.5).

#include "model/arch.h"
#include "model/arch_common.h"

namespace laneway {
namespace {

class Qwen2Architecture final : public Architecture {
 public:
  std::string_view name() const override { return "qwen2"; }

  Result<ModelHparams> load_hparams(const GgufFile& f) const override {
    ModelHparams hp;
    hp.architecture = "qwen2";
    hp.rope_type = RopeType::neox;
    LANEWAY_TRY(read_decoder_hparams(f, hp));
    if (hp.n_expert > 0) return unsupported_error("qwen2 with experts (qwen2moe) is not supported yet");
    return hp;
  }

  Result<ModelWeights> bind_weights(const GgufModel& model, ModelHparams& hp) const override {
    return bind_llama_style_weights(model, hp, /*biases=*/true);
  }

  void build_graph(const ModelHparams& hp, const ModelWeights& w, ForwardGraph& g) const override {
    build_llama_style_graph(hp, w, g);
  }
};

}  // namespace

const Architecture& qwen2_architecture() {
  static const Qwen2Architecture arch;
  return arch;
}

}  // namespace laneway
