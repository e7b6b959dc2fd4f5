// llama: Llama 1/2/3/3.1/3.2, Mistral, TinyLlama and other models with the
// same block: RMSNorm, rotary positions (adjacent pairs), grouped-query
// attention, SwiGLU feed-forward, optional tied output and Llama-3 rope
// frequency factors.
#include <cmath>
#include <string>

#include "backend/graph.h"
#include "model/arch.h"
#include "model/weight_binding.h"

namespace laneway {
namespace {

class LlamaArchitecture final : public Architecture {
 public:
  std::string_view name() const override { return "llama"; }

  Result<ModelHparams> load_hparams(const GgufFile& f) const override {
    ModelHparams hp;
    hp.architecture = "llama";
    if (auto n = f.get_string("general.name"); n.is_ok()) hp.name = std::string(*n);
    const std::string p = "llama.";
    LANEWAY_ASSIGN_OR_RETURN(hp.n_embd, f.get_u64(p + "embedding_length"));
    LANEWAY_ASSIGN_OR_RETURN(hp.n_layer, f.get_u64(p + "block_count"));
    LANEWAY_ASSIGN_OR_RETURN(hp.n_ff, f.get_u64(p + "feed_forward_length"));
    LANEWAY_ASSIGN_OR_RETURN(hp.n_head, f.get_u64(p + "attention.head_count"));
    LANEWAY_ASSIGN_OR_RETURN(uint32_t n_head_kv, f.get_u32_or(p + "attention.head_count_kv", uint32_t(hp.n_head)));
    hp.n_head_kv = n_head_kv;
    LANEWAY_ASSIGN_OR_RETURN(uint32_t n_ctx, f.get_u32_or(p + "context_length", 0));
    hp.n_ctx_train = n_ctx;
    LANEWAY_ASSIGN_OR_RETURN(hp.rms_eps, f.get_f32_or(p + "attention.layer_norm_rms_epsilon", 1e-5f));
    if (hp.n_embd <= 0 || hp.n_layer <= 0 || hp.n_head <= 0 || hp.n_head_kv <= 0 || hp.n_ff <= 0) {
      return corrupt_error("llama hyperparameters must be positive (embedding {}, blocks {}, heads {}/{}, ff {})",
                           hp.n_embd, hp.n_layer, hp.n_head, hp.n_head_kv, hp.n_ff);
    }
    if (hp.n_head % hp.n_head_kv != 0) {
      return corrupt_error("{} attention heads cannot be grouped over {} KV heads", hp.n_head, hp.n_head_kv);
    }
    LANEWAY_ASSIGN_OR_RETURN(uint32_t key_len, f.get_u32_or(p + "attention.key_length", uint32_t(hp.n_embd / hp.n_head)));
    LANEWAY_ASSIGN_OR_RETURN(uint32_t value_len, f.get_u32_or(p + "attention.value_length", key_len));
    if (key_len != value_len) {
      return unsupported_error("different key ({}) and value ({}) head sizes are not supported", key_len, value_len);
    }
    hp.head_dim = key_len;
    LANEWAY_ASSIGN_OR_RETURN(uint32_t rope_dim, f.get_u32_or(p + "rope.dimension_count", uint32_t(hp.head_dim)));
    hp.rope_dim = rope_dim;
    if (hp.rope_dim <= 0 || hp.rope_dim > hp.head_dim || hp.rope_dim % 2 != 0) {
      return corrupt_error("rope.dimension_count {} must be even and at most the head size {}", hp.rope_dim,
                           hp.head_dim);
    }
    LANEWAY_ASSIGN_OR_RETURN(float base, f.get_f32_or(p + "rope.freq_base", 10000.0f));
    hp.rope_freq_base = base;
    hp.rope_type = RopeType::normal;

    std::string scaling = "none";
    if (auto t = f.get_string(p + "rope.scaling.type"); t.is_ok()) scaling = std::string(*t);
    if (scaling == "linear") {
      LANEWAY_ASSIGN_OR_RETURN(float factor, f.get_f32_or(p + "rope.scaling.factor", 1.0f));
      if (factor <= 0) return corrupt_error("rope.scaling.factor {} must be positive", factor);
      hp.rope_freq_scale = 1.0 / factor;
    } else if (scaling != "none") {
      return unsupported_error("rope scaling type \"{}\" is not supported (Laneway knows none and linear)", scaling);
    }
    if (f.contains(p + "expert_count")) {
      LANEWAY_ASSIGN_OR_RETURN(uint32_t experts, f.get_u32(p + "expert_count"));
      if (experts > 0) return unsupported_error("mixture-of-experts llama models ({} experts) are not supported yet", experts);
    }
    return hp;
  }

