#include "model/arch_common.h"

#include <cmath>

#include "backend/graph.h"

namespace laneway {

namespace {
Status read_rope_scaling(const GgufFile& f, const std::string& p, ModelHparams& hp) {
  std::string type = "none";
  if (auto t = f.get_string(p + "rope.scaling.type"); t.is_ok()) type = std::string(*t);
  if (type == "none") return Status::ok();
  if (type == "linear") {
    hp.rope_scaling = RopeScaling::linear;
  } else if (type == "yarn") {
    hp.rope_scaling = RopeScaling::yarn;
  } else {
    return unsupported_error("rope scaling type \"{}\" is not supported (Laneway knows none, linear and yarn)", type);
  }
  LANEWAY_ASSIGN_OR_RETURN(float factor, f.get_f32_or(p + "rope.scaling.factor", 1.0f));
  if (!(factor > 0)) return corrupt_error("rope.scaling.factor {} must be positive", factor);
  hp.rope_freq_scale = 1.0 / factor;
  if (hp.rope_scaling == RopeScaling::yarn) {
    LANEWAY_ASSIGN_OR_RETURN(uint32_t orig, f.get_u32_or(p + "rope.scaling.original_context_length",
                                                          static_cast<uint32_t>(hp.n_ctx_train)));
    LANEWAY_ASSIGN_OR_RETURN(float attn, f.get_f32_or(p + "rope.scaling.attn_factor", 1.0f));
    LANEWAY_ASSIGN_OR_RETURN(float fast, f.get_f32_or(p + "rope.scaling.yarn_beta_fast", 32.0f));
    LANEWAY_ASSIGN_OR_RETURN(float slow, f.get_f32_or(p + "rope.scaling.yarn_beta_slow", 1.0f));
    if (orig == 0) return corrupt_error("yarn rope scaling needs rope.scaling.original_context_length");
    if (!(attn > 0) || !(fast > 0) || !(slow > 0)) {
      return corrupt_error("yarn attention factor {} and betas {} / {} must be positive", attn, fast, slow);
    }
    hp.yarn = {orig, attn, fast, slow};
  }
  return Status::ok();
}
}  // namespace

Status read_decoder_hparams(const GgufFile& f, ModelHparams& hp) {
  const std::string p = hp.architecture + ".";
  if (auto n = f.get_string("general.name"); n.is_ok()) hp.name = std::string(*n);
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
    return corrupt_error("{} hyperparameters must be positive (embedding {}, blocks {}, heads {}/{}, ff {})",
                         hp.architecture, hp.n_embd, hp.n_layer, hp.n_head, hp.n_head_kv, hp.n_ff);
  }
  if (hp.n_head % hp.n_head_kv != 0) {
    return corrupt_error("{} attention heads cannot be grouped over {} KV heads", hp.n_head, hp.n_head_kv);
  }
  LANEWAY_ASSIGN_OR_RETURN(uint32_t key_len, f.get_u32_or(p + "attention.key_length", uint32_t(hp.n_embd / hp.n_head)));
  LANEWAY_ASSIGN_OR_RETURN(uint32_t value_len, f.get_u32_or(p + "attention.value_length", key_len));
  if (key_len != value_len) {
    return unsupported_error("different key ({}) and value ({}) head sizes are not supported", key_len, value_len);
  }
  if (key_len == 0) return corrupt_error("attention.key_length must be positive");
  hp.head_dim = key_len;
  LANEWAY_ASSIGN_OR_RETURN(uint32_t rope_dim, f.get_u32_or(p + "rope.dimension_count", uint32_t(hp.head_dim)));
  hp.rope_dim = rope_dim;
  if (hp.rope_dim <= 0 || hp.rope_dim > hp.head_dim || hp.rope_dim % 2 != 0) {
    return corrupt_error("rope.dimension_count {} must be even and at most the head size {}", hp.rope_dim,
                         hp.head_dim);
  }
  LANEWAY_ASSIGN_OR_RETURN(float base, f.get_f32_or(p + "rope.freq_base", 10000.0f));
  if (!(base > 1.0f)) return corrupt_error("rope.freq_base {} must be above 1", base);
  hp.rope_freq_base = base;
  LANEWAY_TRY(read_rope_scaling(f, p, hp));

  LANEWAY_ASSIGN_OR_RETURN(uint32_t experts, f.get_u32_or(p + "expert_count", 0));
  LANEWAY_ASSIGN_OR_RETURN(uint32_t used, f.get_u32_or(p + "expert_used_count", 0));
  if (experts > 0 && (used == 0 || used > experts)) {
    return corrupt_error("{} experts per token is not within the {} experts of each block", used, experts);
  }
  hp.n_expert = experts;
  hp.n_expert_used = experts > 0 ? used : 0;
  return Status::ok();
}

