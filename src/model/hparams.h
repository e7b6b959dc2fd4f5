// Hyperparameters of a decoder-only transformer, read from GGUF metadata by
// an architecture (see arch.h). Units and shapes are in the names.
#pragma once

#include <cstdint>
#include <string>

namespace laneway {

enum class RopeType {
  normal,  // rotate adjacent pairs (x[2i], x[2i+1]): llama
  neox,    // rotate halves (x[i], x[i + d/2]): gpt-neox, qwen2, ...
};

// Rope scaling declared in the file (rope.scaling.type).
enum class RopeScaling {
  none,
  linear,  // every frequency times freq_scale
  yarn,    // YaRN: high frequencies kept, low ones interpolated, a ramp between; magnitudes scaled
};

struct YarnParams {
  int64_t orig_ctx = 0;      // rope.scaling.original_context_length
  double attn_factor = 1.0;  // rope.scaling.attn_factor
  double beta_fast = 32.0;   // rope.scaling.yarn_beta_fast: rotations below which a pair is interpolated
  double beta_slow = 1.0;    // rope.scaling.yarn_beta_slow: ... above which it is kept
};

struct ModelHparams {
  std::string architecture;
  std::string name;
  int64_t n_vocab = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;     // n_embd / n_head unless the file says otherwise
  int64_t n_ff = 0;
  int64_t n_ctx_train = 0;  // context_length the model was trained with
  float rms_eps = 1e-5f;
  RopeType rope_type = RopeType::normal;
  int64_t rope_dim = 0;     // leading dims of each head that are rotated
  double rope_freq_base = 10000.0;
  double rope_freq_scale = 1.0;  // 1 / rope.scaling.factor (linear and yarn)
  RopeScaling rope_scaling = RopeScaling::none;
  YarnParams yarn;
  bool has_rope_freq_factors = false;  // rope_freqs.weight (Llama 3.1 style)
  bool tied_output = false;            // output.weight absent: use token_embd

  // Multipliers some architectures declare (0 = not used).
  float embedding_scale = 0.0f;  // token embeddings times this (granite; gemma2: sqrt(n_embd))
  float residual_scale = 0.0f;   // each block's branch times this before it is added (granite)
  float attention_scale = 0.0f;  // replaces 1/sqrt(head_dim) on attention scores (granite, gemma2)
  float logit_scale = 0.0f;      // logits divided by this (granite)
  float attn_softcap = 0.0f;     // attention scores soft-capped at this (gemma2)
  float final_softcap = 0.0f;    // logits soft-capped at this (gemma2)
  int64_t sliding_window = 0;    // cells a sliding-window layer sees (gemma2: even layers)
  // Mixture of experts (llama with ffn_*_exps): experts per block and per token.
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;

  int64_t n_embd_q() const { return n_head * head_dim; }
  int64_t n_embd_kv() const { return n_head_kv * head_dim; }
  int64_t n_gqa() const { return n_head / n_head_kv; }
};

}  // namespace laneway
