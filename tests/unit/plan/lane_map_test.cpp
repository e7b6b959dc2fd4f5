// The lane memory map: services counted once, reserves, the Strix Halo
// context table (all 12 cells derived by hand below), burst scenarios,
// decode ceilings and profiles.
#include "plan/lane_map.h"

#include <gtest/gtest.h>

#include "config/lane_config.h"

namespace laneway {
namespace {

constexpr uint64_t kGiB = 1ull << 30;
constexpr int64_t kM = 1 << 20;

double gib(uint64_t b) { return double(b) / double(kGiB); }

LanesConfig parse(const std::string& yaml) {
  auto c = parse_lanes_config(yaml, "lanes.yaml");
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return c.is_ok() ? *c : LanesConfig{};
}

// Every embedded lane planned from its shape (the model files do not exist here).
LaneMap plan(const LanesConfig& c, const std::string& profile = "strix-halo-128g", const LaneMapOptions& o = {}) {
  std::map<std::string, LaneModel> models;
  for (const auto& lane : c.lanes) {
    if (!lane.embedded()) continue;
    auto m = plan_model_for_lane(lane);
    EXPECT_TRUE(m.is_ok()) << m.status().to_string();
    if (m.is_ok()) models[lane.name] = *m;
  }
  auto map = plan_lane_map(c, models, *find_machine_profile(profile), o);
  EXPECT_TRUE(map.is_ok()) << map.status().to_string();
  return map.is_ok() ? *map : LaneMap{};
}

size_t lane_index(const LaneMap& map, const std::string& name) {
  for (size_t i = 0; i < map.lanes.size(); ++i) {
    if (map.lanes[i].name == name) return i;
  }
  ADD_FAILURE() << "no lane " << name;
  return 0;
}

// The Strix Halo example's memory layout (examples/lanes-strix-halo-128g.yaml).
const char* kStrix = R"(
machine: { profile: strix-halo-128g, reserve_os: 16GiB, reserve_other: 4GiB }
services:
  - { name: vllm_fast, url: "http://127.0.0.1:8000/v1", memory_budget: 48GiB, sleep: { path: /sleep, wake: /wake_up, frees: all } }
lanes:
  - { name: orchestrator, service: vllm_fast, priority: 10 }
  - { name: coder, service: vllm_fast, priority: 10 }
  - { name: super_reader, model: /nonexistent/reader.gguf, shape: llama-3.1-8b, shape_type: Q4_K_M,
      context: 1M, burst_context: 2M, cache_type_k: q8_0, cache_type_v: q8_0, slots: 1, priority: 1 }
  - { name: fast_rag, model: /nonexistent/rag.gguf, shape: llama-3.2-3b, context: 32k, slots: 4, priority: 5 }
  - { name: governance, model: /nonexistent/gov.gguf, shape: llama-3.2-1b, context: 8k, slots: 2, priority: 5 }
)";

// LANES.md: on this-machine the usable memory already leaves out what the OS
// uses now, so machine.reserve_os is kept only as far as it exceeds that.
TEST(LaneMap, ReserveOsOnThisMachineCountsOnlyBeyondWhatIsInUse) {
  const LanesConfig c = parse(R"(
machine: { reserve_os: 8GiB, reserve_other: 1GiB }
lanes:
  - { name: a, model: /nonexistent/a.gguf, shape: llama-3.2-1b, context: 4k }
)");
  auto model = plan_model_for_lane(c.lanes[0]);
  ASSERT_TRUE(model.is_ok());
  const std::map<std::string, LaneModel> models = {{"a", *model}};
  MachineProfile here;
  here.name = "this-machine";
  here.memory_bytes = 16 * kGiB;  // usable now
  here.bandwidth_bytes_per_s = 50e9;
  for (const auto& [in_use, kept] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, 8 * kGiB}, {5 * kGiB, 3 * kGiB}, {8 * kGiB, 0}, {12 * kGiB, 0}}) {
    here.in_use_bytes = in_use;
    auto map = plan_lane_map(c, models, here, {});
    ASSERT_TRUE(map.is_ok());
    EXPECT_EQ(map->reserve_os_bytes, kept) << "in use " << gib(in_use) << " GiB";
    EXPECT_EQ(map->reserve_os_configured_bytes, 8 * kGiB);
    EXPECT_EQ(map->process_bytes, kServeBaseBytes);
    EXPECT_EQ(map->total_bytes, kept + 1 * kGiB + kServeBaseBytes + map->lanes[0].bill.total_bytes);
  }
  // A named profile is a whole machine: all of it.
  EXPECT_EQ(plan(c, "ryzen-vega8-16g").reserve_os_bytes, 8 * kGiB);
  EXPECT_EQ(effective_reserve_os(8 * kGiB, 3 * kGiB), 5 * kGiB);
}

