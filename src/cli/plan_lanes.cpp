#include "cli/plan_lanes.h"

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/engine_flags.h"
#include "cli/serve_models.h"
#include "cli/units.h"
#include "plan/lane_map.h"

namespace laneway::cli {
namespace {

using json = nlohmann::json;

// Sizes in the unit that fits the value (cli/units.h).
std::string gib(uint64_t b) { return format_bytes(b); }
std::string kv_pair(GgmlType k, GgmlType v) { return kv_cache_type_name(k) + "/" + kv_cache_type_name(v); }

std::string verdict_text(FitVerdict v) {
  switch (v) {
    case FitVerdict::beside: return "beside";
    case FitVerdict::burst_only: return "burst";
    case FitVerdict::never: return "never";
  }
  return "never";
}

// "vllm_fast (orchestrator, coder)" for a service, the lane name for a lane.
std::string holder_text(const LaneMap& map, const std::string& name) {
  for (const auto& s : map.services) {
    if (s.name == name && !s.lanes.empty()) return fmt::format("{} ({})", name, fmt::join(s.lanes, ", "));
  }
  return name;
}

Result<MachineProfile> pick_profile(const PlanLanesFlags& f, const LanesConfig& config) {
  std::string name = f.profile;
  if (name.empty() && config.machine) name = config.machine->profile;
  if (name.empty()) name = "this-machine";
  if (name == "this-machine") return probe_this_machine(probe_options());
  if (auto p = find_machine_profile(name)) return *p;
  return invalid_argument_error("unknown profile '{}' (one of: {})", name, fmt::join(machine_profile_names(), ", "));
}

json to_json(const LaneMap& map, const LanesConfig& config) {
  const MachineProfile& p = map.profile;
  json j;
  j["config"] = config.source;
  j["profile"] = {{"name", p.name},
                  {"label", p.label},
                  {"memory_bytes", p.memory_bytes},
                  {"memory_source", p.memory_source},
                  {"bandwidth_bytes_per_s", p.bandwidth_bytes_per_s},
                  {"theoretical_bandwidth_bytes_per_s", p.theoretical_bandwidth_bytes_per_s},
                  {"bandwidth_source", p.bandwidth_source},
                  {"threads", p.threads}};
  j["reserves"] = {{"os_bytes", map.reserve_os_bytes},
                   {"os_configured_bytes", map.reserve_os_configured_bytes},
                   {"os_in_use_bytes", p.in_use_bytes},
                   {"other_bytes", map.reserve_other_bytes}};
  j["process_bytes"] = map.process_bytes;
  j["services"] = json::array();
  for (const auto& s : map.services) {
    j["services"].push_back(
        {{"name", s.name}, {"lanes", s.lanes}, {"priority", s.priority}, {"bytes", s.bytes}, {"pausable", s.pausable}});
  }
  j["lanes"] = json::array();
  for (const auto& lc : config.lanes) {
    if (!lc.embedded()) {
      j["lanes"].push_back({{"name", lc.name}, {"kind", "upstream"}, {"service", lc.service}, {"priority", lc.priority}});
      continue;
    }
    for (const auto& l : map.lanes) {
      if (l.name != lc.name) continue;
      json e = {{"name", l.name},
                {"kind", "embedded"},
                {"priority", l.priority},
                {"model", l.model.model.name},
                {"model_source", l.model.source},
                {"context_tokens", l.context_tokens},
                {"slots", l.settings.n_seq},
                {"n_ctx", l.bill.n_ctx},
                {"cache_type_k", kv_cache_type_name(l.settings.type_k)},
                {"cache_type_v", kv_cache_type_name(l.settings.type_v)},
                {"weights_bytes", l.bill.weights_bytes},
                {"kv_bytes", l.bill.kv_bytes},
                {"kv_bytes_per_token", l.bill.kv_bytes_per_token},
                {"compute_bytes", l.bill.compute_bytes},
                {"overhead_bytes", l.bill.overhead_bytes},
                {"total_bytes", l.bill.total_bytes},
                {"weight_read_bytes_per_token", l.weight_read_bytes},
                {"kv_read_bytes_per_token", l.kv_read_bytes},
                {"decode_ceiling_tps", l.ceiling_tps},
                {"target_tps", l.target_tps ? json(*l.target_tps) : json(nullptr)},
                {"target_above_ceiling", l.target_tps ? json(*l.target_tps > l.ceiling_tps) : json(nullptr)},
                {"warnings", l.bill.warnings}};
      j["lanes"].push_back(std::move(e));
    }
  }
  j["total_bytes"] = map.total_bytes;
  j["memory_bytes"] = p.memory_bytes;
  j["left_bytes"] = map.left_bytes();
  j["fits"] = map.fits();
  j["burst_scenarios"] = json::array();
  for (const auto& b : map.bursts) {
    j["burst_scenarios"].push_back({{"lane", b.lane},
                                    {"why", b.why},
                                    {"context_tokens", b.context_tokens},
                                    {"needs_bytes", b.needs_bytes},
                                    {"burst_budget_bytes", b.burst_budget_bytes},
                                    {"verdict", fit_verdict_name(b.verdict)},
                                    {"paused", b.paused},
                                    {"freed_bytes", b.freed_bytes}});
  }
  j["context_table"] = nullptr;
  if (map.table) {
    json rows = json::array();
    for (const auto& r : map.table->rows) {
      json cells = json::array();
      for (size_t i = 0; i < map.table->contexts.size(); ++i) {
        cells.push_back({{"context_tokens", map.table->contexts[i]},
                         {"needs_bytes", r.needs_bytes[i]},
                         {"verdict", fit_verdict_name(r.verdicts[i])}});
      }
      rows.push_back({{"cache_type_k", kv_cache_type_name(r.type_k)},
                      {"cache_type_v", kv_cache_type_name(r.type_v)},
                      {"cells", cells},
                      {"max_context_beside", r.max_context_beside},
                      {"max_context_burst", r.max_context_burst},
                      {"unsupported", r.unsupported.empty() ? json(nullptr) : json(r.unsupported)}});
    }
    j["context_table"] = {{"lane", map.table->lane},
                          {"contexts", map.table->contexts},
                          {"rows", rows},
                          {"warnings", map.table->warnings}};
  }
  j["warnings"] = map.warnings;
  return j;
}

std::string to_text(const LaneMap& map, const LanesConfig& config) {
  const MachineProfile& p = map.profile;
  std::string o = fmt::format("laneway plan --lanes {}\n\n", config.source);
  o += fmt::format("machine    {}: {}\n", p.name, p.label);
  o += fmt::format("memory     {}  {}\n", gib(p.memory_bytes), p.memory_source);
  if (p.bandwidth_bytes_per_s > 0) {
    o += fmt::format("bandwidth  {:.1f} GB/s  {}\n", p.bandwidth_bytes_per_s / 1e9, p.bandwidth_source);
  } else {
    o += fmt::format("bandwidth  unknown  {}\n", p.bandwidth_source);
  }

  o += "\nmemory map: every lane loaded at its configured context\n";
  if (map.reserve_os_bytes == map.reserve_os_configured_bytes) {
    o += fmt::format("  {:<28}{:>12}  kept free for the OS\n", "reserve_os", gib(map.reserve_os_bytes));
  } else {
    o += fmt::format("  {:<28}{:>12}  kept free for the OS: machine.reserve_os {} less the {} it uses now "
                     "(already outside the usable memory)\n",
                     "reserve_os", gib(map.reserve_os_bytes), gib(map.reserve_os_configured_bytes), gib(p.in_use_bytes));
  }
  o += fmt::format("  {:<28}{:>12}  co-located services and anything else outside the map\n", "reserve_other",
                   gib(map.reserve_other_bytes));
  if (map.process_bytes > 0) {
    o += fmt::format("  {:<28}{:>12}  the serve process itself (binary, HTTP threads), once for all lanes\n",
                     "laneway serve", gib(map.process_bytes));
  }
  for (const auto& s : map.services) {
    o += fmt::format("  {:<28}{:>12}  memory_budget, counted once; lanes {}; priority {}; {}\n", "service " + s.name,
                     gib(s.bytes), s.lanes.empty() ? "none" : fmt::format("{}", fmt::join(s.lanes, ", ")), s.priority,
                     s.pausable ? "sleep frees all (pausable)" : "cannot be paused (no sleep with frees: all)");
  }
  for (const auto& l : map.lanes) {
    o += fmt::format("  {:<28}{:>12}  {} tokens x {} slot{}, K {} / V {}, priority {}\n", "lane " + l.name,
                     gib(l.bill.total_bytes), format_token_count(l.context_tokens), l.settings.n_seq,
                     l.settings.n_seq == 1 ? "" : "s", kv_cache_type_name(l.settings.type_k),
                     kv_cache_type_name(l.settings.type_v), l.priority);
    o += l.model.model.name == l.model.source
             ? fmt::format("  {:<42}{}\n", "", l.model.source)
             : fmt::format("  {:<42}{}: {}\n", "", l.model.model.name, l.model.source);
    o += fmt::format("  {:<42}weights {}, KV {} ({} B/token), compute {}, overhead {}\n", "", gib(l.bill.weights_bytes),
                     gib(l.bill.kv_bytes), l.bill.kv_bytes_per_token, gib(l.bill.compute_bytes),
                     gib(l.bill.overhead_bytes));
  }
  o += fmt::format("  {:<28}{:>12}  of {}: ", "total", gib(map.total_bytes), gib(p.memory_bytes));
  if (map.fits()) {
    o += fmt::format("{} left\n", gib(uint64_t(map.left_bytes())));
  } else {
    o += fmt::format("over by {}; the lanes cannot all be loaded at once (see burst mode)\n",
                     gib(uint64_t(-map.left_bytes())));
  }

  if (p.bandwidth_bytes_per_s > 0) {
    o += fmt::format("\ndecode speed ceiling at a full context ({:.1f} GB/s / bytes read per token)\n",
                     p.bandwidth_bytes_per_s / 1e9);
  } else {
    o += "\ndecode speed ceiling: not estimated, the read bandwidth is not known well enough (see above); run again "
         "on a quieter machine, or plan with a named --profile\n";
  }
  for (const auto& l : map.lanes) {
    if (p.bandwidth_bytes_per_s <= 0) break;
    o += fmt::format("  {:<16}{:>8.1f} t/s  reads {} of weights + {} of KV per token at {}", l.name, l.ceiling_tps,
                     gib(l.weight_read_bytes), gib(l.kv_read_bytes), format_token_count(l.context_tokens));
    if (l.target_tps) {
      o += *l.target_tps > l.ceiling_tps ? fmt::format("; target {:g} t/s is ABOVE the ceiling", *l.target_tps)
                                         : fmt::format("; target {:g} t/s is within it", *l.target_tps);
    }
    o += "\n";
  }
  for (const auto& lc : config.lanes) {
    if (!lc.embedded()) o += fmt::format("  {:<16}upstream (service {}): not estimated\n", lc.name, lc.service);
  }

  o += "\nburst mode: paused lanes free their memory, lowest priority first\n";
  for (const auto& b : map.bursts) {
    o += fmt::format("  {} at {} ({}), needs {}: ", b.lane, format_token_count(b.context_tokens), b.why,
                     gib(b.needs_bytes));
    if (b.verdict == FitVerdict::beside) {
      o += "fits beside the other lanes\n";
    } else if (b.verdict == FitVerdict::never) {
      o += fmt::format("never fits on this machine: at most {} with every pausable lane paused\n",
                       gib(b.burst_budget_bytes));
    } else {
      std::vector<std::string> names;
      for (const auto& n : b.paused) names.push_back(holder_text(map, n));
      o += fmt::format("fits only in burst mode: pause {} (frees {})\n", fmt::join(names, ", "), gib(b.freed_bytes));
    }
  }

  if (map.table) {
    const ContextTable& t = *map.table;
    o += fmt::format("\n{}: context x KV cache types (beside = fits beside the other lanes, burst = fits only in burst "
                     "mode, never = never fits on this machine)\n",
                     t.lane);
    o += fmt::format("  {:<12}", "K/V");
    for (int64_t c : t.contexts) o += fmt::format("{:<20}", format_token_count(c));
    o += fmt::format("{:<18}{}\n", "largest beside", "largest in burst");
    for (const auto& r : t.rows) {
      o += fmt::format("  {:<12}", kv_pair(r.type_k, r.type_v));
      for (size_t i = 0; i < t.contexts.size(); ++i) {
        o += fmt::format("{:<20}", r.unsupported.empty()
                                       ? fmt::format("{} ({})", verdict_text(r.verdicts[i]), gib(r.needs_bytes[i]))
                                       : std::string("n/a"));
      }
      // Written as the context columns are (format_token_count), rounded down to whole k.
      auto largest = [](int64_t n) { return n > 0 ? format_token_count(round_down_tokens(n)) : std::string("none"); };
      o += fmt::format("{:<18}{}\n", largest(r.max_context_beside), largest(r.max_context_burst));
    }
    for (const auto& r : t.rows) {
      if (!r.unsupported.empty()) o += fmt::format("  n/a {}: {}\n", kv_pair(r.type_k, r.type_v), r.unsupported);
    }
    for (const auto& w : t.warnings) o += fmt::format("  warning: {}\n", w);
  }
  if (!map.warnings.empty()) o += "\n";
  for (const auto& w : map.warnings) o += fmt::format("warning: {}\n", w);
  return o;
}

}  // namespace

Status plan_lanes(const PlanLanesFlags& f) {
  LANEWAY_ASSIGN_OR_RETURN(LanesConfig config, load_lanes_config(f.lanes_path));
  {
    // models_dir / ollama_models: the same lanes `laneway serve` makes of them.
    ModelSourceFlags sources;
    add_config_model_sources(config, f.lanes_path, sources);
    LANEWAY_TRY(add_model_source_lanes(sources, config, /*discover=*/false).status());
  }
  LANEWAY_ASSIGN_OR_RETURN(MachineProfile profile, pick_profile(f, config));
  std::map<std::string, LaneModel> models;
  for (const auto& lane : config.lanes) {
    if (!lane.embedded()) continue;
    LANEWAY_ASSIGN_OR_RETURN(models[lane.name], plan_model_for_lane(lane));
  }
  LaneMapOptions options;
  options.target_tps = f.target_tps;
  LANEWAY_ASSIGN_OR_RETURN(LaneMap map, plan_lane_map(config, models, profile, options));
  const std::string out = f.json ? to_json(map, config).dump(2) + "\n" : to_text(map, config);
  std::fputs(out.c_str(), stdout);
  return Status::ok();
}

}  // namespace laneway::cli
