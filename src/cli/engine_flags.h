// The settings flags every engine command shares (run, eval, bench, plan,
// serve): the same names mean the same thing everywhere.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "hw/probe.h"
#include "model/context.h"
#include "model/model.h"
#include "plan/memory_plan.h"

namespace laneway::cli {

struct EngineFlags {
  std::string model_path;
  int64_t ctx = 0;  // 0 = the model's trained context
  std::string cache_type_k = "f16";
  std::string cache_type_v = "f16";
  int threads = 0;  // 0 = all hardware threads
  // N, all or auto ("" = auto, quietly: no note when no GPU is usable).
  std::string gpu_layers;
  std::string device = "auto";  // auto, a device name (substring) or index
  bool mlock = false;
  int32_t batch = 512;
  bool swa_full = false;
};

// Adds -m/--model (required when model_required), --ctx, --cache-type-k,
// --cache-type-v, --threads, --gpu-layers, --device, --mlock, --batch, --swa-full.
void add_engine_flags(CLI::App* cmd, EngineFlags& flags, bool model_required = true);

// Checks the flags and turns them into engine options.
Result<ContextOptions> context_options(const EngineFlags& flags);
// The GPU placement is resolved here: --gpu-layers auto puts as many blocks
// on the first usable GPU as its memory holds at these context settings.
Result<ModelLoadOptions> load_options(const EngineFlags& flags, const ContextOptions& context);

// The hardware probe's options for memory checks: this machine ("/"), or the
// tree named by $LANEWAY_PROBE_ROOT, a fixture of another machine's /proc and
// /sys (tests, and operators rehearsing a smaller box or a cgroup limit).
// Vulkan is not probed.
hw::ProbeOptions probe_options();

// The admission check before loading (plan/admission.h): plans model_path at
// these options and refuses with the plan's message (resource_exhausted:
// what it needs, what is usable, what to change) when it does not fit; with
// options.mlock also when the weights + KV exceed the memlock limit (the
// message names the limit and the fix for a shell, systemd or a container).
Status check_fits_before_load(const std::string& model_path, const ContextOptions& options);
// Only its memlock part (with options.mlock), against what is pinned now.
Status check_pin_before_load(const std::string& model_path, const ContextOptions& options);

// The planner's bill of model_path at these options (GGUF metadata only).
// serve_lane: as a lane of `laneway serve` (PlanSettings::serve_lane).
Result<MemoryBill> plan_bill(const std::string& model_path, const ContextOptions& options, bool serve_lane = false);

// Checks that the model fits (check_fits_before_load), loads it and creates a
// context (errors are ready to print). On a terminal, the bytes loaded show
// on stderr as they go (cli/progress.h).
struct LoadedEngine {
  std::unique_ptr<Model> model;
  std::unique_ptr<ForwardContext> ctx;
  double load_seconds = 0;  // Model::load and the context (KV committed), wall clock
};
Result<LoadedEngine> load_engine(const EngineFlags& flags, int32_t n_seq = 1, bool prefault = false);

// Prints "laneway <cmd>: <status>" to stderr.
void print_error(const char* cmd, const Status& status);

}  // namespace laneway::cli
