// The lane memory map behind `laneway plan --lanes`: every lane of a
// lanes.yaml laid out in one machine's memory, as ../shared/LANES.md defines
// the config. Pure: a parsed config, each embedded lane's model (metadata or
// a shape) and a machine profile in; a map with reasons out.
//
// What holds memory:
//   reserves        machine.reserve_os + machine.reserve_other (0 when unset)
//   services        their memory_budget, once each however many lanes they back
//   the process    `laneway serve`'s own base, once (kServeBaseBytes)
//   embedded lanes  plan_memory() of the lane's model at its settings: n_ctx =
//                   context (tokens per request; the trained context when
//                   unset) x slots, K/V types cache_type_k / cache_type_v,
//                   as a serve lane (PlanSettings::serve_lane)
// Upstream lanes hold nothing themselves: their service does.
//
// Burst mode (LANES.md): memory counts as freed only when it really is. A
// paused embedded lane unloads its weights and KV; a service frees its budget
// only when it has `sleep` with `frees: all`; anything else cannot be paused.
// Lanes are paused lowest priority first (higher priority keeps its memory),
// a service at the highest priority of the lanes it backs; once the job fits,
// paused lanes it does not need are restored, highest priority first.
//
// Verdicts for one lane at a context and K/V types:
//   beside      fits with every other lane loaded as configured
//   burst_only  fits once the pausable lanes it needs are paused
//   never       does not fit even with every pausable lane paused
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "plan/machine_profile.h"
#include "plan/memory_plan.h"
#include "config/lane_config.h"

namespace laneway {

// An embedded lane's model as the planner sees it.
struct LaneModel {
  PlanModel model;
  std::string source;  // "<path>" (its metadata) or "shape llama-3.1-8b Q4_K_M (<path> not found)"
};

// Reads the lane's GGUF metadata when the file exists, else plans its
// `shape`; not_found (naming the file and the `shape` key) when neither.
Result<LaneModel> plan_model_for_lane(const LaneConfig& lane);

// A lane's context per request: its `context`, else the model's trained
// context (n_ctx_train; 0 = unknown), else 2048.
int64_t lane_context_tokens(const LaneConfig& lane, int64_t n_ctx_train);
inline int64_t lane_context_tokens(const LaneConfig& lane, const ModelHparams& hp) {
  return lane_context_tokens(lane, hp.n_ctx_train);
}
// An embedded lane's context options, the one translation of its keys that
// `laneway serve` loads and `laneway plan --lanes` plans: `base` (what the
// command line set: threads, batch) with n_seq = slots, n_ctx =
// lane_context_tokens x slots, its K/V types and its `mlock`.
Result<ContextOptions> lane_context_options(const LaneConfig& lane, int64_t n_ctx_train, ContextOptions base = {});
// The planner's settings for an embedded lane as loaded: lane_context_options
// with `threads` compute threads, as a serve lane.
Result<PlanSettings> lane_plan_settings(const LaneConfig& lane, const ModelHparams& hp, int threads);

enum class FitVerdict { beside, burst_only, never };
std::string_view fit_verdict_name(FitVerdict v);  // "beside", "burst_only", "never"

struct MappedService {
  std::string name;
  std::vector<std::string> lanes;  // the upstream lanes it backs
  int64_t priority = 0;            // the highest of its lanes
  uint64_t bytes = 0;              // memory_budget (0 when unset)
  bool pausable = false;           // sleep with frees: all, and none of its lanes says `pausable: false`
};

struct MappedLane {  // an embedded lane
  std::string name;
  int64_t priority = 0;
  LaneModel model;
  PlanSettings settings;         // as loaded: n_ctx = context_tokens x slots
  int64_t context_tokens = 0;    // per request
  int64_t burst_context_tokens = 0;  // 0 = none
  MemoryBill bill;
  uint64_t weight_read_bytes = 0;  // weights read per decoded token
  uint64_t kv_read_bytes = 0;      // KV read per decoded token at a full context
  double ceiling_tps = 0;          // bandwidth / (weight_read_bytes + kv_read_bytes)
  std::optional<double> target_tps;  // from --target-tps
};

struct BurstScenario {
  std::string lane;
  std::string why;  // "context", "burst_context", "largest in burst mode"
  int64_t context_tokens = 0;  // per request
  uint64_t needs_bytes = 0;    // the lane's bill at that context
  uint64_t burst_budget_bytes = 0;  // budget_burst(): the most it could have
  FitVerdict verdict = FitVerdict::never;
  std::vector<std::string> paused;  // services and lanes to pause, in pause order
  uint64_t freed_bytes = 0;
};

struct ContextTableRow {
  GgmlType type_k = GgmlType::f16;
  GgmlType type_v = GgmlType::f16;
  std::vector<uint64_t> needs_bytes;  // per ContextTable::contexts
  std::vector<FitVerdict> verdicts;
  int64_t max_context_beside = 0;  // per request; 0 = not even the smallest
  int64_t max_context_burst = 0;
  std::string unsupported;  // why the model cannot use these types (then every cell is never)
};

// The lane with the largest context at 1x, 2x and 4x it, for each K/V pair.
struct ContextTable {
  std::string lane;
  std::vector<int64_t> contexts;
  std::vector<ContextTableRow> rows;
  std::vector<std::string> warnings;  // contexts beyond the trained one
};

struct LaneMap {
  MachineProfile profile;
  uint64_t reserve_os_bytes = 0;             // what the map keeps free for the OS
  uint64_t reserve_os_configured_bytes = 0;  // machine.reserve_os; more than the above on this-machine
                                             // when the OS already uses part of it (profile.in_use_bytes)
  uint64_t reserve_other_bytes = 0;
  uint64_t process_bytes = 0;  // the serve process's own base (kServeBaseBytes), once when a lane is embedded
  std::vector<MappedService> services;
  std::vector<MappedLane> lanes;
  uint64_t total_bytes = 0;  // reserves + services + process + lanes, everything loaded as configured
  std::vector<BurstScenario> bursts;
  std::optional<ContextTable> table;
  std::vector<std::string> warnings;

