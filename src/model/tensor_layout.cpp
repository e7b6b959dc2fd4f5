#include "model/tensor_layout.h"

namespace laneway {

Result<TypeMix> parse_type_mix(const std::string& name) {
  if (name == "Q4_K_M" || name == "q4_k_m") return TypeMix{GgmlType::q4_k, GgmlType::q6_k, GgmlType::q6_k};
  if (name == "Q5_K_M" || name == "q5_k_m") return TypeMix{GgmlType::q5_k, GgmlType::q6_k, GgmlType::q6_k};
  auto t = ggml_type_from_name(name);
  if (!t) return invalid_argument_error("unknown type \"{}\" (a ggml type such as Q4_0, F16, or Q4_K_M / Q5_K_M)", name);
  TypeMix m;
  m.base = *t;
  m.more_bits = *t;
  // Like llama-quantize: the output matrix keeps at least Q6_K precision.
  const bool high = *t == GgmlType::f32 || *t == GgmlType::f16 || *t == GgmlType::bf16 || *t == GgmlType::q8_0 ||
                    *t == GgmlType::q6_k;
  m.output = high ? *t : GgmlType::q6_k;
  return m;
}

uint64_t PlannedTensor::bytes() const {
  return *ggml_row_bytes(type, static_cast<uint64_t>(n_cols)) * static_cast<uint64_t>(n_rows) *
         static_cast<uint64_t>(n_expert);
}

namespace {
bool use_more_bits(int64_t layer, int64_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}
}  // namespace

std::vector<PlannedTensor> llama_tensor_layout(const ModelHparams& hp, const TypeMix& mix, bool rope_factors) {
  std::vector<PlannedTensor> t;
  auto matrix = [&](std::string name, GgmlType type, int64_t cols, int64_t rows, int64_t layer) {
    t.push_back({std::move(name), type, cols, rows, false, layer});
  };
  auto vec = [&](std::string name, int64_t n, int64_t layer) {
    t.push_back({std::move(name), GgmlType::f32, n, 1, true, layer});
  };
  matrix("token_embd.weight", mix.base, hp.n_embd, hp.n_vocab, -1);
  vec("output_norm.weight", hp.n_embd, -1);
  if (!hp.tied_output) matrix("output.weight", mix.output, hp.n_embd, hp.n_vocab, -1);
  if (rope_factors) vec("rope_freqs.weight", hp.rope_dim / 2, -1);
  for (int64_t i = 0; i < hp.n_layer; ++i) {
    const std::string blk = "blk." + std::to_string(i) + ".";
    const GgmlType more = use_more_bits(i, hp.n_layer) ? mix.more_bits : mix.base;
    vec(blk + "attn_norm.weight", hp.n_embd, i);
    matrix(blk + "attn_q.weight", mix.base, hp.n_embd, hp.n_embd_q(), i);
    matrix(blk + "attn_k.weight", mix.base, hp.n_embd, hp.n_embd_kv(), i);
    matrix(blk + "attn_v.weight", more, hp.n_embd, hp.n_embd_kv(), i);
    matrix(blk + "attn_output.weight", mix.base, hp.n_embd_q(), hp.n_embd, i);
    vec(blk + "ffn_norm.weight", hp.n_embd, i);
    if (hp.n_expert > 0) {
      // The router stays F32, as llama-quantize leaves it.
      matrix(blk + "ffn_gate_inp.weight", GgmlType::f32, hp.n_embd, hp.n_expert, i);
      t.push_back({blk + "ffn_gate_exps.weight", mix.base, hp.n_embd, hp.n_ff, false, i, hp.n_expert});
      t.push_back({blk + "ffn_up_exps.weight", mix.base, hp.n_embd, hp.n_ff, false, i, hp.n_expert});
      t.push_back({blk + "ffn_down_exps.weight", more, hp.n_ff, hp.n_embd, false, i, hp.n_expert});
      continue;
    }
    matrix(blk + "ffn_gate.weight", mix.base, hp.n_embd, hp.n_ff, i);
    matrix(blk + "ffn_up.weight", mix.base, hp.n_embd, hp.n_ff, i);
    matrix(blk + "ffn_down.weight", more, hp.n_ff, hp.n_embd, i);
  }
  return t;
}

}  // namespace laneway
