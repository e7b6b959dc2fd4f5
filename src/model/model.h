// Model: a loaded GGUF model: its files (memory-mapped), hyperparameters,
// architecture and weight views. Immutable after load; safe to share
// between threads (each ForwardContext has its own mutable state).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/page_buffer.h"
#include "core/status.h"
#include "gguf/gguf.h"
#include "model/arch.h"
#include "model/hparams.h"
#include "model/weights.h"

namespace laneway {

struct ModelLoadOptions {
  bool mlock = false;     // pin the weights in RAM (error names the memlock limit when refused)
  bool prefault = false;  // touch every weight page at load (predictable first-token latency, honest RSS)
  // Tile the projection matrices for the CPU kernels (backend/cpu/weight_tiles.h):
  // they move into anonymous memory and their file pages are released as
  // they go, so the weights are never resident twice.
  bool tile_weights = true;
  // Placement: the last gpu_layers blocks and the output head run on a GPU
  // (negative: every block); their weights are never tiled. `device` picks
  // the GPU ("auto", a name or an index; see ForwardContext).
  int64_t gpu_layers = 0;
  std::string device = "auto";
  // Called as weights are read (tiled for the CPU): bytes of tensor data done
  // of the total, ending at the total when every block is on the CPU. With
  // blocks on a GPU the load ends short of it: their weights are copied when
  // the context is created (ContextOptions::weight_uploaded reports them).
  // May be empty. Called on the loading thread.
  std::function<void(uint64_t done_bytes, uint64_t total_bytes)> progress;
};

class Model {
 public:
  static Result<std::unique_ptr<Model>> load(const std::string& path, const ModelLoadOptions& options = {});
  // From an already-open model (tests, synth).
  static Result<std::unique_ptr<Model>> from_gguf(GgufModel gguf, const ModelLoadOptions& options = {});

  const GgufModel& gguf() const { return gguf_; }
  const GgufFile& meta() const { return gguf_.meta(); }
  const ModelHparams& hparams() const { return hparams_; }
  const ModelWeights& weights() const { return weights_; }
  const Architecture& arch() const { return *arch_; }
  // Bytes of all tensor data the model uses.
  uint64_t weight_bytes() const { return weight_bytes_; }
  // Bytes of tiled weights (included in weight_bytes' count as their file tensors).
  uint64_t tiled_bytes() const { return tiles_.size_bytes(); }
  // Blocks [first_gpu_layer, n_layer) and, when any, the output head run on
  // the GPU named by device(); n_layer when everything runs on the CPU.
  int64_t first_gpu_layer() const { return first_gpu_layer_; }
  bool uses_gpu() const { return first_gpu_layer_ < hparams_.n_layer; }
  // Drops the file's pages behind a view from this process once a GPU
  // backend holds its own copy (touching them again reads them back from
  // the page cache); a view of tiles or converted values is left alone.
  void release_file_pages(const WeightView& w) const;
  const std::string& device() const { return device_; }

 private:
  Status tile_weights(const ModelLoadOptions& options);
  void touch_small_tensors() const;
  Status make_resident(const ModelLoadOptions& options) const;
  const FileMap* file_map_of(const uint8_t* p) const;  // the map of the file holding p; nullptr when none

  GgufModel gguf_;
  ModelHparams hparams_;
  ModelWeights weights_;
  const Architecture* arch_ = nullptr;
  uint64_t weight_bytes_ = 0;
  int64_t first_gpu_layer_ = 0;
  std::string device_;
  PageBuffer tiles_;                       // tiled matrices
  std::vector<std::span<const uint8_t>> tiled_from_;  // their file tensors (released)
};

}  // namespace laneway