Status bind_model_weights(const WeightBinder& b, ModelHparams& hp, ModelWeights& w) {
  LANEWAY_ASSIGN_OR_RETURN(w.token_embd, b.matrix("token_embd.weight", hp.n_embd, -1));
  hp.n_vocab = w.token_embd.n_rows;
  LANEWAY_ASSIGN_OR_RETURN(w.output_norm, b.vector_f32("output_norm.weight", hp.n_embd));
  if (b.has("output.weight")) {
    LANEWAY_ASSIGN_OR_RETURN(w.output, b.matrix("output.weight", hp.n_embd, hp.n_vocab));
  } else {
    w.output = w.token_embd;
    hp.tied_output = true;
  }
  if (b.has("rope_freqs.weight")) {
    LANEWAY_ASSIGN_OR_RETURN(w.rope_freqs, b.vector_f32("rope_freqs.weight", hp.rope_dim / 2));
    hp.has_rope_freq_factors = true;
  }
  w.layers.resize(static_cast<size_t>(hp.n_layer));
  return Status::ok();
}

Status bind_attention(const WeightBinder& b, const std::string& blk, const ModelHparams& hp, LayerWeights& l,
                      bool biases) {
  const int64_t n_embd = hp.n_embd;
  LANEWAY_ASSIGN_OR_RETURN(l.attn_norm, b.vector_f32(blk + "attn_norm.weight", n_embd));
  LANEWAY_ASSIGN_OR_RETURN(l.wq, b.matrix(blk + "attn_q.weight", n_embd, hp.n_embd_q()));
  LANEWAY_ASSIGN_OR_RETURN(l.wk, b.matrix(blk + "attn_k.weight", n_embd, hp.n_embd_kv()));
  LANEWAY_ASSIGN_OR_RETURN(l.wv, b.matrix(blk + "attn_v.weight", n_embd, hp.n_embd_kv()));
  LANEWAY_ASSIGN_OR_RETURN(l.wo, b.matrix(blk + "attn_output.weight", hp.n_embd_q(), n_embd));
  if (biases) {
    LANEWAY_ASSIGN_OR_RETURN(l.bq, b.vector_f32(blk + "attn_q.bias", hp.n_embd_q()));
    LANEWAY_ASSIGN_OR_RETURN(l.bk, b.vector_f32(blk + "attn_k.bias", hp.n_embd_kv()));
    LANEWAY_ASSIGN_OR_RETURN(l.bv, b.vector_f32(blk + "attn_v.bias", hp.n_embd_kv()));
  }
  return Status::ok();
}

Status bind_feed_forward(const WeightBinder& b, const std::string& blk, const ModelHparams& hp, LayerWeights& l) {
  const int64_t n_embd = hp.n_embd;
  LANEWAY_ASSIGN_OR_RETURN(l.ffn_norm, b.vector_f32(blk + "ffn_norm.weight", n_embd));
  if (hp.n_expert == 0) {
    if (b.has(blk + "ffn_gate_inp.weight")) {
      return corrupt_error("{}ffn_gate_inp.weight is an expert router, but the file declares no experts "
                           "({}.expert_count)", blk, hp.architecture);
    }
    LANEWAY_ASSIGN_OR_RETURN(l.ffn_gate, b.matrix(blk + "ffn_gate.weight", n_embd, hp.n_ff));
    LANEWAY_ASSIGN_OR_RETURN(l.ffn_up, b.matrix(blk + "ffn_up.weight", n_embd, hp.n_ff));
    LANEWAY_ASSIGN_OR_RETURN(l.ffn_down, b.matrix(blk + "ffn_down.weight", hp.n_ff, n_embd));
    return Status::ok();
  }
  LANEWAY_ASSIGN_OR_RETURN(l.ffn_gate_inp, b.matrix(blk + "ffn_gate_inp.weight", n_embd, hp.n_expert));
  LANEWAY_ASSIGN_OR_RETURN(l.ffn_gate_exps, b.experts(blk + "ffn_gate_exps.weight", n_embd, hp.n_ff, hp.n_expert));
  LANEWAY_ASSIGN_OR_RETURN(l.ffn_up_exps, b.experts(blk + "ffn_up_exps.weight", n_embd, hp.n_ff, hp.n_expert));
  LANEWAY_ASSIGN_OR_RETURN(l.ffn_down_exps, b.experts(blk + "ffn_down_exps.weight", hp.n_ff, n_embd, hp.n_expert));
  return Status::ok();
}

