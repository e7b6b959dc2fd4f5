// laneway plan: the memory bill of a model and context before loading it,
// or the memory map of every lane of a lanes.yaml (cli/plan_lanes.h).
//   laneway plan (-m FILE | --shape NAME [--type T]) [--ctx N] [--cache-type-k T] [--cache-type-v T]
//                [--slots N] [--gpu-layers N] [--usable BYTES] [--json]
//   laneway plan --lanes lanes.yaml [--profile NAME] [--target-tps LANE=N]... [--json]
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "cli/flag_values.h"
#include "model/placement.h"
#include "cli/plan_lanes.h"
#include "cli/units.h"
#include "kv/kv_cache.h"
#include "plan/machine_profile.h"
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
  PlanLanesFlags lanes;
  std::vector<std::string> target_tps;  // LANE=N
};

// The bill for people: sizes in the unit that fits, token counts as --ctx takes them, and
// the trained context beside what memory allows (beyond it, quality usually drops).
std::string plan_text(const PlanFlags& f, const PlanModel& model, const PlanSettings& s, const MemoryBill& bill,
                      const std::pair<uint64_t, std::string>& usable, int64_t max_ctx) {
  const int64_t trained = model.hp.n_ctx_train;
  const bool fits = bill.total_bytes <= usable.first;
  std::string o = fmt::format("model:     {}{}\n", model.name,
                              trained > 0 ? fmt::format(" (trained on {} tokens of context)", format_tokens(trained)) : "");
  const int64_t per_slot = bill.n_ctx / std::max<int64_t>(1, s.n_seq);
  if (s.n_seq == 1) {
    o += fmt::format("context:   {} tokens, K {} / V {}\n", format_tokens(per_slot), f.engine.cache_type_k,
                     f.engine.cache_type_v);
  } else {
    o += fmt::format("context:   {} tokens per slot x {} slots ({} tokens in the KV cache), K {} / V {}\n",
                     format_tokens(per_slot), s.n_seq, format_tokens(bill.n_ctx), f.engine.cache_type_k,
                     f.engine.cache_type_v);
  }
  const std::string rings =
      bill.kv_ring_layers > 0 ? fmt::format("; {} of {} blocks have a sliding window and keep {} tokens per slot",
                                            bill.kv_ring_layers, model.hp.n_layer, format_tokens(bill.kv_ring_cells))
                              : "";
  o += fmt::format("weights   {:>10}\nkv        {:>10}  ({} per token{})\ncompute   {:>10}\noverhead  {:>10}\n"
                   "total     {:>10}  predicted peak resident memory\n",
                   format_bytes(bill.weights_bytes), format_bytes(bill.kv_bytes), format_bytes(bill.kv_bytes_per_token),
                   rings, format_bytes(bill.compute_bytes), format_bytes(bill.overhead_bytes),
                   format_bytes(bill.total_bytes));
  o += fmt::format("usable    {:>10}  ({})\n", format_bytes(usable.first), usable.second);
  if (bill.device.n_blocks > 0) {
    const auto& d = bill.device;
    o += fmt::format("gpu       {:>10}  device memory for {} of {} blocks and the output head: weights {}, KV {}, "
                     "compute {} (host memory above still maps the whole file)\n",
                     format_bytes(d.total_bytes), d.n_blocks, model.hp.n_layer, format_bytes(d.weights_bytes),
                     format_bytes(d.kv_bytes), format_bytes(d.compute_bytes));
  }
  // The planner's warning about the trained context, in the words and numbers of the rest.
  for (const auto& w : bill.warnings) {
    if (w.find("trained with") == std::string::npos) o += fmt::format("warning: {}\n", w);
  }
  if (trained > 0 && per_slot > trained) {
    o += fmt::format("warning: {} tokens per slot is beyond the {} tokens the model was trained on; quality usually "
                     "drops there\n",
                     format_tokens(per_slot), format_tokens(trained));
  }
  const int64_t largest = round_down_tokens(max_ctx);  // per slot, as --ctx takes it
  if (fits) {
    o += "fits";
    if (trained > 0 && largest > trained) {
      o += fmt::format(". Memory would hold up to {} tokens, but the model was trained on {}: beyond that, quality "
                       "usually drops\n",
                       format_tokens(largest), format_tokens(trained));
    } else {
      o += fmt::format("; the largest context that fits is {} tokens\n", format_tokens(largest));
    }
  } else if (max_ctx > 0) {
    o += fmt::format("does NOT fit: {} over. Use --ctx {} or less, or a smaller KV type "
                     "(--cache-type-k q8_0 --cache-type-v q8_0)\n",
                     format_bytes(bill.total_bytes - usable.first), format_tokens(largest));
  } else {
    o += "does NOT fit at any context: the weights alone exceed the usable memory; use a smaller quantization or a "
         "machine with more memory\n";
  }
  return o;
}

