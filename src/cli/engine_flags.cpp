#include "cli/engine_flags.h"
#include "model/load_progress.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "cli/colour.h"
#include "cli/flag_values.h"
#include "cli/progress.h"
#include "kv/kv_cache.h"
#include "model/placement.h"
#include "plan/admission.h"
#include "plan/memory_plan.h"

namespace laneway::cli {

void add_engine_flags(CLI::App* cmd, EngineFlags& f, bool model_required) {
  auto* m = cmd->add_option("-m,--model", f.model_path, "GGUF model file");
  if (model_required) m->required();
  add_token_count_option(cmd, "-c,--ctx", f.ctx, "Context length in tokens, e.g. 4096, 32k, 1M (0 = the model's trained context)");
  cmd->add_option("--cache-type-k", f.cache_type_k, "K cache type: f16, q8_0, q4_0");
  cmd->add_option("--cache-type-v", f.cache_type_v, "V cache type: f16, q8_0, q4_0");
  cmd->add_option("-t,--threads", f.threads, "Threads (0 = all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--gpu-layers,--n-gpu-layers", f.gpu_layers,
                  "Blocks to run on the GPU (the last N, with the output head): N, all or auto (default: all when a "
                  "usable GPU is found, else 0)");
  cmd->add_option("--device", f.device,
                  "GPU to use: auto (the first that is not a CPU), a name or an index as `laneway doctor` lists them; "
                  "the software device llvmpipe only when named")
      ->default_val("auto");
  cmd->add_flag("--mlock", f.mlock,
                "Pin the weights and the KV cache in RAM (checked against the memlock limit before loading)");
  add_token_count_option(cmd, "-b,--batch", f.batch, "Most tokens per forward pass", 1);
  cmd->add_flag("--swa-full", f.swa_full,
                "Sliding-window layers (gemma2) keep the whole context, not a ring of their window and a batch "
                "(more memory; a chat can rewind without reading its prompt again)");
}

Result<ContextOptions> context_options(const EngineFlags& f) {
  ContextOptions o;
  o.n_ctx = f.ctx;
  o.n_threads = f.threads;
  o.n_batch = f.batch;
  o.mlock = f.mlock;
  o.swa_full = f.swa_full;
  LANEWAY_ASSIGN_OR_RETURN(o.type_k, parse_kv_cache_type(f.cache_type_k));
  LANEWAY_ASSIGN_OR_RETURN(o.type_v, parse_kv_cache_type(f.cache_type_v));
  return o;
}

namespace {

// "auto" found a device: as many blocks as its device bill lets fit in its
// largest device-local heap (less a tenth for the driver and other users),
// counted by the planner at the context's settings.
Result<int64_t> blocks_that_fit(const std::string& model_path, const ContextOptions& c, uint64_t heap_bytes) {
  LANEWAY_ASSIGN_OR_RETURN(GgufModel gguf, GgufModel::open(model_path));
  LANEWAY_ASSIGN_OR_RETURN(PlanModel model, plan_model_from_gguf(gguf));
  PlanSettings s{c};
  const uint64_t budget = heap_bytes / 10 * 9;
  for (int64_t n = model.hp.n_layer; n > 0; --n) {
    s.gpu_layers = n;
    LANEWAY_ASSIGN_OR_RETURN(MemoryBill bill, plan_memory(model, s));
    if (bill.device.total_bytes <= budget) return n;
  }
  return 0;
}
}  // namespace

Result<ModelLoadOptions> load_options(const EngineFlags& f, const ContextOptions& context) {
  ModelLoadOptions o;
  o.mlock = context.mlock;  // the context's settings decide (a lane's `mlock`, or --mlock)
  LANEWAY_ASSIGN_OR_RETURN(GpuPlacement p, resolve_gpu_placement(f.gpu_layers.empty() ? "auto" : f.gpu_layers, f.device));
  if (p.device_heap_bytes > 0 && !f.model_path.empty()) {
    LANEWAY_ASSIGN_OR_RETURN(p.gpu_layers, blocks_that_fit(f.model_path, context, p.device_heap_bytes));
    p.note += fmt::format(": {} blocks fit in its {:.1f} GiB of device memory", p.gpu_layers,
                          static_cast<double>(p.device_heap_bytes) / double(1ull << 30));
  }
  if (!f.gpu_layers.empty() && !p.note.empty()) std::fprintf(stderr, "laneway: %s\n", p.note.c_str());
  o.gpu_layers = p.gpu_layers;
  o.device = p.device;
  return o;
}

hw::ProbeOptions probe_options() {
  hw::ProbeOptions o;
  if (const char* root = std::getenv("LANEWAY_PROBE_ROOT"); root != nullptr && *root != '\0') {
    o.root = root;
  } else {
    o.hwcaps = hw::live_hwcaps();
  }
  return o;
}

Status check_fits_before_load(const std::string& model_path, const ContextOptions& options) {
  return check_model_fits_memory(model_path, PlanSettings{options}, probe_options());
}

Status check_pin_before_load(const std::string& model_path, const ContextOptions& options) {
  return check_model_pin_fits(model_path, PlanSettings{options}, probe_options());
}

Result<MemoryBill> plan_bill(const std::string& model_path, const ContextOptions& options, bool serve_lane) {
  LANEWAY_ASSIGN_OR_RETURN(GgufModel gguf, GgufModel::open(model_path));
  LANEWAY_ASSIGN_OR_RETURN(PlanModel model, plan_model_from_gguf(gguf));
  PlanSettings s{options};
  s.serve_lane = serve_lane;
  return plan_memory(model, s);
}

Result<LoadedEngine> load_engine(const EngineFlags& flags, int32_t n_seq, bool prefault) {
  LANEWAY_ASSIGN_OR_RETURN(ContextOptions copts, context_options(flags));
  copts.n_seq = n_seq;
  LANEWAY_ASSIGN_OR_RETURN(ModelLoadOptions lopts, load_options(flags, copts));
  lopts.prefault = prefault;
  LANEWAY_TRY(check_fits_before_load(flags.model_path, copts));
  LoadedEngine e;
  const auto t0 = std::chrono::steady_clock::now();
  {
    // The weights read (and tiled), then those a GPU copies.
    TerminalProgress progress("loading " + std::filesystem::path(flags.model_path).filename().string());
    if (progress.active()) {
      relay_load_progress(lopts, copts, [&progress](uint64_t done, uint64_t total) { progress.bytes(done, total); });
    }
    LANEWAY_ASSIGN_OR_RETURN(e.model, Model::load(flags.model_path, lopts));
    LANEWAY_ASSIGN_OR_RETURN(e.ctx, ForwardContext::create(*e.model, copts));
  }
  e.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return e;
}

void print_error(const char* cmd, const Status& status) {
  const std::string where = fmt::format("laneway {}:", cmd);
  std::fprintf(stderr, "%s %s\n", paint(where, Colour::red, colour_enabled(stderr)).c_str(), status.to_string().c_str());
}

}  // namespace laneway::cli