TEST(LaneMap, ServicesCountOnceAndReservesAddUp) {
  const LaneMap map = plan(parse(kStrix));
  ASSERT_EQ(map.services.size(), 1u);
  EXPECT_EQ(map.services[0].bytes, 48 * kGiB);  // once, though two lanes use it
  EXPECT_EQ(map.services[0].lanes, (std::vector<std::string>{"orchestrator", "coder"}));
  EXPECT_EQ(map.services[0].priority, 10);
  EXPECT_TRUE(map.services[0].pausable);
  ASSERT_EQ(map.lanes.size(), 3u);  // upstream lanes hold nothing themselves
  EXPECT_EQ(map.reserve_os_bytes, 16 * kGiB);
  EXPECT_EQ(map.reserve_other_bytes, 4 * kGiB);
  uint64_t lanes = 0;
  for (const auto& l : map.lanes) lanes += l.bill.total_bytes;
  EXPECT_EQ(map.process_bytes, kServeBaseBytes);  // the serve process, once for the three embedded lanes
  EXPECT_EQ(map.total_bytes, 20 * kGiB + 48 * kGiB + kServeBaseBytes + lanes);
  EXPECT_EQ(map.left_bytes(), int64_t(128 * kGiB) - int64_t(map.total_bytes));

  // A second service is added once more; a third lane on vllm_fast adds nothing.
  LanesConfig c = parse(kStrix);
  ServiceConfig other = c.services[0];
  other.name = "embedder";
  other.memory_budget_bytes = 2 * kGiB;
  other.sleep.reset();
  c.services.push_back(other);
  LaneConfig third = c.lanes[0];
  third.name = "planner";
  c.lanes.push_back(third);
  const LaneMap more = plan(c);
  EXPECT_EQ(more.total_bytes, map.total_bytes + 2 * kGiB);
  EXPECT_FALSE(more.services[1].pausable);  // no sleep: its memory is never freed

  // One of its lanes says `pausable: false`: the service is never put to
  // sleep (the server's pool follows the same rule).
  LanesConfig pinned = parse(kStrix);
  for (auto& l : pinned.lanes) {
    if (l.name == "coder") l.pausable = false;
  }
  EXPECT_FALSE(plan(pinned).services[0].pausable);
}

TEST(LaneMap, LaneSettingsFollowLanesMd) {
  const LaneMap map = plan(parse(kStrix));
  // fast_rag: context is per request, the engine holds context x slots cells.
  // llama-3.2-3b: 28 layers x (8 kv heads x 128) x 2 (K and V) x 2 bytes (f16)
  // = 114,688 B/token; 32k x 4 slots = 131,072 tokens -> exactly 14 GiB.
  const MappedLane& rag = map.lanes[lane_index(map, "fast_rag")];
  EXPECT_EQ(rag.context_tokens, 32 * 1024);
  EXPECT_EQ(rag.bill.n_ctx, 4 * 32 * 1024);
  EXPECT_EQ(rag.bill.kv_bytes_per_token, 114688u);
  EXPECT_EQ(rag.bill.kv_bytes, 14 * kGiB);
  // governance, llama-3.2-1b: 16 x (8 x 64) x 2 x 2 = 32,768 B/token x 8k x 2 = 0.5 GiB.
  const MappedLane& gov = map.lanes[lane_index(map, "governance")];
  EXPECT_EQ(gov.bill.kv_bytes, kGiB / 2);
  // super_reader, llama-3.1-8b, q8_0/q8_0: 32 x 1024 x 2 x 34/32 = 69,632 B/token; 1M -> 68 GiB.
  const MappedLane& reader = map.lanes[lane_index(map, "super_reader")];
  EXPECT_EQ(reader.bill.kv_bytes_per_token, 69632u);
  EXPECT_EQ(reader.bill.kv_bytes, 68 * kGiB);
  EXPECT_NE(reader.model.source.find("shape llama-3.1-8b Q4_K_M"), std::string::npos);
}