Result<ModelWeights> bind_llama_style_weights(const GgufModel& model, ModelHparams& hp, bool biases) {
  ModelWeights w;
  WeightBinder b(model, w);
  LANEWAY_TRY(bind_model_weights(b, hp, w));
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    const std::string blk = "blk." + std::to_string(i) + ".";
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    LANEWAY_TRY(bind_attention(b, blk, hp, l, biases));
    LANEWAY_TRY(bind_feed_forward(b, blk, hp, l));
  }
  return w;
}

void build_llama_style_graph(const ModelHparams& hp, const ModelWeights& w, ForwardGraph& g) {
  const bool moe = hp.n_expert > 0;
  const int64_t used = hp.n_expert_used;
  const ActId x = g.activation("x", hp.n_embd);  // the residual stream
  const ActId h = g.activation("h", hp.n_embd);
  const ActId q = g.activation("q", hp.n_embd_q());
  const ActId k = g.activation("k", hp.n_embd_kv());
  const ActId v = g.activation("v", hp.n_embd_kv());
  const ActId attn = g.activation("attn", hp.n_embd_q());
  // With experts, one row of gate/up per selected expert, and their outputs.
  const ActId gate = g.activation("gate", moe ? used * hp.n_ff : hp.n_ff);
  const ActId up = g.activation("up", moe ? used * hp.n_ff : hp.n_ff);
  const ActId router = moe ? g.activation("router", hp.n_expert) : kNoAct;
  const ActId route = moe ? g.activation("route", 2 * used) : kNoAct;
  const ActId experts = moe ? g.activation("experts", used * hp.n_embd) : kNoAct;
  const ActId out = g.activation("out", hp.n_embd);
  const ActId logits = g.logits(hp.n_vocab);
  const float scale =
      hp.attention_scale > 0 ? hp.attention_scale : 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
  const AttentionShape shape{hp.n_head, hp.n_head_kv, hp.head_dim, scale};
  const bool neox = hp.rope_type == RopeType::neox;

  g.set_layer(kInputLayer);
  g.get_rows(x, w.token_embd);
  if (hp.embedding_scale > 0) g.scale(x, hp.embedding_scale);
  for (int32_t il = 0; il < static_cast<int32_t>(hp.n_layer); ++il) {
    const LayerWeights& l = w.layers[static_cast<size_t>(il)];
    g.set_layer(il);
    // Attention block.
    g.rms_norm(h, x, l.attn_norm, hp.rms_eps);
    g.matmul(q, l.wq, h);
    g.matmul(k, l.wk, h);
    g.matmul(v, l.wv, h);
    if (l.bq.present()) {
      g.add_bias(q, l.bq);
      g.add_bias(k, l.bk);
      g.add_bias(v, l.bv);
    }
    g.rope(q, hp.n_head, hp.head_dim, hp.rope_dim, neox);
    g.rope(k, hp.n_head_kv, hp.head_dim, hp.rope_dim, neox);
    // K and V go into the cache first and attention reads them back from
    // there, so a prompt evaluated in chunks sees exactly the same values.
    g.store_kv(k, v);
    g.attention(attn, q, shape);
    g.matmul(h, l.wo, attn);
    if (hp.residual_scale > 0) g.scale(h, hp.residual_scale);
    g.add(x, h);
    // Feed-forward block.
    g.rms_norm(h, x, l.ffn_norm, hp.rms_eps);
    if (moe) {
      // Each token's top experts, weighted by a softmax over their router
      // logits; only those experts' rows are read.
      g.matmul(router, l.ffn_gate_inp, h);
      g.moe_route(route, router, hp.n_expert, used);
      g.matmul_id(gate, l.ffn_gate_exps, h, route, hp.n_expert, used, false);
      g.matmul_id(up, l.ffn_up_exps, h, route, hp.n_expert, used, false);
      g.swiglu(gate, gate, up);
      g.matmul_id(experts, l.ffn_down_exps, gate, route, hp.n_expert, used, true);
      g.moe_combine(h, experts, route, used);
    } else {
      g.matmul(gate, l.ffn_gate, h);
      g.matmul(up, l.ffn_up, h);
      g.swiglu(gate, gate, up);
      g.matmul(h, l.ffn_down, gate);
    }
    if (hp.residual_scale > 0) g.scale(h, hp.residual_scale);
    g.add(x, h);
  }
  // Output head, only for the tokens whose logits are wanted.
  g.set_layer(static_cast<int32_t>(hp.n_layer));
  g.gather_outputs(out, x);
  g.rms_norm(h, out, w.output_norm, hp.rms_eps);
  g.matmul(logits, w.output, h);
  if (hp.logit_scale > 0) g.scale(logits, 1.0f / hp.logit_scale);
}

}  // namespace laneway