  Result<ModelWeights> bind_weights(const GgufModel& model, ModelHparams& hp) const override {
    ModelWeights w;
    WeightBinder b(model, w);
    const int64_t n_embd = hp.n_embd;
    LANEWAY_ASSIGN_OR_RETURN(w.token_embd, b.matrix("token_embd.weight", n_embd, -1));
    hp.n_vocab = w.token_embd.n_rows;
    LANEWAY_ASSIGN_OR_RETURN(w.output_norm, b.vector_f32("output_norm.weight", n_embd));
    if (b.has("output.weight")) {
      LANEWAY_ASSIGN_OR_RETURN(w.output, b.matrix("output.weight", n_embd, hp.n_vocab));
    } else {
      w.output = w.token_embd;
      hp.tied_output = true;
    }
    if (b.has("rope_freqs.weight")) {
      LANEWAY_ASSIGN_OR_RETURN(w.rope_freqs, b.vector_f32("rope_freqs.weight", hp.rope_dim / 2));
      hp.has_rope_freq_factors = true;
    }
    w.layers.resize(static_cast<size_t>(hp.n_layer));
    for (int64_t i = 0; i < hp.n_layer; ++i) {
      const std::string blk = "blk." + std::to_string(i) + ".";
      LayerWeights& l = w.layers[static_cast<size_t>(i)];
      if (b.has(blk + "ffn_gate_inp.weight")) {
        return unsupported_error("{}ffn_gate_inp.weight: mixture-of-experts llama models are not supported yet", blk);
      }
      LANEWAY_ASSIGN_OR_RETURN(l.attn_norm, b.vector_f32(blk + "attn_norm.weight", n_embd));
      LANEWAY_ASSIGN_OR_RETURN(l.wq, b.matrix(blk + "attn_q.weight", n_embd, hp.n_embd_q()));
      LANEWAY_ASSIGN_OR_RETURN(l.wk, b.matrix(blk + "attn_k.weight", n_embd, hp.n_embd_kv()));
      LANEWAY_ASSIGN_OR_RETURN(l.wv, b.matrix(blk + "attn_v.weight", n_embd, hp.n_embd_kv()));
      LANEWAY_ASSIGN_OR_RETURN(l.wo, b.matrix(blk + "attn_output.weight", hp.n_embd_q(), n_embd));
      LANEWAY_ASSIGN_OR_RETURN(l.ffn_norm, b.vector_f32(blk + "ffn_norm.weight", n_embd));
      LANEWAY_ASSIGN_OR_RETURN(l.ffn_gate, b.matrix(blk + "ffn_gate.weight", n_embd, hp.n_ff));
      LANEWAY_ASSIGN_OR_RETURN(l.ffn_up, b.matrix(blk + "ffn_up.weight", n_embd, hp.n_ff));
      LANEWAY_ASSIGN_OR_RETURN(l.ffn_down, b.matrix(blk + "ffn_down.weight", hp.n_ff, n_embd));
    }
    return w;
  }

  void build_graph(const ModelHparams& hp, const ModelWeights& w, ForwardGraph& g) const override {
    const ActId x = g.activation("x", hp.n_embd);  // the residual stream
    const ActId h = g.activation("h", hp.n_embd);
    const ActId q = g.activation("q", hp.n_embd_q());
    const ActId k = g.activation("k", hp.n_embd_kv());
    const ActId v = g.activation("v", hp.n_embd_kv());
    const ActId attn = g.activation("attn", hp.n_embd_q());
    const ActId gate = g.activation("gate", hp.n_ff);
    const ActId up = g.activation("up", hp.n_ff);
    const ActId out = g.activation("out", hp.n_embd);
    const ActId logits = g.logits(hp.n_vocab);
    const AttentionShape shape{hp.n_head, hp.n_head_kv, hp.head_dim,
                               1.0f / std::sqrt(static_cast<float>(hp.head_dim))};
    const bool neox = hp.rope_type == RopeType::neox;

    g.set_layer(kInputLayer);
    g.get_rows(x, w.token_embd);
    for (int32_t il = 0; il < static_cast<int32_t>(hp.n_layer); ++il) {
      const LayerWeights& l = w.layers[static_cast<size_t>(il)];
      g.set_layer(il);
      // Attention block.
      g.rms_norm(h, x, l.attn_norm, hp.rms_eps);
      g.matmul(q, l.wq, h);
      g.matmul(k, l.wk, h);
      g.matmul(v, l.wv, h);
      g.rope(q, hp.n_head, hp.head_dim, hp.rope_dim, neox);
      g.rope(k, hp.n_head_kv, hp.head_dim, hp.rope_dim, neox);
      // K and V go into the cache first and attention reads them back from
      // there, so a prompt evaluated in chunks sees exactly the same values.
      g.store_kv(k, v);
      g.attention(attn, q, shape);
      g.matmul(h, l.wo, attn);
      g.add(x, h);
      // Feed-forward block.
      g.rms_norm(h, x, l.ffn_norm, hp.rms_eps);
      g.matmul(gate, l.ffn_gate, h);
      g.matmul(up, l.ffn_up, h);
      g.swiglu(gate, gate, up);
      g.matmul(h, l.ffn_down, gate);
      g.add(x, h);
    }
    // Output head, only for the tokens whose logits are wanted.
    g.set_layer(static_cast<int32_t>(hp.n_layer));
    g.gather_outputs(out, x);
    g.rms_norm(h, out, w.output_norm, hp.rms_eps);
    g.matmul(logits, w.output, h);
  }
};

}  // namespace

const Architecture& llama_architecture() {
  static const LlamaArchitecture arch;
  return arch;
}

}  // namespace laneway
