// A load's progress as one count: the weights read (and tiled) by
// Model::load, then those a GPU backend copies while ForwardContext::create
// runs. Used by `serve`'s lanes and by the commands that load one engine.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>

#include "model/context.h"
#include "model/model.h"

namespace laneway {

// Sets load.progress and context.weight_uploaded so that `report` gets
// (done, total) over both phases. Nothing is set when `report` is empty.
inline void relay_load_progress(ModelLoadOptions& load, ContextOptions& context,
                                std::function<void(uint64_t done, uint64_t total)> report) {
  if (!report) return;
  struct Done {
    uint64_t bytes = 0, total = 0;
  };
  auto done = std::make_shared<Done>();
  load.progress = [done, report](uint64_t bytes, uint64_t total) {
    *done = {bytes, total};
    report(bytes, total);
  };
  context.weight_uploaded = [done, report](uint64_t bytes) {
    done->bytes = std::min(done->total, done->bytes + bytes);
    report(done->bytes, done->total);
  };
}

}  // namespace laneway
