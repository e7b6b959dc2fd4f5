// What the architecture files share: the metadata every decoder declares
// (keys prefixed by the architecture's name), rope scaling, the weights of
// a llama-style block, and the llama-style forward pass that llama (with
// or without experts), qwen2 and granite run, their differences switched
// on by the hyperparameters and the weights present (biases, multipliers,
// experts).
#pragma once

#include <string>

#include "core/status.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/weight_binding.h"
#include "model/weights.h"

namespace laneway {

class ForwardGraph;

// Shapes, norms' epsilon, head sizes, rope (base, dimensions, scaling) and
// expert counts from `<hp.architecture>.*` keys; hp.architecture must be set.
Status read_decoder_hparams(const GgufFile& f, ModelHparams& hp);

// token_embd, output_norm, output (or tied to token_embd), rope_freqs.
Status bind_model_weights(const WeightBinder& b, ModelHparams& hp, ModelWeights& w);
// attn_norm, attn_{q,k,v,output} (and their biases when `biases`).
Status bind_attention(const WeightBinder& b, const std::string& blk, const ModelHparams& hp, LayerWeights& l,
                      bool biases);
// ffn_norm and either ffn_{gate,up,down} or, with experts, the router and ffn_{gate,up,down}_exps.
Status bind_feed_forward(const WeightBinder& b, const std::string& blk, const ModelHparams& hp, LayerWeights& l);

// Every weight of a llama-style model: the model's, then per block the
// attention (with Q/K/V biases when `biases`) and the feed-forward.
Result<ModelWeights> bind_llama_style_weights(const GgufModel& model, ModelHparams& hp, bool biases);

// RMSNorm, rotary grouped-query attention, SwiGLU feed-forward (dense or
// experts), with Q/K/V biases where the weights have them and granite's
// multipliers where hp has them.
void build_llama_style_graph(const ModelHparams& hp, const ModelWeights& w, ForwardGraph& g);

}  // namespace laneway
