// laneway plan: the memory bill of a model and context before loading it.
//   laneway plan (-m FILE | --shape NAME [--type T]) [--ctx N] [--cache-type-k T] [--cache-type-v T]
//                [--slots N] [--gpu-layers N] [--usable BYTES] [--json]
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "hw/memory_pools.h"
#include "hw/probe.h"
#include "kv/kv_cache.h"
#include "plan/memory_plan.h"

namespace laneway::cli {
namespace {

struct PlanFlags {
  EngineFlags engine;
  std::string shape;
  std::string type = "Q4_K_M";
  int32_t slots = 1;
  uint64_t usable = 0;
  bool json = false;
};

std::string gib(uint64_t b) { return fmt::format("{:.2f} GiB", double(b) / double(1ull << 30)); }

// Usable bytes for weights + KV on the CPU pool, and where the figure comes from.
Result<std::pair<uint64_t, std::string>> usable_memory(const PlanFlags& f) {
  if (f.usable > 0) return std::make_pair(f.usable, std::string("--usable"));
  LANEWAY_ASSIGN_OR_RETURN(hw::HardwareInventory inv, hw::probe_hardware(hw::ProbeOptions{}));
  for (const auto& pool : hw::compute_memory_pools(inv)) {
    if (pool.id == "cpu") return std::make_pair(pool.usable_bytes, pool.usable_reason);
  }
  return not_found_error("the hardware probe found no system memory pool");
}

Status plan(const PlanFlags& f, int& exit_code) {
  PlanModel model;
  if (!f.engine.model_path.empty()) {
    LANEWAY_ASSIGN_OR_RETURN(GgufModel gguf, GgufModel::open(f.engine.model_path));
    LANEWAY_ASSIGN_OR_RETURN(model, plan_model_from_gguf(gguf));
  } else {
    auto shape = find_model_shape(f.shape);
    if (!shape) return invalid_argument_error("unknown shape \"{}\"", f.shape);
    LANEWAY_ASSIGN_OR_RETURN(model, plan_model_from_shape(*shape, f.type));
  }
  PlanSettings s;
  s.n_ctx = f.engine.ctx;
  s.n_slots = f.slots;
  s.n_threads = f.engine.threads;
  s.n_batch = f.engine.batch;
  LANEWAY_ASSIGN_OR_RETURN(s.type_k, parse_kv_cache_type(f.engine.cache_type_k));
  LANEWAY_ASSIGN_OR_RETURN(s.type_v, parse_kv_cache_type(f.engine.cache_type_v));
  if (f.engine.gpu_layers != "0") s.gpu_layers = -1;
  LANEWAY_ASSIGN_OR_RETURN(MemoryBill bill, plan_memory(model, s));
  LANEWAY_ASSIGN_OR_RETURN(auto usable, usable_memory(f));
  const int64_t max_ctx = max_context_that_fits(model, s, usable.first);
  const bool fits = bill.total_bytes <= usable.first;

  if (f.json) {
    nlohmann::json j = {{"model", model.name},
                        {"n_ctx", bill.n_ctx},
                        {"slots", s.n_slots},
                        {"cache_type_k", f.engine.cache_type_k},
                        {"cache_type_v", f.engine.cache_type_v},
                        {"weights_bytes", bill.weights_bytes},
                        {"kv_bytes", bill.kv_bytes},
                        {"kv_bytes_per_token", bill.kv_bytes_per_token},
                        {"compute_bytes", bill.compute_bytes},
                        {"overhead_bytes", bill.overhead_bytes},
                        {"total_bytes", bill.total_bytes},
                        {"usable_bytes", usable.first},
                        {"usable_source", usable.second},
                        {"fits", fits},
                        {"max_context_that_fits", max_ctx},
                        {"warnings", bill.warnings}};
    std::puts(j.dump(2).c_str());
  } else {
    std::fputs(fmt::format("model:     {}\ncontext:   {} tokens ({} slot{}), K {} / V {}\n", model.name, bill.n_ctx,
                           s.n_slots, s.n_slots == 1 ? "" : "s", f.engine.cache_type_k, f.engine.cache_type_v)
                   .c_str(),
               stdout);
    std::fputs(fmt::format("weights   {:>12}\nkv        {:>12}  ({} bytes per token)\ncompute   {:>12}\n"
                           "overhead  {:>12}\ntotal     {:>12}  predicted peak resident memory\n",
                           gib(bill.weights_bytes), gib(bill.kv_bytes), bill.kv_bytes_per_token,
                           gib(bill.compute_bytes), gib(bill.overhead_bytes), gib(bill.total_bytes))
                   .c_str(),
               stdout);
    std::fputs(fmt::format("usable    {:>12}  ({})\n", gib(usable.first), usable.second).c_str(), stdout);
    for (const auto& w : bill.warnings) std::fputs(fmt::format("warning: {}\n", w).c_str(), stdout);
    if (fits) {
      std::fputs(fmt::format("fits; the largest context that fits is {} tokens\n", max_ctx).c_str(), stdout);
    } else if (max_ctx > 0) {
      std::fputs(fmt::format("does NOT fit: {} over. Use --ctx {} or less, or a smaller KV type "
                             "(--cache-type-k q8_0 --cache-type-v q8_0)\n",
                             gib(bill.total_bytes - usable.first), max_ctx)
                     .c_str(),
                 stdout);
    } else {
      std::fputs("does NOT fit at any context: the weights alone exceed the usable memory; use a smaller "
                 "quantization or a machine with more memory\n",
                 stdout);
    }
  }
  exit_code = kExitOk;
  return Status::ok();
}

}  // namespace

void register_plan(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<PlanFlags>();
  auto* cmd = app.add_subcommand("plan", "The memory bill of a model and context, before loading anything");
  add_engine_flags(cmd, f->engine, /*model_required=*/false);
  cmd->add_option("--shape", f->shape, "Plan a named shape instead of a file (tinyllama-1.1b, llama-3.1-8b, ...)");
  cmd->add_option("--type", f->type, "With --shape: the weight type or mix (Q4_K_M, Q4_0, F16, ...)");
  cmd->add_option("--slots", f->slots, "Parallel sequences sharing the context")->check(CLI::PositiveNumber);
  cmd->add_option("--usable", f->usable, "Usable bytes (default: what the hardware probe reports)");
  cmd->add_flag("--json", f->json, "Print JSON");
  cmd->callback([f, &exit_code] {
    if (f->engine.model_path.empty() == f->shape.empty()) {
      std::fputs("laneway plan: give either -m FILE or --shape NAME\n", stderr);
      exit_code = kExitUsage;
      return;
    }
    Status st = plan(*f, exit_code);
    if (!st.is_ok()) {
      print_error("plan", st);
      exit_code = st.code() == StatusCode::invalid_argument ? kExitUsage : kExitBadInput;
    }
  });
}

}  // namespace laneway::cli