  bool fits() const { return total_bytes <= profile.memory_bytes; }
  // memory - total; negative when over.
  int64_t left_bytes() const { return int64_t(profile.memory_bytes) - int64_t(total_bytes); }
};

struct LaneMapOptions {
  std::map<std::string, double> target_tps;  // lane name -> decode speed it should reach
};

// The K/V pairs of the context table.
inline constexpr std::pair<GgmlType, GgmlType> kContextTableKvTypes[] = {
    {GgmlType::f16, GgmlType::f16},
    {GgmlType::q8_0, GgmlType::f16},
    {GgmlType::q8_0, GgmlType::q8_0},
    {GgmlType::q4_0, GgmlType::q4_0},
};

// `models` holds one entry per embedded lane (by lane name).
Result<LaneMap> plan_lane_map(const LanesConfig& config, const std::map<std::string, LaneModel>& models,
                              const MachineProfile& profile, const LaneMapOptions& options = {});

// "1M", "32k", "1536": token counts as lanes.yaml writes them (k = 1024, M = 1048576).
std::string format_token_count(int64_t tokens);

// The building blocks (exposed for tests). `lane` indexes map.lanes.
// Bytes left for the lane with every other lane loaded / with every pausable one paused.
uint64_t budget_beside(const LaneMap& map, size_t lane);
uint64_t budget_burst(const LaneMap& map, size_t lane);
// The lane at `context_tokens` per request with these K/V types: its bill and what must pause.
Result<BurstScenario> plan_burst(const LaneMap& map, size_t lane, int64_t context_tokens, GgmlType type_k,
                                 GgmlType type_v);

}  // namespace laneway
