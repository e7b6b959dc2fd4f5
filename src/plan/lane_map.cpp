#include "plan/lane_map.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kv/kv_cache.h"
#include "model/shapes.h"

namespace laneway {
namespace {

// Something other than the lane being planned that holds memory.
struct Holder {
  std::string name;
  int64_t priority = 0;
  uint64_t bytes = 0;
  bool pausable = false;
  size_t order = 0;  // config order, the last tie-break
};

std::vector<Holder> others(const LaneMap& map, size_t lane) {
  std::vector<Holder> out;
  for (const auto& s : map.services) out.push_back({s.name, s.priority, s.bytes, s.pausable, out.size()});
  for (size_t i = 0; i < map.lanes.size(); ++i) {
    if (i != lane) out.push_back({map.lanes[i].name, map.lanes[i].priority, map.lanes[i].bill.total_bytes, true, out.size()});
  }
  return out;
}

// Memory left for the lane when `holders` (those that pass `keep`) stay loaded; negative when over.
template <typename Keep>
int64_t room(const LaneMap& map, const std::vector<Holder>& holders, Keep keep) {
  int64_t left =
      int64_t(map.profile.memory_bytes) - int64_t(map.reserve_os_bytes + map.reserve_other_bytes + map.process_bytes);
  for (const auto& h : holders) {
    if (keep(h)) left -= int64_t(h.bytes);
  }
  return left;
}

uint64_t at_least_zero(int64_t v) { return v > 0 ? uint64_t(v) : 0; }

Result<MemoryBill> bill_at(const MappedLane& lane, int64_t context_tokens, GgmlType type_k, GgmlType type_v) {
  PlanSettings s = lane.settings;
  s.n_ctx = context_tokens * s.n_seq;
  s.type_k = type_k;
  s.type_v = type_v;
  return plan_memory(lane.model.model, s);
}

int64_t max_context(const MappedLane& lane, GgmlType type_k, GgmlType type_v, uint64_t budget) {
  PlanSettings s = lane.settings;
  s.type_k = type_k;
  s.type_v = type_v;
  return max_context_that_fits(lane.model.model, s, budget) / s.n_seq;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

ContextTable context_table(const LaneMap& map, size_t lane) {
  const MappedLane& l = map.lanes[lane];
  ContextTable t;
  t.lane = l.name;
  t.contexts = {l.context_tokens, 2 * l.context_tokens, 4 * l.context_tokens};
  const uint64_t beside = budget_beside(map, lane), burst = budget_burst(map, lane);
  for (const auto& [k, v] : kContextTableKvTypes) {
    ContextTableRow row;
    row.type_k = k;
    row.type_v = v;
    for (int64_t ctx : t.contexts) {
      auto bill = bill_at(l, ctx, k, v);
      if (!bill) row.unsupported = bill.status().message();  // e.g. heads narrower than a q8_0 block
      const uint64_t needs = bill ? bill->total_bytes : 0;
      row.needs_bytes.push_back(needs);
      row.verdicts.push_back(!bill ? FitVerdict::never
                                   : (needs <= beside ? FitVerdict::beside
                                                      : (needs <= burst ? FitVerdict::burst_only : FitVerdict::never)));
    }
    row.max_context_beside = max_context(l, k, v, beside);
    row.max_context_burst = max_context(l, k, v, burst);
    t.rows.push_back(std::move(row));
  }
  const int64_t trained = l.model.model.hp.n_ctx_train;
  std::vector<std::string> beyond;
  for (int64_t ctx : t.contexts) {
    if (trained > 0 && ctx > trained) beyond.push_back(format_token_count(ctx));
  }
  if (!beyond.empty()) {
    t.warnings.push_back(fmt::format("{} tokens: beyond the {} tokens {} was trained with; quality usually drops there",
                                     join(beyond), format_token_count(trained), l.model.model.name));
  }
  return t;
}

}  // namespace

std::string_view fit_verdict_name(FitVerdict v) {
  switch (v) {
    case FitVerdict::beside: return "beside";
    case FitVerdict::burst_only: return "burst_only";
    case FitVerdict::never: return "never";
  }
  return "never";
}

std::string format_token_count(int64_t tokens) {
  if (tokens > 0 && tokens % (1 << 20) == 0) return fmt::format("{}M", tokens >> 20);
  if (tokens > 0 && tokens % 1024 == 0) return fmt::format("{}k", tokens >> 10);
  return std::to_string(tokens);
}

Result<LaneModel> plan_model_for_lane(const LaneConfig& lane) {
  std::error_code ec;
  if (std::filesystem::exists(lane.model_path, ec)) {
    auto gguf = GgufModel::open(lane.model_path);
    if (!gguf) return gguf.status().with_context(fmt::format("lane {}", lane.name));
    auto model = plan_model_from_gguf(*gguf);
    if (!model) return model.status().with_context(fmt::format("lane {} ({})", lane.name, lane.model_path));
    return LaneModel{std::move(model).value(), lane.model_path};
  }
  if (lane.shape.empty()) {
    return not_found_error("lane {}: model {} not found; to plan without the file, give the lane a `shape` "
                           "(one of: {}) and `shape_type` (default Q4_K_M)",
                           lane.name, lane.model_path, fmt::join(model_shape_names(), ", "));
  }
  auto shape = find_model_shape(lane.shape);
  if (!shape) {
    return invalid_argument_error("lane {}: unknown shape '{}' (one of: {})", lane.name, lane.shape,
                                  fmt::join(model_shape_names(), ", "));
  }
  auto model = plan_model_from_shape(*shape, lane.shape_type);
  if (!model) return model.status().with_context(fmt::format("lane {}: shape_type", lane.name));
  return LaneModel{std::move(model).value(),
                   fmt::format("shape {} {} ({} not found)", lane.shape, lane.shape_type, lane.model_path)};
}

int64_t lane_context_tokens(const LaneConfig& lane, int64_t n_ctx_train) {
  return lane.context_tokens > 0 ? lane.context_tokens : (n_ctx_train > 0 ? n_ctx_train : 2048);
}

Result<ContextOptions> lane_context_options(const LaneConfig& lane, int64_t n_ctx_train, ContextOptions base) {
  base.n_seq = static_cast<int32_t>(lane.slots);
  base.n_ctx = lane_context_tokens(lane, n_ctx_train) * lane.slots;
  LANEWAY_ASSIGN_OR_RETURN(base.type_k, parse_kv_cache_type(lane.cache_type_k));
  LANEWAY_ASSIGN_OR_RETURN(base.type_v, parse_kv_cache_type(lane.cache_type_v));
  base.mlock = lane.mlock;
  return base;
}

Result<PlanSettings> lane_plan_settings(const LaneConfig& lane, const ModelHparams& hp, int threads) {
  ContextOptions base;
  base.n_threads = threads;
  LANEWAY_ASSIGN_OR_RETURN(ContextOptions c, lane_context_options(lane, hp.n_ctx_train, base));
  PlanSettings s{c};
  s.serve_lane = true;
  return s;
}

uint64_t budget_beside(const LaneMap& map, size_t lane) {
  return at_least_zero(room(map, others(map, lane), [](const Holder&) { return true; }));
}

uint64_t budget_burst(const LaneMap& map, size_t lane) {
  return at_least_zero(room(map, others(map, lane), [](const Holder& h) { return !h.pausable; }));
}

Result<BurstScenario> plan_burst(const LaneMap& map, size_t lane, int64_t context_tokens, GgmlType type_k,
                                 GgmlType type_v) {
  const MappedLane& l = map.lanes[lane];
  LANEWAY_ASSIGN_OR_RETURN(MemoryBill bill, bill_at(l, context_tokens, type_k, type_v));
  BurstScenario b;
  b.lane = l.name;
  b.context_tokens = context_tokens;
  b.needs_bytes = bill.total_bytes;
  b.burst_budget_bytes = budget_burst(map, lane);
  const std::vector<Holder> holders = others(map, lane);
  int64_t free = room(map, holders, [](const Holder&) { return true; });
  const int64_t needs = int64_t(bill.total_bytes);
  if (needs <= free) {
    b.verdict = FitVerdict::beside;
    return b;
  }
  if (uint64_t(needs) > b.burst_budget_bytes) {
    b.verdict = FitVerdict::never;
    return b;
  }
  // Pause lowest priority first (the bigger first among equals), until it fits.
  std::vector<Holder> order;
  for (const auto& h : holders) {
    if (h.pausable) order.push_back(h);
  }
  std::sort(order.begin(), order.end(), [](const Holder& a, const Holder& c) {
    if (a.priority != c.priority) return a.priority < c.priority;
    if (a.bytes != c.bytes) return a.bytes > c.bytes;
    return a.order < c.order;
  });
  std::vector<Holder> paused;
  for (const auto& h : order) {
    if (free >= needs) break;
    paused.push_back(h);
    free += int64_t(h.bytes);
  }
  // Restore what the job does not need, highest priority first.
  for (size_t i = paused.size(); i-- > 0;) {
    if (free - int64_t(paused[i].bytes) >= needs) {
      free -= int64_t(paused[i].bytes);
      paused.erase(paused.begin() + std::ptrdiff_t(i));
    }
  }
  b.verdict = FitVerdict::burst_only;
  for (const auto& h : paused) {
    b.paused.push_back(h.name);
    b.freed_bytes += h.bytes;
  }
  return b;
}

Result<LaneMap> plan_lane_map(const LanesConfig& config, const std::map<std::string, LaneModel>& models,
                              const MachineProfile& profile, const LaneMapOptions& options) {
  LaneMap map;
  map.profile = profile;
  if (config.machine) {
    map.reserve_os_configured_bytes = config.machine->reserve_os_bytes.value_or(0);
    map.reserve_os_bytes = effective_reserve_os(map.reserve_os_configured_bytes, profile.in_use_bytes);
    map.reserve_other_bytes = config.machine->reserve_other_bytes.value_or(0);
  }
  if (profile.name != "this-machine" && (!config.machine || !config.machine->reserve_os_bytes)) {
    map.warnings.push_back(fmt::format("machine.reserve_os is not set: nothing is kept free for the OS out of the "
                                       "{} profile's memory",
                                       profile.name));
  }

  for (const auto& sc : config.services) {
    MappedService s;
    s.name = sc.name;
    s.bytes = sc.memory_budget_bytes.value_or(0);
    s.pausable = sc.sleep && sc.sleep->frees == "all";
    bool first = true;
    for (const auto& lane : config.lanes) {
      if (lane.embedded() || lane.service != sc.name) continue;
      s.lanes.push_back(lane.name);
      s.priority = first ? lane.priority : std::max(s.priority, lane.priority);
      s.pausable = s.pausable && lane.pausable;  // a lane that says `pausable: false` keeps its service awake
      first = false;
    }
    if (!sc.memory_budget_bytes) {
      map.warnings.push_back(fmt::format("service {} has no memory_budget: counted as 0 bytes", sc.name));
    }
    map.services.push_back(std::move(s));
  }

  bool gpu_layers_set = false;
  for (const auto& lc : config.lanes) {
    if (!lc.embedded()) {
      if (options.target_tps.count(lc.name)) {
        return invalid_argument_error("--target-tps {}: an upstream lane; the speed of service {} is not estimated",
                                      lc.name, lc.service);
      }
      continue;
    }
    auto model = models.find(lc.name);
    if (model == models.end()) return not_found_error("lane {}: no model was planned for it", lc.name);
    MappedLane l;
    l.name = lc.name;
    l.priority = lc.priority;
    l.model = model->second;
    LANEWAY_ASSIGN_OR_RETURN(l.settings, lane_plan_settings(lc, l.model.model.hp, profile.threads));
    l.context_tokens = lane_context_tokens(lc, l.model.model.hp);
    l.burst_context_tokens = lc.burst_context_tokens;
    gpu_layers_set = gpu_layers_set || (lc.gpu_layers != "0" && lc.gpu_layers != "auto");
    auto bill = plan_memory(l.model.model, l.settings);
    if (!bill) return bill.status().with_context(fmt::format("lane {}", lc.name));
    l.bill = std::move(bill).value();
    for (const auto& w : l.bill.warnings) map.warnings.push_back(fmt::format("lane {}: {}", lc.name, w));
    l.weight_read_bytes = weight_bytes_read_per_token(l.model.model);
    // A decode step at a full slot reads that slot's KV rows (a windowed layer's ring, not the context).
    l.kv_read_bytes = l.bill.kv_bytes / uint64_t(std::max(1, l.settings.n_seq));
    if (profile.bandwidth_bytes_per_s > 0) {
      l.ceiling_tps = profile.bandwidth_bytes_per_s / double(l.weight_read_bytes + l.kv_read_bytes);
    }
    if (auto t = options.target_tps.find(lc.name); t != options.target_tps.end()) l.target_tps = t->second;
    map.lanes.push_back(std::move(l));
  }
  for (const auto& [name, tps] : options.target_tps) {
    if (!config.find_lane(name)) return invalid_argument_error("--target-tps {}: no lane of that name", name);
  }
  if (gpu_layers_set) {
    map.warnings.push_back(
        "lanes with gpu_layers are counted in the profile's one memory pool (this build runs them on the CPU; on "
        "a unified-memory APU the GPU's share is the same RAM anyway)");
  }

  if (!map.lanes.empty()) map.process_bytes = kServeBaseBytes;
  map.total_bytes = map.reserve_os_bytes + map.reserve_other_bytes + map.process_bytes;
  for (const auto& s : map.services) map.total_bytes += s.bytes;
  for (const auto& l : map.lanes) map.total_bytes += l.bill.total_bytes;

  size_t widest = 0;
  for (size_t i = 0; i < map.lanes.size(); ++i) {
    const MappedLane& l = map.lanes[i];
    if (l.context_tokens > map.lanes[widest].context_tokens) widest = i;
    LANEWAY_ASSIGN_OR_RETURN(BurstScenario at_ctx, plan_burst(map, i, l.context_tokens, l.settings.type_k, l.settings.type_v));
    at_ctx.why = "context";
    map.bursts.push_back(std::move(at_ctx));
    if (l.burst_context_tokens > 0) {
      LANEWAY_ASSIGN_OR_RETURN(BurstScenario at_burst,
                               plan_burst(map, i, l.burst_context_tokens, l.settings.type_k, l.settings.type_v));
      at_burst.why = "burst_context";
      map.bursts.push_back(std::move(at_burst));
    }
    const int64_t largest = max_context(l, l.settings.type_k, l.settings.type_v, budget_burst(map, i));
    if (largest == 0) {
      map.warnings.push_back(fmt::format("lane {} does not fit even with every other lane paused", l.name));
      continue;
    }
    LANEWAY_ASSIGN_OR_RETURN(BurstScenario at_max, plan_burst(map, i, largest, l.settings.type_k, l.settings.type_v));
    at_max.why = "largest in burst mode";
    map.bursts.push_back(std::move(at_max));
  }
  if (!map.lanes.empty()) map.table = context_table(map, widest);
  return map;
}

}  // namespace laneway
