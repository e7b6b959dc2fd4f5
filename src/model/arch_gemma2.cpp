// gemma2: Google Gemma 2. Token embeddings scaled by sqrt(n_embd); RMSNorm
// weights used as the file stores them (the (1 + w) of the original is
// folded in by the converters); rotary positions over halves of each head;
// queries scaled by 1/sqrt(attention.key_length); attention scores
// soft-capped; a sliding window on the even blocks and full attention on
// the odd ones (the KV cache holds the full context for every block);
// norms after attention and after the feed-forward as well as before;
// a GELU-gated feed-forward; the output tied to the embeddings; final
// logits soft-capped.
#include <cmath>
#include <string>

#include "backend/graph.h"
#include "model/arch.h"
#include "model/arch_common.h"

namespace laneway {
namespace {

class Gemma2Architecture final : public Architecture {
 public:
  std::string_view name() const override { return "gemma2"; }

  Result<ModelHparams> load_hparams(const GgufFile& f) const override {
    ModelHparams hp;
    hp.architecture = "gemma2";
    hp.rope_type = RopeType::neox;
    LANEWAY_TRY(read_decoder_hparams(f, hp));
    if (hp.n_expert > 0) return unsupported_error("gemma2 does not have experts; the file declares {}", hp.n_expert);
    hp.embedding_scale = std::sqrt(static_cast<float>(hp.n_embd));
    hp.attention_scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
    LANEWAY_ASSIGN_OR_RETURN(hp.attn_softcap, f.get_f32_or("gemma2.attn_logit_softcapping", 50.0f));
    LANEWAY_ASSIGN_OR_RETURN(hp.final_softcap, f.get_f32_or("gemma2.final_logit_softcapping", 30.0f));
    LANEWAY_ASSIGN_OR_RETURN(uint32_t window, f.get_u32_or("gemma2.attention.sliding_window", 4096));
    hp.sliding_window = window;
    if (!(hp.attn_softcap > 0) || !(hp.final_softcap > 0) || hp.sliding_window <= 0) {
      return corrupt_error("gemma2 soft-capping ({} / {}) and sliding window ({}) must be positive", hp.attn_softcap,
                           hp.final_softcap, hp.sliding_window);
    }
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
      LANEWAY_ASSIGN_OR_RETURN(l.attn_post_norm, b.vector_f32(blk + "post_attention_norm.weight", hp.n_embd));
      LANEWAY_TRY(bind_feed_forward(b, blk, hp, l));
      LANEWAY_ASSIGN_OR_RETURN(l.ffn_post_norm, b.vector_f32(blk + "post_ffw_norm.weight", hp.n_embd));
    }
    return w;
  }

  void build_graph(const ModelHparams& hp, const ModelWeights& w, ForwardGraph& g) const override {
    const ActId x = g.activation("x", hp.n_embd);  // the residual stream
    const ActId h = g.activation("h", hp.n_embd);
    const ActId branch = g.activation("branch", hp.n_embd);  // a block's output, normed
    const ActId q = g.activation("q", hp.n_embd_q());
    const ActId k = g.activation("k", hp.n_embd_kv());
    const ActId v = g.activation("v", hp.n_embd_kv());
    const ActId attn = g.activation("attn", hp.n_embd_q());
    const ActId gate = g.activation("gate", hp.n_ff);
    const ActId up = g.activation("up", hp.n_ff);
    const ActId out = g.activation("out", hp.n_embd);
    const ActId logits = g.logits(hp.n_vocab);

    g.set_layer(kInputLayer);
    g.get_rows(x, w.token_embd);
    g.scale(x, hp.embedding_scale);
    for (int32_t il = 0; il < static_cast<int32_t>(hp.n_layer); ++il) {
      const LayerWeights& l = w.layers[static_cast<size_t>(il)];
      g.set_layer(il);
      AttentionShape shape{hp.n_head, hp.n_head_kv, hp.head_dim, hp.attention_scale, hp.attn_softcap};
      if (il % 2 == 0) shape.window = hp.sliding_window;
      g.rms_norm(h, x, l.attn_norm, hp.rms_eps);
      g.matmul(q, l.wq, h);
      g.matmul(k, l.wk, h);
      g.matmul(v, l.wv, h);
      g.rope(q, hp.n_head, hp.head_dim, hp.rope_dim, true);
      g.rope(k, hp.n_head_kv, hp.head_dim, hp.rope_dim, true);
      g.store_kv(k, v);
      g.attention(attn, q, shape);
      g.matmul(h, l.wo, attn);
      g.rms_norm(branch, h, l.attn_post_norm, hp.rms_eps);
      g.add(x, branch);
      g.rms_norm(h, x, l.ffn_norm, hp.rms_eps);
      g.matmul(gate, l.ffn_gate, h);
      g.matmul(up, l.ffn_up, h);
      g.geglu(gate, gate, up);
      g.matmul(h, l.ffn_down, gate);
      g.rms_norm(branch, h, l.ffn_post_norm, hp.rms_eps);
      g.add(x, branch);
    }
    g.set_layer(static_cast<int32_t>(hp.n_layer));
    g.gather_outputs(out, x);
    g.rms_norm(h, out, w.output_norm, hp.rms_eps);
    g.matmul(logits, w.output, h);
    g.softcap(logits, hp.final_softcap);
  }
};

}  // namespace

const Architecture& gemma2_architecture() {
  static const Gemma2Architecture arch;
  return arch;
}

}  // namespace laneway