// Usable bytes for weights + KV on the CPU pool, and where the figure comes from.
Result<std::pair<uint64_t, std::string>> usable_memory(const PlanFlags& f) {
  if (f.usable > 0) return std::make_pair(f.usable, std::string("--usable"));
  LANEWAY_ASSIGN_OR_RETURN(UsableMemory usable, probe_usable_memory(probe_options()));
  return std::make_pair(usable.bytes, usable.source);
}

// "fast_rag=30" -> {"fast_rag", 30}.
Status parse_target_tps(const std::vector<std::string>& items, std::map<std::string, double>& out) {
  for (const auto& item : items) {
    const size_t eq = item.find('=');
    char* end = nullptr;
    const double tps = eq == std::string::npos ? 0 : std::strtod(item.c_str() + eq + 1, &end);
    if (eq == 0 || eq == std::string::npos || end == item.c_str() + eq + 1 || *end != '\0' || !(tps > 0)) {
      return invalid_argument_error("--target-tps {}: expected LANE=TOKENS_PER_SECOND, e.g. fast_rag=30", item);
    }
    out[item.substr(0, eq)] = tps;
  }
  return Status::ok();
}

Status plan(const PlanFlags& f, int& exit_code) {
  PlanModel model;
  if (!f.engine.model_path.empty()) {
    LANEWAY_ASSIGN_OR_RETURN(GgufModel gguf, GgufModel::open(f.engine.model_path));
    LANEWAY_ASSIGN_OR_RETURN(model, plan_model_from_gguf(gguf));
  } else {
    auto shape = find_model_shape(f.shape);
    if (!shape) {
      std::string names;
      for (auto n : model_shape_names()) names += (names.empty() ? "" : ", ") + std::string(n);
      return invalid_argument_error("unknown shape \"{}\" (one of: {})", f.shape, names);
    }
    LANEWAY_ASSIGN_OR_RETURN(model, plan_model_from_shape(*shape, f.type));
  }
  PlanSettings s;
  LANEWAY_ASSIGN_OR_RETURN(static_cast<ContextOptions&>(s), context_options(f.engine));  // as run and serve read them
  // --ctx is per slot (each request's context), as `serve --ctx --slots` and
  // lanes.yaml's `context` mean it: the KV cache holds ctx x slots tokens.
  // 0: the model's trained context per slot.
  const int64_t per_slot_ctx = f.engine.ctx > 0 ? f.engine.ctx : model.hp.n_ctx_train;
  s.n_ctx = per_slot_ctx > 0 ? per_slot_ctx * f.slots : 0;
  s.n_seq = f.slots;
  if (!f.engine.gpu_layers.empty()) {
    LANEWAY_ASSIGN_OR_RETURN(GpuPlacement gpu, resolve_gpu_placement(f.engine.gpu_layers, f.engine.device));
    s.gpu_layers = gpu.gpu_layers;
  }
  LANEWAY_ASSIGN_OR_RETURN(MemoryBill bill, plan_memory(model, s));
  LANEWAY_ASSIGN_OR_RETURN(auto usable, usable_memory(f));
  // Per slot, as --ctx takes it.
  const int64_t max_ctx = max_context_that_fits(model, s, usable.first) / std::max<int64_t>(1, s.n_seq);
  const bool fits = bill.total_bytes <= usable.first;

  if (f.json) {
    nlohmann::json j = {{"model", model.name},
                        {"n_ctx", bill.n_ctx},  // all slots together
                        {"context_tokens", bill.n_ctx / std::max<int64_t>(1, s.n_seq)},  // per slot
                        {"n_ctx_train", model.hp.n_ctx_train},
                        {"slots", s.n_seq},
                        {"cache_type_k", f.engine.cache_type_k},
                        {"cache_type_v", f.engine.cache_type_v},
                        {"weights_bytes", bill.weights_bytes},
                        {"kv_bytes", bill.kv_bytes},
                        {"kv_bytes_per_token", bill.kv_bytes_per_token},
                        {"kv_ring_layers", bill.kv_ring_layers},
                        {"kv_ring_cells", bill.kv_ring_cells},
                        {"compute_bytes", bill.compute_bytes},
                        {"overhead_bytes", bill.overhead_bytes},
                        {"total_bytes", bill.total_bytes},
                        {"usable_bytes", usable.first},
                        {"usable_source", usable.second},
                        {"fits", fits},
                        {"max_context_that_fits", max_ctx},
                        {"device", {{"blocks", bill.device.n_blocks},
                                    {"weights_bytes", bill.device.weights_bytes},
                                    {"kv_bytes", bill.device.kv_bytes},
                                    {"compute_bytes", bill.device.compute_bytes},
                                    {"total_bytes", bill.device.total_bytes}}},
                        {"warnings", bill.warnings}};
    std::puts(j.dump(2).c_str());
  } else {
    std::fputs(plan_text(f, model, s, bill, usable, max_ctx).c_str(), stdout);
  }
  exit_code = kExitOk;
  return Status::ok();
}

}  // namespace

