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
  double rope_freq_scale = 1.0;  // positions are multiplied by this (linear scaling)
  bool has_rope_freq_factors = false;  // rope_freqs.weight (Llama 3.1 style)
  bool tied_output = false;            // output.weight absent: use token_embd

  int64_t n_embd_q() const { return n_head * head_dim; }
  int64_t n_embd_kv() const { return n_head_kv * head_dim; }
  int64_t n_gqa() const { return n_head / n_head_kv; }
};

}  // namespace laneway
