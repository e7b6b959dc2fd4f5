// Architecture registry: one file per architecture (arch_<name>.cpp) that
// knows its metadata keys, its tensor names, and its forward pass.
//
// An architecture refuses at load what it does not implement (unknown rope
// scaling, a tensor type the engine cannot run, missing tensors) with the
// reason: a model never runs silently wrong.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace laneway {

class ForwardGraph;  // backend/graph.h

class Architecture {
 public:
  virtual ~Architecture() = default;
  virtual std::string_view name() const = 0;
  // Reads and checks hyperparameters.
  virtual Result<ModelHparams> load_hparams(const GgufFile& meta) const = 0;
  // Binds every tensor the forward pass needs (views into the model files),
  // completing hp with what the tensors say (n_vocab, tied output, ...).
  virtual Result<ModelWeights> bind_weights(const GgufModel& model, ModelHparams& hp) const = 0;
  // Writes the forward pass down (once per context; ForwardContext runs it
  // for every chunk): the embedding of the chunk's tokens, the blocks, and
  // the logits of the output rows. Weight views are referenced, not copied,
  // so `w` must outlive the graph. Called with empty views to size buffers
  // before a model is loaded (the planner).
  virtual void build_graph(const ModelHparams& hp, const ModelWeights& w, ForwardGraph& g) const = 0;
};

// The architecture for general.architecture, or unsupported naming it and
// listing the ones Laneway runs.
Result<const Architecture*> find_architecture(std::string_view name);
std::vector<std::string_view> supported_architectures();

// Architectures register here (one line each in arch.cpp).
const Architecture& llama_architecture();
const Architecture& qwen2_architecture();
const Architecture& granite_architecture();
const Architecture& gemma2_architecture();

}  // namespace laneway
