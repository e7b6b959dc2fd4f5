// A model's weights as views (backend/weight_view.h) into its mapped GGUF
// files, or into the CPU's tiles once tiled at load; no copies.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/weight_view.h"

namespace laneway {

// Views an architecture does not use stay empty (present() is false).
struct LayerWeights {
  WeightView attn_norm;    // f32 [n_embd]
  WeightView wq;           // [n_embd] -> [n_head * head_dim]
  WeightView wk;           // [n_embd] -> [n_head_kv * head_dim]
  WeightView wv;           // [n_embd] -> [n_head_kv * head_dim]
  WeightView bq, bk, bv;   // f32 biases of the three (qwen2)
  WeightView wo;           // [n_head * head_dim] -> [n_embd]
  WeightView attn_post_norm;  // f32 [n_embd], on the attention output (gemma2)
  WeightView ffn_norm;     // f32 [n_embd]
  WeightView ffn_gate;     // [n_embd] -> [n_ff]
  WeightView ffn_up;       // [n_embd] -> [n_ff]
  WeightView ffn_down;     // [n_ff] -> [n_embd]
  WeightView ffn_post_norm;  // f32 [n_embd], on the feed-forward output (gemma2)
  // Mixture of experts: the router and n_expert stacked matrices each.
  WeightView ffn_gate_inp;   // [n_embd] -> [n_expert]
  WeightView ffn_gate_exps;  // n_expert x ([n_embd] -> [n_ff])
  WeightView ffn_up_exps;    // n_expert x ([n_embd] -> [n_ff])
  WeightView ffn_down_exps;  // n_expert x ([n_ff] -> [n_embd])
};

struct ModelWeights {
  WeightView token_embd;   // n_vocab rows of n_embd
  WeightView output_norm;  // f32 [n_embd]
  WeightView output;       // [n_embd] -> [n_vocab]; token_embd when tied
  WeightView rope_freqs;   // f32 [rope_dim / 2] frequency divisors, optional
  std::vector<LayerWeights> layers;
  // Small tensors converted to f32 at load (e.g. norms stored as f16); the
  // views above may point into these (moving a vector keeps its buffer).
  std::vector<std::vector<float>> owned_f32;
};

}  // namespace laneway