TEST(LaneMap, StrixHaloContextTableByHand) {
  // Memory for services and lanes: 128 - 16 - 4 = 108 GiB, less the serve
  // process's own base (kServeBaseBytes, 15.2 MiB).
  // Beside the other lanes the reader gets 108 - 48 (vllm_fast)
  //   - fast_rag (14 GiB KV + ~1.8 GiB weights + ~0.1 other ~ 15.9 GiB)
  //   - governance (0.5 GiB KV + ~0.7 weights + ~0.1 other ~ 1.3 GiB) ~ 42.8 GiB.
  // In burst mode every other lane can be paused (vllm_fast sleeps with frees: all): 108 GiB.
  // The reader's own bill is KV + ~4.75 GiB: 4.58 GiB of Q4_K_M weights, ~0.15 GiB of compute scratch
  // (32 threads' tiles, 8 bytes of position per cell) and 0.02 GiB of process overhead.
  // KV bytes per token, 32 layers x 1024 wide rows: f16 2048 B, q8_0 1088 B (34 per 32), q4_0 576 B (18 per 32):
  //   f16/f16   32 x 4096 = 131,072   -> 1M 128 GiB, 2M 256, 4M 512
  //   q8_0/f16  32 x 3136 = 100,352   -> 1M  98 GiB, 2M 196, 4M 392
  //   q8_0/q8_0 32 x 2176 =  69,632   -> 1M  68 GiB, 2M 136, 4M 272
  //   q4_0/q4_0 32 x 1152 =  36,864   -> 1M  36 GiB, 2M  72, 4M 144
  // Needs (KV + 4.75) against 42.7 (beside) and 108 (burst):
  //   f16/f16:   132.75 never,  260.75 never, 516.75 never
  //   q8_0/f16:  102.75 burst,  200.75 never, 396.75 never
  //   q8_0/q8_0:  72.75 burst,  140.75 never, 276.75 never
  //   q4_0/q4_0:  40.75 beside,  76.75 burst, 148.75 never
  const LaneMap map = plan(parse(kStrix));
  const size_t reader = lane_index(map, "super_reader");
  EXPECT_NEAR(gib(budget_beside(map, reader)), 42.8, 0.2);
  EXPECT_NEAR(gib(budget_burst(map, reader)), 108.0 - gib(kServeBaseBytes), 1e-9);
  EXPECT_NEAR(gib(map.lanes[reader].bill.weights_bytes), 4.58, 0.02);

  ASSERT_TRUE(map.table.has_value());
  const ContextTable& t = *map.table;
  EXPECT_EQ(t.lane, "super_reader");
  EXPECT_EQ(t.contexts, (std::vector<int64_t>{kM, 2 * kM, 4 * kM}));
  using V = FitVerdict;
  const V expected[4][3] = {{V::never, V::never, V::never},
                            {V::burst_only, V::never, V::never},
                            {V::burst_only, V::never, V::never},
                            {V::beside, V::burst_only, V::never}};
  const uint64_t kv_per_token[4] = {131072, 100352, 69632, 36864};
  ASSERT_EQ(t.rows.size(), 4u);
  for (size_t r = 0; r < 4; ++r) {
    for (size_t c = 0; c < 3; ++c) {
      SCOPED_TRACE(kv_cache_type_name(t.rows[r].type_k) + "/" + kv_cache_type_name(t.rows[r].type_v) + " at " +
                   format_token_count(t.contexts[c]));
      EXPECT_EQ(t.rows[r].verdicts[c], expected[r][c]);
      // needs = KV + ~4.75 GiB of weights, compute and overhead
      const double kv = double(kv_per_token[r]) * double(t.contexts[c]) / double(kGiB);
      EXPECT_NEAR(gib(t.rows[r].needs_bytes[c]), kv + 4.75, 0.05);
    }
    // Largest contexts: (budget - ~4.75 GiB) / bytes per token.
    const double beside = (gib(budget_beside(map, reader)) - 4.75) * double(kGiB) / double(kv_per_token[r]);
    const double burst = (108.0 - 4.75) * double(kGiB) / double(kv_per_token[r]);
    EXPECT_NEAR(double(t.rows[r].max_context_beside), beside, beside * 0.005);
    EXPECT_NEAR(double(t.rows[r].max_context_burst), burst, burst * 0.005);
  }
  // q8_0 K + f16 V: 100,352 B/token, so 1M tokens need 98 GiB of KV alone (the rest of the
  // bill does not depend on the KV types: the reader's own bill at 1M has the same).
  const MemoryBill& own = map.lanes[reader].bill;
  EXPECT_EQ(t.rows[1].needs_bytes[0] - (own.total_bytes - own.kv_bytes), 98 * kGiB);
  // 1M-4M are beyond llama-3.1-8b's trained 128k: one warning names them.
  ASSERT_EQ(t.warnings.size(), 1u);
  EXPECT_NE(t.warnings[0].find("1M, 2M, 4M"), std::string::npos) << t.warnings[0];
  EXPECT_NE(t.warnings[0].find("128k"), std::string::npos) << t.warnings[0];
}