void register_plan(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<PlanFlags>();
  auto* cmd = app.add_subcommand("plan", "The memory bill of a model and context, before loading anything");
  add_engine_flags(cmd, f->engine, /*model_required=*/false);
  // The plan does not pin anything: --mlock belongs to run and serve.
  cmd->remove_option(cmd->get_option("--mlock"));
  cmd->add_option("--shape", f->shape, "Plan a named shape instead of a file (tinyllama-1.1b, llama-3.1-8b, ...)");
  cmd->add_option("--type", f->type, "With --shape: the weight type or mix (Q4_K_M, Q4_0, F16, ...)");
  cmd->add_option("--slots", f->slots, "Parallel sequences, each with --ctx tokens of context (as serve --slots): the KV cache holds ctx x slots")->check(CLI::PositiveNumber);
  add_size_option(cmd, "--usable", f->usable, "Usable memory, e.g. 16GiB (default: what the hardware probe reports)");
  cmd->add_flag("--json", f->json, "Print JSON");
  const std::string lanes_group = "Plan a lane file instead (--lanes)";
  cmd->add_option("--lanes", f->lanes.lanes_path, "Lay out every lane of a lanes.yaml in one machine's memory")
      ->group(lanes_group);
  cmd->add_option("--profile", f->lanes.profile,
                  "With --lanes: strix-halo-128g, ryzen-vega8-16g, mac-venus-32g or this-machine "
                  "(default: the config's machine.profile, else this-machine)")
      ->group(lanes_group);
  cmd->add_option("--target-tps", f->target_tps, "With --lanes: LANE=N flags a decode speed target above the ceiling")
      ->group(lanes_group);
  cmd->callback([f, &exit_code] {
    if (!f->lanes.lanes_path.empty()) {
      if (!f->engine.model_path.empty() || !f->shape.empty()) {
        std::fputs("laneway plan: --lanes excludes -m and --shape\n", stderr);
        exit_code = kExitUsage;
        return;
      }
      f->lanes.json = f->json;
      Status st = parse_target_tps(f->target_tps, f->lanes.target_tps);
      if (st.is_ok()) st = plan_lanes(f->lanes);
      if (!st.is_ok()) print_error("plan", st);
      exit_code = st.is_ok() ? kExitOk : kExitBadInput;
      return;
    }
    if (!f->lanes.profile.empty() || !f->target_tps.empty()) {
      std::fputs("laneway plan: --profile and --target-tps need --lanes\n", stderr);
      exit_code = kExitUsage;
      return;
    }
    if (f->engine.model_path.empty() == f->shape.empty()) {
      std::fputs("laneway plan: give either -m FILE, --shape NAME or --lanes lanes.yaml\n", stderr);
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
