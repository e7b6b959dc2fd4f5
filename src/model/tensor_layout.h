// The tensors a llama-family model of a given shape holds (with hp.n_expert,
// a router and stacked experts in place of each feed-forward), with the types a
// quantization mix gives them: `laneway synth` writes them and `laneway
// plan --shape` adds up their bytes (one list, so the two cannot disagree).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/types.h"
#include "model/hparams.h"

namespace laneway {

// A ggml type for every matrix, or a llama-quantize style mix (Q4_K_M: Q4_K
// with Q6_K for the output and for attn_v / ffn_down in the first and last
// eighth of the layers and every third one between).
struct TypeMix {
  GgmlType base = GgmlType::q4_0;
  GgmlType output = GgmlType::q6_k;
  GgmlType more_bits = GgmlType::q4_0;
};
// "Q4_0", "F16", "Q4_K_M", "Q5_K_M", ...
Result<TypeMix> parse_type_mix(const std::string& name);

struct PlannedTensor {
  std::string name;
  GgmlType type;
  int64_t n_cols;  // ne[0]
  int64_t n_rows;  // ne[1]; 1 for vectors
  bool is_vector;
  int64_t layer;   // -1 for tensors outside the blocks
  int64_t n_expert = 1;  // ne[2] of stacked expert matrices (ffn_*_exps), else 1
  uint64_t bytes() const;
};

std::vector<PlannedTensor> llama_tensor_layout(const ModelHparams& hp, const TypeMix& mix, bool rope_factors);

}  // namespace laneway