TEST(LaneMap, BurstPausesLowestPriorityFirstAndRestoresWhatItDoesNotNeed) {
  const LaneMap map = plan(parse(kStrix));
  const size_t reader = lane_index(map, "super_reader");
  // The reader at 1M q8_0/q8_0 needs ~72.75 GiB; beside the others it has ~42.7.
  // Pausing by priority: fast_rag and governance (5) free ~17.3 -> ~60 GiB, not
  // enough; then vllm_fast (10) -> 108. Restoring highest priority first:
  // vllm_fast is needed (108 - 48 = 60 < 72.75); fast_rag (108 - 16 = 92) and
  // then governance (92 - 1.3 = 90.7) are not: only vllm_fast stays paused.
  auto b = plan_burst(map, reader, kM, GgmlType::q8_0, GgmlType::q8_0);
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->verdict, FitVerdict::burst_only);
  EXPECT_EQ(b->paused, std::vector<std::string>{"vllm_fast"});
  EXPECT_EQ(b->freed_bytes, 48 * kGiB);
  // q4_0/q4_0 at 1M (~40.75 GiB) fits beside everything: nothing pauses.
  b = plan_burst(map, reader, kM, GgmlType::q4_0, GgmlType::q4_0);
  EXPECT_EQ(b->verdict, FitVerdict::beside);
  EXPECT_TRUE(b->paused.empty());
  // burst_context 2M at q8_0/q8_0 (~140.75 GiB) never fits in 108.
  b = plan_burst(map, reader, 2 * kM, GgmlType::q8_0, GgmlType::q8_0);
  EXPECT_EQ(b->verdict, FitVerdict::never);

  // fast_rag at its 32k: the others hold 20 + 48 + 72.75 + 1.3 ~ 142 > 128, so it
  // needs the lowest-priority lane paused: super_reader (1), which alone frees 72.75.
  const size_t rag = lane_index(map, "fast_rag");
  b = plan_burst(map, rag, 32 * 1024, GgmlType::f16, GgmlType::f16);
  EXPECT_EQ(b->verdict, FitVerdict::burst_only);
  EXPECT_EQ(b->paused, std::vector<std::string>{"super_reader"});

  // The map lists the reader at its context, its burst_context and its largest burst context.
  std::vector<std::string> whys;
  for (const auto& s : map.bursts) {
    if (s.lane == "super_reader") whys.push_back(s.why);
  }
  EXPECT_EQ(whys, (std::vector<std::string>{"context", "burst_context", "largest in burst mode"}));
  EXPECT_FALSE(map.fits());  // 20 + 48 + 72.75 + 16 + 1.3 ~ 158 GiB > 128
}

