// Views of weight tensors inside a mapped GGUF file (no copies).
#pragma once

#include <cstdint>
#include <vector>

#include "gguf/types.h"

namespace laneway {

// A matrix of n_rows rows of n_cols elements (GGUF ne[0] = n_cols, ne[1] =
// n_rows), each row_bytes long: row-major as the file lays it out, or tiled
// for the CPU kernels at load (backend/cpu/weight_tiles.h; row() is then
// meaningless). For a projection y = W x, n_cols is the input size and
// n_rows the output.
struct WeightMatrix {
  GgmlType type = GgmlType::f32;
  const uint8_t* data = nullptr;
  int64_t n_cols = 0;
  int64_t n_rows = 0;
  uint64_t row_bytes = 0;
  bool tiled = false;

  bool present() const { return data != nullptr; }
  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes; }
};

struct LayerWeights {
  const float* attn_norm = nullptr;  // [n_embd]
  WeightMatrix wq;           // [n_embd] -> [n_head * head_dim]
  WeightMatrix wk;           // [n_embd] -> [n_head_kv * head_dim]
  WeightMatrix wv;           // [n_embd] -> [n_head_kv * head_dim]
  WeightMatrix wo;           // [n_head * head_dim] -> [n_embd]
  const float* ffn_norm = nullptr;   // [n_embd]
  WeightMatrix ffn_gate;     // [n_embd] -> [n_ff]
  WeightMatrix ffn_up;       // [n_embd] -> [n_ff]
  WeightMatrix ffn_down;     // [n_ff] -> [n_embd]
};

struct ModelWeights {
  WeightMatrix token_embd;   // n_vocab rows of n_embd
  const float* output_norm = nullptr;  // [n_embd]
  WeightMatrix output;       // [n_embd] -> [n_vocab]; token_embd when tied
  const float* rope_freqs = nullptr;   // [rope_dim / 2] frequency divisors, optional
  std::vector<LayerWeights> layers;
  // Small tensors converted to f32 at load (e.g. norms stored as f16); the
  // pointers above may point into these (moving a vector keeps its buffer).
  std::vector<std::vector<float>> owned_f32;
};

}  // namespace laneway
