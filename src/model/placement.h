// Which layers run on a GPU: --gpu-layers (N, "all", "auto") and --device
// ("auto", a name or an index) turned into ModelLoadOptions' placement
// against the devices this machine has. The CPU software device
// (lavapipe/llvmpipe) is never picked by "auto", only when named.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace laneway {

struct GpuPlacement {
  int64_t gpu_layers = 0;  // the last N blocks (and the output head); negative: all
  std::string device = "auto";
  // What "auto" decided and why, for the user ("" when nothing to say).
  std::string note;
  // "auto" found a device: its largest device-local heap, what the layers'
  // device bill must fit in (0 when nothing was found or a count was given).
  uint64_t device_heap_bytes = 0;
};

// Errors: a malformed count. A named device that is missing is reported
// when the context opens it (with the devices present).
Result<GpuPlacement> resolve_gpu_placement(std::string_view gpu_layers, std::string_view device);

// Whether this build has a GPU backend.
bool gpu_backend_built();

}  // namespace laneway