TEST(LaneMap, ServiceWithoutSleepIsNeverPaused) {
  std::string yaml = kStrix;
  yaml.replace(yaml.find(", sleep: { path: /sleep, wake: /wake_up, frees: all }"),
               std::string(", sleep: { path: /sleep, wake: /wake_up, frees: all }").size(), "");
  const LaneMap map = plan(parse(yaml));
  const size_t reader = lane_index(map, "super_reader");
  // Burst mode may pause only the embedded lanes: 108 - 48 = 60 GiB (less the process) < 72.75.
  EXPECT_NEAR(gib(budget_burst(map, reader)), 60.0 - gib(kServeBaseBytes), 1e-9);
  auto b = plan_burst(map, reader, kM, GgmlType::q8_0, GgmlType::q8_0);
  EXPECT_EQ(b->verdict, FitVerdict::never);
}

TEST(LaneMap, DecodeCeilingAndTargets) {
  LaneMapOptions o;
  o.target_tps = {{"super_reader", 10.0}, {"fast_rag", 5.0}};
  const LaneMap map = plan(parse(kStrix), "strix-halo-128g", o);
  const MappedLane& reader = map.lanes[lane_index(map, "super_reader")];
  // 212 GB/s / (weights read per token + 69,632 B x 1M of KV = 68 GiB): ~2.7 t/s.
  EXPECT_EQ(reader.kv_read_bytes, 69632ull * kM);
  EXPECT_LT(reader.weight_read_bytes, reader.model.model.weight_bytes);  // one embedding row, not the table
  EXPECT_DOUBLE_EQ(reader.ceiling_tps, 212e9 / double(reader.weight_read_bytes + reader.kv_read_bytes));
  EXPECT_NEAR(reader.ceiling_tps, 2.7, 0.1);
  EXPECT_GT(*reader.target_tps, reader.ceiling_tps);  // 10 t/s is above it
  const MappedLane& rag = map.lanes[lane_index(map, "fast_rag")];
  EXPECT_LT(*rag.target_tps, rag.ceiling_tps);
  // Targets must name an embedded lane.
  LanesConfig c = parse(kStrix);
  std::map<std::string, LaneModel> models;
  for (const auto& l : c.lanes) {
    if (l.embedded()) models[l.name] = *plan_model_for_lane(l);
  }
  o.target_tps = {{"orchestrator", 20.0}};
  EXPECT_FALSE(plan_lane_map(c, models, *find_machine_profile("strix-halo-128g"), o).is_ok());
  o.target_tps = {{"nobody", 20.0}};
  EXPECT_FALSE(plan_lane_map(c, models, *find_machine_profile("strix-halo-128g"), o).is_ok());
}

TEST(LaneMap, Profiles) {
  EXPECT_EQ(find_machine_profile("strix-halo-128g")->memory_bytes, 128 * kGiB);
  EXPECT_EQ(find_machine_profile("ryzen-vega8-16g")->memory_bytes, 16 * kGiB);
  EXPECT_EQ(find_machine_profile("mac-venus-32g")->memory_bytes, 24 * kGiB);  // 75% of 32 GiB
  EXPECT_DOUBLE_EQ(find_machine_profile("strix-halo-128g")->theoretical_bandwidth_bytes_per_s, 256e9);
  EXPECT_DOUBLE_EQ(find_machine_profile("ryzen-vega8-16g")->theoretical_bandwidth_bytes_per_s, 51.2e9);
  EXPECT_FALSE(find_machine_profile("this-machine").has_value());  // probed, not tabled
  EXPECT_FALSE(find_machine_profile("cray-1").has_value());
  EXPECT_EQ(machine_profile_names().size(), 4u);
}

TEST(LaneMap, LaneModelNeedsAFileOrAShape) {
  LaneConfig lane;
  lane.name = "reader";
  lane.model_path = "/nonexistent/reader.gguf";
  auto m = plan_model_for_lane(lane);
  ASSERT_FALSE(m.is_ok());
  EXPECT_NE(m.status().message().find("shape"), std::string::npos) << m.status().message();
  lane.shape = "llama-9000";
  EXPECT_FALSE(plan_model_for_lane(lane).is_ok());
  lane.shape = "llama-3.1-8b";
  lane.shape_type = "Q9_9";
  EXPECT_FALSE(plan_model_for_lane(lane).is_ok());
}

TEST(LaneMap, FormatsTokenCounts) {
  EXPECT_EQ(format_token_count(kM), "1M");
  EXPECT_EQ(format_token_count(32 * 1024), "32k");
  EXPECT_EQ(format_token_count(1000), "1000");
}

}  // namespace
}  // namespace laneway
