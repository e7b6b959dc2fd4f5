// The model pool with real engines (stories260K): background and on-demand
// loads, keep_alive, swapping within a budget (never unloading a lane that is
// serving), refusals, failures and reloads, and memory that really returns.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "backend/vulkan/vulkan_device.h"
#include "model/model.h"
#include "plan/memory_plan.h"
#include "runtime/model_pool.h"
#include "support/testdata.h"

namespace laneway {
namespace {

using namespace std::chrono_literals;

std::string model_path() { return test::testdata_path("models/stories260K.gguf"); }

EmbeddedLaneOptions lane_options(const std::string& name, int64_t context) {
  EmbeddedLaneOptions o;
  o.name = name;
  o.model_path = model_path();
  o.context.n_ctx = context;
  o.context.n_seq = 1;
  o.context.n_threads = 1;
  o.queue_capacity = 4;
  return o;
}

// The planner's bill of a lane (weights, KV, compute; not the process overhead).
uint64_t bill_of(const EmbeddedLaneOptions& o) {
  auto gguf = GgufModel::open(o.model_path);
  EXPECT_TRUE(gguf.is_ok());
  auto pm = plan_model_from_gguf(*gguf);
  EXPECT_TRUE(pm.is_ok());
  PlanSettings s;
  s.n_ctx = o.context.n_ctx;
  s.n_seq = o.context.n_seq;
  auto bill = plan_memory(*pm, s);
  EXPECT_TRUE(bill.is_ok());
  return bill->total_bytes - bill->overhead_bytes;
}

struct Counting {
  std::atomic<int> starts{0};
};

PoolLaneSpec spec_for(const EmbeddedLaneOptions& o, bool on_demand, std::chrono::milliseconds keep_alive,
                      std::shared_ptr<Counting> counter = nullptr) {
  PoolLaneSpec s;
  s.name = o.name;
  s.on_demand = on_demand;
  s.keep_alive = keep_alive;
  s.bill_bytes = bill_of(o);
  s.model_path = o.model_path;
  s.start = [o, counter](const LoadProgressFn& progress) {
    if (counter) ++counter->starts;
    EmbeddedLaneOptions x = o;
    x.load.progress = progress;
    return EmbeddedLane::start(x);
  };
  return s;
}

// acquire() as a future.
std::future<Result<LaneLease>> acquire(ModelPool& pool, size_t lane, uint64_t* ticket = nullptr) {
  auto promise = std::make_shared<std::promise<Result<LaneLease>>>();
  auto f = promise->get_future();
  const uint64_t t = pool.acquire(lane, [promise](Result<LaneLease> r) { promise->set_value(std::move(r)); });
  if (ticket) *ticket = t;
  return f;
}

bool wait_state(const ModelPool& pool, size_t lane, LaneState want, std::chrono::milliseconds timeout = 20s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pool.status(lane).state == want) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

// Greedy text of a short prompt on a leased engine.
std::string generate(EmbeddedLane& engine) {
  GenerationRequest r;
  r.prompt_tokens = engine.tokenizer().encode("Once upon a time", {.add_special = true});
  r.sampling.temperature = 0;
  r.max_tokens = 12;
  std::promise<std::string> done;
  std::string text;
  auto submitted = engine.submit(r, [&](GenerationEvent&& ev) {
    text += ev.text;
    if (ev.done) done.set_value(text);
  });
  EXPECT_TRUE(submitted.is_ok()) << submitted.status().to_string();
  if (!submitted.is_ok()) return "";
  return done.get_future().get();
}

uint64_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

TEST(ModelPool, EagerLaneLoadsInTheBackgroundAndReportsProgress) {
  LANEWAY_REQUIRE_FILE(model_path());
  ModelPool pool({spec_for(lane_options("a", 256), false, -1ms)}, {});
  EXPECT_EQ(pool.status(0).state, LaneState::loading);  // queued before start()
  auto f = acquire(pool, 0);                             // waits for the load
  pool.start();
  auto lease = f.get();
  ASSERT_TRUE(lease.is_ok()) << lease.status().to_string();
  const LaneStatus st = pool.status(0);
  EXPECT_EQ(st.state, LaneState::ready);
  EXPECT_EQ(st.loads, 1);
  EXPECT_GT(st.progress.total_bytes, 0u);
  EXPECT_EQ(st.progress.done_bytes, st.progress.total_bytes);
  EXPECT_FALSE(generate(lease->engine()).empty());
}

TEST(ModelPool, OnDemandLaneLoadsOnRequestAndUnloadsAfterKeepAlive) {
  LANEWAY_REQUIRE_FILE(model_path());
  ModelPool pool({spec_for(lane_options("a", 256), true, 150ms)}, {});
  pool.start();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(pool.status(0).state, LaneState::unloaded);  // nothing asked for it
  {
    auto lease = acquire(pool, 0).get();
    ASSERT_TRUE(lease.is_ok());
    std::this_thread::sleep_for(300ms);  // longer than keep_alive, but busy
    EXPECT_EQ(pool.status(0).state, LaneState::ready);
    EXPECT_FALSE(pool.status(0).expires_at.has_value());
  }
  EXPECT_TRUE(pool.status(0).expires_at.has_value());
  ASSERT_TRUE(wait_state(pool, 0, LaneState::unloaded, 5s));
  EXPECT_EQ(pool.status(0).unloads, 1);
  EXPECT_FALSE(pool.status(0).resident);
  // A request brings it back.
  auto again = acquire(pool, 0).get();
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(pool.status(0).loads, 2);
}

TEST(ModelPool, PerRequestKeepAliveZeroUnloadsAtOnceAndNegativeKeeps) {
  LANEWAY_REQUIRE_FILE(model_path());
  ModelPool pool({spec_for(lane_options("a", 256), true, 100ms)}, {});
  pool.start();
  {
    auto lease = acquire(pool, 0).get();
    ASSERT_TRUE(lease.is_ok());
    lease->set_keep_alive(-1ms);
  }
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(pool.status(0).state, LaneState::ready) << "keep_alive -1 keeps the lane";
  {
    auto lease = acquire(pool, 0).get();
    ASSERT_TRUE(lease.is_ok());
    lease->set_keep_alive(0ms);
  }
  ASSERT_TRUE(wait_state(pool, 0, LaneState::unloaded, 5s));
}

TEST(ModelPool, SwapsWithinTheBudgetAndNeverUnloadsABusyLane) {
  LANEWAY_REQUIRE_FILE(model_path());
  auto a = spec_for(lane_options("a", 4096), true, 60s);
  auto b = spec_for(lane_options("b", 4096), true, 60s);
  const uint64_t budget = a.bill_bytes + b.bill_bytes / 2;  // one at a time
  ModelPool pool({a, b}, {budget});
  pool.start();
  auto lease_a = acquire(pool, 0).get();
  ASSERT_TRUE(lease_a.is_ok());
  const std::string text_a = generate(lease_a->engine());
  auto wait_b = acquire(pool, 1);  // needs a's room; a is busy
  EXPECT_EQ(wait_b.wait_for(300ms), std::future_status::timeout);
  EXPECT_EQ(pool.status(0).state, LaneState::draining) << "a busy lane stops taking requests, it is not killed";
  EXPECT_EQ(pool.status(0).leases, 1);
  // New requests for the draining lane wait too.
  auto wait_a = acquire(pool, 0);
  EXPECT_EQ(wait_a.wait_for(100ms), std::future_status::timeout);
  *lease_a = LaneLease();  // a finishes: it unloads, b loads
  auto lease_b = wait_b.get();
  ASSERT_TRUE(lease_b.is_ok()) << lease_b.status().to_string();
  EXPECT_FALSE(pool.status(0).resident);
  EXPECT_LE(pool.pool_status().resident_bytes, budget);
  EXPECT_EQ(generate(lease_b->engine()), text_a) << "same model, same prompt: same greedy text";
  EXPECT_EQ(wait_a.wait_for(100ms), std::future_status::timeout);
  *lease_b = LaneLease();  // b idle: a's waiter gets a back
  auto lease_a2 = wait_a.get();
  ASSERT_TRUE(lease_a2.is_ok());
  EXPECT_EQ(generate(lease_a2->engine()), text_a);
  EXPECT_EQ(pool.status(0).loads, 2);
  EXPECT_EQ(pool.status(1).unloads, 1);
}

// The comparison mode (bench/pool_compare.sh) counts lanes, not bytes: with
// max_loaded 2 both lanes load though the byte budget holds one; with 1 the
// least recently used idle lane makes room, whatever the budget says.
TEST(ModelPool, CountModeIgnoresBillsAndSwapsTheLeastRecentlyUsed) {
  LANEWAY_REQUIRE_FILE(model_path());
  auto a = spec_for(lane_options("a", 4096), true, 60s);
  auto b = spec_for(lane_options("b", 4096), true, 60s);
  auto c = spec_for(lane_options("c", 4096), true, 60s);
  ModelPool::Options two{a.bill_bytes};  // bytes for one lane only
  two.max_loaded = 2;
  {
    ModelPool pool({a, b}, two);
    pool.start();
    auto la = acquire(pool, 0).get();
    auto lb = acquire(pool, 1).get();
    ASSERT_TRUE(la.is_ok() && lb.is_ok());
    EXPECT_TRUE(pool.status(0).resident && pool.status(1).resident);
    EXPECT_GT(pool.pool_status().resident_bytes, pool.pool_status().budget_bytes);  // what count-based routers do
  }
  ModelPool::Options bytes_for_all{UINT64_MAX};
  bytes_for_all.max_loaded = 2;
  ModelPool pool({a, b, c}, bytes_for_all);
  pool.start();
  ASSERT_TRUE(acquire(pool, 0).get().is_ok());
  ASSERT_TRUE(acquire(pool, 1).get().is_ok());
  ASSERT_TRUE(acquire(pool, 0).get().is_ok());  // a used last: b is the least recently used
  auto lc = acquire(pool, 2).get();
  ASSERT_TRUE(lc.is_ok()) << lc.status().to_string();
  EXPECT_TRUE(pool.status(0).resident);
  EXPECT_FALSE(pool.status(1).resident);
  EXPECT_EQ(pool.status(1).unloads, 1);
}

// A lane added while the pool runs (a model file a rescan found) is one more
// lane under the same budget: an idle lane makes room for it and it for them.
TEST(ModelPool, AnAddedLaneLoadsOnRequestWithinTheBudget) {
  LANEWAY_REQUIRE_FILE(model_path());
  auto a = spec_for(lane_options("a", 4096), true, 60s);
  auto b = spec_for(lane_options("b", 4096), true, 60s);
  const uint64_t budget = a.bill_bytes + b.bill_bytes / 2;  // one at a time
  ModelPool pool({a}, {budget});
  pool.start();
  auto lease_a = acquire(pool, 0).get();
  ASSERT_TRUE(lease_a.is_ok());
  const std::string text_a = generate(lease_a->engine());
  *lease_a = LaneLease();
  EXPECT_EQ(pool.add(b), 1u);
  EXPECT_EQ(pool.size(), 2u);
  EXPECT_EQ(pool.status(1).state, LaneState::unloaded);  // on_demand: nothing loads until asked
  auto lease_b = acquire(pool, 1).get();
  ASSERT_TRUE(lease_b.is_ok()) << lease_b.status().to_string();
  EXPECT_FALSE(pool.status(0).resident) << "the idle lane made room";
  EXPECT_LE(pool.pool_status().resident_bytes, budget);
  EXPECT_EQ(generate(lease_b->engine()), text_a);
  EXPECT_EQ(pool.spec(1).name, "b");
}

// A request that arrives after the loader chose to unload an idle lane, but
// before its engine stopped, must not get a lease on that engine (it would
// refuse the work: "shutting down"); it waits and gets the reloaded lane.
TEST(ModelPool, ARequestInTheUnloadWindowWaitsForTheReload) {
  LANEWAY_REQUIRE_FILE(model_path());
  ModelPool::Options options;
  std::shared_ptr<std::future<Result<LaneLease>>> in_window;
  ModelPool* pool_ptr = nullptr;
  options.on_unload_chosen = [&](size_t lane) {
    if (!in_window) in_window = std::make_shared<std::future<Result<LaneLease>>>(acquire(*pool_ptr, lane));
  };
  ModelPool pool({spec_for(lane_options("a", 64), true, 0ms)}, options);
  pool_ptr = &pool;
  pool.start();
  { ASSERT_TRUE(acquire(pool, 0).get().is_ok()); }  // released at once: keep_alive 0 unloads it
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (!in_window && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(in_window) << "the loader never chose to unload the idle lane";
  auto lease = in_window->get();
  ASSERT_TRUE(lease.is_ok()) << lease.status().to_string();
  EXPECT_FALSE(generate(lease->engine()).empty());
  EXPECT_GE(pool.status(0).unloads, 1);
  EXPECT_EQ(pool.status(0).loads, 2) << "the request waited for the reload";
}

TEST(ModelPool, ALaneThatCanNeverFitBesideThePinnedOnesIsRefusedAtOnce) {
  LANEWAY_REQUIRE_FILE(model_path());
  auto pinned = spec_for(lane_options("pinned", 4096), false, -1ms);  // eager and not pausable: never makes room
  pinned.pausable = false;
  auto big = spec_for(lane_options("big", 4096), true, 60s);
  ModelPool pool({pinned, big}, {pinned.bill_bytes + big.bill_bytes / 2});
  pool.start();
  ASSERT_TRUE(wait_state(pool, 0, LaneState::ready));
  auto r = acquire(pool, 1).get();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::unavailable);
  EXPECT_NE(r.status().message().find("never unloaded or paused"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("pinned"), std::string::npos) << r.status().message();
  EXPECT_EQ(pool.status(0).state, LaneState::ready);  // untouched
}

TEST(ModelPool, HigherPriorityBusyLaneIsNotDrainedForALowerOne) {
  LANEWAY_REQUIRE_FILE(model_path());
  auto hi = spec_for(lane_options("hi", 4096), true, 60s);
  hi.priority = 10;
  auto lo = spec_for(lane_options("lo", 4096), true, 60s);
  ModelPool pool({hi, lo}, {hi.bill_bytes + lo.bill_bytes / 2});
  pool.start();
  auto lease_hi = acquire(pool, 0).get();
  ASSERT_TRUE(lease_hi.is_ok());
  auto wait_lo = acquire(pool, 1);
  EXPECT_EQ(wait_lo.wait_for(300ms), std::future_status::timeout);
  EXPECT_EQ(pool.status(0).state, LaneState::ready) << "hi keeps serving";
  EXPECT_NE(pool.status(1).error.find("higher priority"), std::string::npos) << pool.status(1).error;
  *lease_hi = LaneLease();  // idle now: it may be unloaded for lo
  ASSERT_TRUE(wait_lo.get().is_ok());
}

TEST(ModelPool, WaitingIsBoundedAndCanBeCancelled) {
  LANEWAY_REQUIRE_FILE(model_path());
  auto a = spec_for(lane_options("a", 256), true, 60s);
  auto b = spec_for(lane_options("b", 256), true, 60s);
  b.max_waiting = 2;
  ModelPool pool({a, b}, {a.bill_bytes + b.bill_bytes / 2});
  pool.start();
  auto lease_a = acquire(pool, 0).get();  // b must wait for a
  ASSERT_TRUE(lease_a.is_ok());
  uint64_t t1 = 0;
  auto w1 = acquire(pool, 1, &t1);
  auto w2 = acquire(pool, 1);
  auto w3 = acquire(pool, 1).get();
  ASSERT_FALSE(w3.is_ok());
  EXPECT_EQ(w3.status().code(), StatusCode::resource_exhausted);
  pool.cancel_wait(1, t1);
  auto r1 = w1.get();
  ASSERT_FALSE(r1.is_ok());
  EXPECT_EQ(r1.status().code(), StatusCode::cancelled);
  EXPECT_EQ(pool.status(1).waiting, 1);
  *lease_a = LaneLease();
  EXPECT_TRUE(w2.get().is_ok());
}

TEST(ModelPool, AFailedLoadFailsTheLaneUntilReloaded) {
  LANEWAY_REQUIRE_FILE(model_path());
  auto counter = std::make_shared<Counting>();
  auto bad = lane_options("bad", 256);
  PoolLaneSpec s = spec_for(bad, false, -1ms, counter);
  auto ok_start = s.start;
  auto fail_next = std::make_shared<std::atomic<bool>>(true);
  s.start = [ok_start, fail_next](const LoadProgressFn& p) -> Result<std::unique_ptr<EmbeddedLane>> {
    if (fail_next->exchange(false)) return io_error("cannot read the model (injected)");
    return ok_start(p);
  };
  ModelPool pool({s}, {});
  pool.start();
  ASSERT_TRUE(wait_state(pool, 0, LaneState::failed));
  EXPECT_NE(pool.status(0).error.find("injected"), std::string::npos);
  auto r = acquire(pool, 0).get();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::unavailable);
  EXPECT_NE(r.status().message().find("injected"), std::string::npos);
  pool.reload(0);
  ASSERT_TRUE(wait_state(pool, 0, LaneState::ready));
  EXPECT_TRUE(acquire(pool, 0).get().is_ok());
}

TEST(ModelPool, AnEngineExceptionFailsTheLaneNotTheProcess) {
  LANEWAY_REQUIRE_FILE(model_path());
  ModelPool pool({spec_for(lane_options("a", 256), false, -1ms)}, {});
  pool.start();
  auto lease = acquire(pool, 0).get();
  ASSERT_TRUE(lease.is_ok());
  GenerationRequest r;
  r.prompt_tokens = lease->engine().tokenizer().encode("Once", {.add_special = true});
  r.max_tokens = 8;
  std::promise<GenerationEvent> last;
  int calls = 0;
  auto submitted = lease->engine().submit(r, [&](GenerationEvent&& ev) {
    if (++calls == 1) throw std::runtime_error("a sink that throws (injected)");
    if (ev.done) last.set_value(std::move(ev));
  });
  ASSERT_TRUE(submitted.is_ok());
  const GenerationEvent ev = last.get_future().get();
  EXPECT_EQ(ev.finish, FinishReason::error);
  EXPECT_NE(ev.error.message().find("injected"), std::string::npos) << ev.error.to_string();
  EXPECT_EQ(pool.status(0).state, LaneState::failed);
  EXPECT_NE(pool.status(0).error.find("injected"), std::string::npos);
  *lease = LaneLease();
  auto again = acquire(pool, 0).get();
  EXPECT_FALSE(again.is_ok());
  pool.reload(0);  // a fresh engine
  ASSERT_TRUE(wait_state(pool, 0, LaneState::ready));
  auto fresh = acquire(pool, 0).get();
  ASSERT_TRUE(fresh.is_ok());
  EXPECT_FALSE(generate(fresh->engine()).empty());
}

// Two rounds of load, generate, unload of the pool's one lane: `measure()`
// rises by at least 80% of the lane's bill at load and falls by at least 90%
// of it at unload.
void expect_unloads_return_the_bill(ModelPool& pool, const PoolLaneSpec& spec, uint64_t (*measure)(), const char* what) {
  for (int round = 0; round < 2; ++round) {
    const uint64_t before_load = measure();
    auto lease = acquire(pool, 0).get();
    ASSERT_TRUE(lease.is_ok()) << lease.status().to_string();
    EXPECT_FALSE(generate(lease->engine()).empty());
    const uint64_t loaded = measure();
    EXPECT_GE(loaded, before_load + spec.bill_bytes * 8 / 10) << what << " did not rise by the bill at load";
    *lease = LaneLease();
    pool.unload(0);
    ASSERT_TRUE(wait_state(pool, 0, LaneState::unloaded, 10s));
    const uint64_t after = measure();
    ASSERT_GE(loaded, after);
    EXPECT_GE(loaded - after, spec.bill_bytes * 9 / 10) << "round " << round << ": " << what << " fell by "
                                                        << (loaded - after) << " bytes of a " << spec.bill_bytes
                                                        << "-byte bill";
    ::testing::Test::RecordProperty("unload_seconds_round_" + std::to_string(round),
                                    std::to_string(pool.status(0).last_unload_seconds));
  }
}

TEST(ModelPool, UnloadingReturnsTheMemory) {
  LANEWAY_REQUIRE_FILE(model_path());
  // 256k tokens of f16 KV on stories260K: 160 MiB, committed at load.
  auto spec = spec_for(lane_options("big", 262144), true, 60s);
  ModelPool pool({spec}, {});
  pool.start();
  expect_unloads_return_the_bill(pool, spec, rss_bytes, "the RSS");
}

// The same with every layer and the KV cache on a GPU (lavapipe): the device
// memory is freed too. lavapipe has no VK_EXT_memory_budget (Mesa 22.3) and
// its device memory is memory this process maps, committed only when first
// written (so the RSS shows little of an unused KV cache): the process's
// mapped size is what shows the device allocations go. On a real GPU the
// device's own usage is what would fall.
uint64_t mapped_bytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0;
  in >> size;
  return size * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

bool lavapipe_present() {
  auto devices = list_vulkan_devices();
  return devices.is_ok() && std::any_of(devices->begin(), devices->end(), [](const VulkanDeviceInfo& d) {
           return d.name.find("llvmpipe") != std::string::npos;
         });
}

#define LANEWAY_REQUIRE_LAVAPIPE()                                                                                \
  if (!lavapipe_present()) {                                                                                      \
    if (test::testdata_required()) FAIL() << "no lavapipe Vulkan device: install mesa-vulkan-drivers";           \
    GTEST_SKIP() << "no lavapipe Vulkan device (install mesa-vulkan-drivers to run the Vulkan tests)";            \
  }

TEST(ModelPool, UnloadingALaneOnTheGpuReturnsItsDeviceMemory) {
  LANEWAY_REQUIRE_FILE(model_path());
  LANEWAY_REQUIRE_LAVAPIPE();
  EmbeddedLaneOptions o = lane_options("big", 262144);  // 160 MiB of f16 KV, on the device
  o.load.gpu_layers = -1;
  o.load.device = "llvmpipe";
  auto spec = spec_for(o, true, 60s);
  ModelPool pool({spec}, {});
  pool.start();
  {
    auto lease = acquire(pool, 0).get();
    ASSERT_TRUE(lease.is_ok()) << lease.status().to_string();
    ASSERT_TRUE(lease->engine().model().uses_gpu());
  }
  pool.unload(0);
  ASSERT_TRUE(wait_state(pool, 0, LaneState::unloaded, 10s));
  expect_unloads_return_the_bill(pool, spec, mapped_bytes, "the mapped size");
}

// A lane whose blocks are on a GPU reports its load as its weights are
// copied to the device, not all at once at the end of reading the file.
TEST(ModelPool, ALoadOnTheGpuReportsProgressAsWeightsAreCopied) {
  LANEWAY_REQUIRE_FILE(model_path());
  LANEWAY_REQUIRE_LAVAPIPE();
  EmbeddedLaneOptions o = lane_options("gpu", 256);
  o.load.gpu_layers = -1;
  o.load.device = "llvmpipe";
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  o.load.progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
  auto lane = EmbeddedLane::start(o);
  ASSERT_TRUE(lane.is_ok()) << lane.status().to_string();
  ASSERT_TRUE((*lane)->model().uses_gpu());
  ASSERT_GE(calls.size(), 2u) << "one call per copied weight";
  const uint64_t total = calls.front().second;
  uint64_t last = 0, distinct = 0;
  for (const auto& [done, all] : calls) {
    EXPECT_EQ(all, total);
    EXPECT_GE(done, last) << "never backwards";
    EXPECT_LE(done, total);
    distinct += done != last ? 1 : 0;
    last = done;
  }
  EXPECT_GE(distinct, 10u) << "stories260K has 48 weights to copy";
  EXPECT_GE(last, total / 2) << "most of the weights are on the GPU";
}

// Burst mode: an eager, pausable lane of no higher priority lends its memory
// to a lane that needs it (`paused`, requests for it wait), and comes back
// by itself once that lane has unloaded.
TEST(ModelPool, AnEagerLanePausesForABurstAndComesBack) {
  LANEWAY_REQUIRE_FILE(model_path());
  auto everyday = spec_for(lane_options("everyday", 4096), false, -1ms);
  auto ingest = spec_for(lane_options("ingest", 4096), true, 200ms);
  ingest.priority = 1;
  ModelPool pool({everyday, ingest}, {everyday.bill_bytes + ingest.bill_bytes / 2});
  pool.start();
  ASSERT_TRUE(wait_state(pool, 0, LaneState::ready));
  std::string before;
  {
    auto lease = acquire(pool, 0).get();
    ASSERT_TRUE(lease.is_ok());
    before = generate(lease->engine());
  }
  auto big = acquire(pool, 1).get();
  ASSERT_TRUE(big.is_ok()) << big.status().to_string();
  LaneStatus st = pool.status(0);
  EXPECT_EQ(st.state, LaneState::paused);
  EXPECT_EQ(st.paused_by, "ingest");
  EXPECT_FALSE(st.resident);
  // A request for the paused lane waits; it is not refused.
  auto waiting = acquire(pool, 0);
  EXPECT_EQ(waiting.wait_for(200ms), std::future_status::timeout);
  *big = LaneLease();  // the burst ends: ingest idles, its waiter brings everyday back
  auto back = waiting.get();
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(generate(back->engine()), before);
  st = pool.status(0);
  EXPECT_EQ(st.state, LaneState::ready);
  EXPECT_TRUE(st.resumed_at.has_value());
  EXPECT_FALSE(pool.status(1).resident);
}

TEST(ModelPool, APausedLaneComesBackByItselfWhenTheBurstLaneUnloads) {
  LANEWAY_REQUIRE_FILE(model_path());
  auto everyday = spec_for(lane_options("everyday", 4096), false, -1ms);
  auto ingest = spec_for(lane_options("ingest", 4096), true, 150ms);  // unloads 150 ms after the burst
  auto higher = spec_for(lane_options("higher", 4096), false, -1ms);  // priority above ingest: keeps its memory
  higher.priority = 5;
  ModelPool pool({everyday, ingest, higher}, {everyday.bill_bytes + higher.bill_bytes + ingest.bill_bytes / 2});
  pool.start();
  ASSERT_TRUE(wait_state(pool, 0, LaneState::ready));
  ASSERT_TRUE(wait_state(pool, 2, LaneState::ready));
  {
    auto big = acquire(pool, 1).get();
    ASSERT_TRUE(big.is_ok()) << big.status().to_string();
    EXPECT_EQ(pool.status(0).state, LaneState::paused);
    EXPECT_EQ(pool.status(2).state, LaneState::ready) << "a lane of higher priority is not paused";
  }
  ASSERT_TRUE(wait_state(pool, 1, LaneState::unloaded, 5s));
  ASSERT_TRUE(wait_state(pool, 0, LaneState::ready, 5s)) << lane_state_name(pool.status(0).state);
  EXPECT_TRUE(pool.status(0).paused_by.empty());
}

// A request on an engine: its final event, and whether a token came first.
struct Submitted {
  std::future<GenerationEvent> done;
  std::shared_ptr<std::promise<void>> first = std::make_shared<std::promise<void>>();
};
Submitted submit(EmbeddedLane& engine, int64_t max_tokens) {
  GenerationRequest r;
  r.prompt_tokens = engine.tokenizer().encode("Once upon a time", {.add_special = true});
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  r.debug_token_delay_ms = 10;
  Submitted out;
  auto done = std::make_shared<std::promise<GenerationEvent>>();
  out.done = done->get_future();
  auto got_first = std::make_shared<bool>(false);
  auto first = out.first;
  auto submitted = engine.submit(r, [done, first, got_first](GenerationEvent&& ev) {
    if (!*got_first && !ev.tokens.empty()) {
      *got_first = true;
      first->set_value();
    }
    if (ev.done) done->set_value(std::move(ev));
  });
  EXPECT_TRUE(submitted.is_ok()) << submitted.status().to_string();
  return out;
}

// A lane that pauses for a burst (one slot, two requests queued behind a
// running one): with on_pause: drain the queued ones run first; with
// preempt they are handed back at once, never started (the server reruns
// them), and only the running one is waited for.
TEST(ModelPool, OnPausePreemptHandsBackQueuedRequestsAndDrainRunsThem) {
  LANEWAY_REQUIRE_FILE(model_path());
  for (const bool preempt : {false, true}) {
    SCOPED_TRACE(preempt ? "preempt" : "drain");
    auto everyday = spec_for(lane_options("everyday", 4096), false, -1ms);
    everyday.preempt_on_pause = preempt;
    auto ingest = spec_for(lane_options("ingest", 4096), true, 60s);
    ingest.priority = 5;
    ModelPool pool({everyday, ingest}, {everyday.bill_bytes + ingest.bill_bytes / 2});
    pool.start();
    auto lease = acquire(pool, 0).get();
    ASSERT_TRUE(lease.is_ok());
    Submitted running = submit(lease->engine(), 40);
    Submitted queued1 = submit(lease->engine(), 8);
    Submitted queued2 = submit(lease->engine(), 8);
    running.first->get_future().wait();
    auto burst = acquire(pool, 1);  // needs everyday's room: everyday drains
    ASSERT_TRUE(wait_state(pool, 0, LaneState::draining));
    if (preempt) {
      for (Submitted* q : {&queued1, &queued2}) {
        ASSERT_EQ(q->done.wait_for(2s), std::future_status::ready) << "handed back at once";
        const GenerationEvent ev = q->done.get();
        EXPECT_EQ(ev.finish, FinishReason::preempted);
        EXPECT_EQ(ev.completion_tokens, 0);
      }
      EXPECT_EQ(running.done.wait_for(0ms), std::future_status::timeout) << "the running one is not touched";
    }
    EXPECT_EQ(running.done.get().finish, FinishReason::length);
    if (!preempt) {
      for (Submitted* q : {&queued1, &queued2}) {
        const GenerationEvent ev = q->done.get();
        EXPECT_EQ(ev.finish, FinishReason::length);
        EXPECT_EQ(ev.completion_tokens, 8);
      }
    }
    *lease = LaneLease();  // everyday idles: it pauses, ingest loads
    auto big = burst.get();
    ASSERT_TRUE(big.is_ok()) << big.status().to_string();
    EXPECT_EQ(pool.status(0).state, LaneState::paused);
  }
}

// A service member (a service burst mode may put to sleep) with scripted
// hooks: counts the calls, fails the next N of each when told.
struct FakeService {
  std::atomic<int> wakes{0}, wakes_after_sleep{0}, sleeps{0};
  std::atomic<int> fail_sleeps{0}, fail_wakes{0};
};
PoolLaneSpec service_spec(const std::string& name, uint64_t bill, const std::shared_ptr<FakeService>& f) {
  PoolLaneSpec s;
  s.name = name;
  s.bill_bytes = bill;
  s.sleep = [f]() -> Status {
    ++f->sleeps;
    if (f->fail_sleeps > 0) {
      --f->fail_sleeps;
      return make_error(StatusCode::unavailable, "POST /sleep answered HTTP 500");
    }
    return Status::ok();
  };
  s.wake = [f](bool after_sleep) -> Status {
    ++f->wakes;
    if (after_sleep) ++f->wakes_after_sleep;
    if (f->fail_wakes > 0) {
      --f->fail_wakes;
      return make_error(StatusCode::unavailable, "connection refused");
    }
    return Status::ok();
  };
  return s;
}

// Burst mode with a service: the deep-ingest lane needs the service's
// memory; the service finishes the request it is serving (its lease), is put
// to sleep (and counted as freed only then), requests for it wait meanwhile,
// and it is woken once the burst lane has unloaded.
TEST(ModelPool, AServicePausesForABurstBySleepingAndWakesAfter) {
  LANEWAY_REQUIRE_FILE(model_path());
  auto svc = std::make_shared<FakeService>();
  auto ingest = spec_for(lane_options("ingest", 4096), true, 150ms);
  ingest.priority = 1;
  const uint64_t service_bytes = ingest.bill_bytes;
  ModelPool pool({service_spec("vllm", service_bytes, svc), ingest}, {service_bytes + ingest.bill_bytes / 2});
  EXPECT_EQ(pool.status(0).state, LaneState::loading);  // made sure it is awake once started
  pool.start();
  ASSERT_TRUE(wait_state(pool, 0, LaneState::ready));
  EXPECT_EQ(svc->wakes, 1);
  EXPECT_EQ(svc->wakes_after_sleep, 0) << "the first wake only makes sure";
  EXPECT_TRUE(pool.status(0).resident);
  EXPECT_EQ(pool.pool_status().resident_bytes, service_bytes);

  auto proxied = acquire(pool, 0).get();  // a request the service is answering
  ASSERT_TRUE(proxied.is_ok());
  auto burst = acquire(pool, 1);
  ASSERT_TRUE(wait_state(pool, 0, LaneState::draining));
  EXPECT_EQ(svc->sleeps, 0) << "not put to sleep under a running request";
  EXPECT_EQ(burst.wait_for(100ms), std::future_status::timeout);
  *proxied = LaneLease();
  auto big = burst.get();
  ASSERT_TRUE(big.is_ok()) << big.status().to_string();
  EXPECT_EQ(svc->sleeps, 1);
  LaneStatus st = pool.status(0);
  EXPECT_EQ(st.state, LaneState::paused);
  EXPECT_EQ(st.paused_by, "ingest");
  EXPECT_FALSE(st.resident);
  EXPECT_EQ(pool.pool_status().resident_bytes, ingest.bill_bytes);

  auto waiting = acquire(pool, 0);  // a request for the sleeping service waits
  EXPECT_EQ(waiting.wait_for(100ms), std::future_status::timeout);
  *big = LaneLease();  // the burst ends; ingest unloads after 150 ms, the service wakes
  auto back = waiting.get();
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_EQ(svc->wakes_after_sleep, 1);
  st = pool.status(0);
  EXPECT_EQ(st.state, LaneState::ready);
  EXPECT_TRUE(st.resumed_at.has_value());
  EXPECT_TRUE(st.paused_by.empty());
  EXPECT_FALSE(pool.status(1).resident);
}

// A sleep call that fails frees nothing: the service stays awake and keeps
// serving, the burst waits (saying why), and the service is asked again
// after the retry delay, which frees the room.
TEST(ModelPool, AServiceWhoseSleepFailsServesOnAndIsAskedAgainLater) {
  LANEWAY_REQUIRE_FILE(model_path());
  auto svc = std::make_shared<FakeService>();
  svc->fail_sleeps = 1;
  auto ingest = spec_for(lane_options("ingest", 4096), true, 60s);
  ingest.priority = 1;
  ModelPool::Options options{ingest.bill_bytes + ingest.bill_bytes / 2};
  options.sleep_retry_delay = 400ms;
  ModelPool pool({service_spec("vllm", ingest.bill_bytes, svc), ingest}, options);
  pool.start();
  ASSERT_TRUE(wait_state(pool, 0, LaneState::ready));
  const auto t0 = std::chrono::steady_clock::now();
  auto burst = acquire(pool, 1);
  EXPECT_EQ(burst.wait_for(200ms), std::future_status::timeout);
  EXPECT_EQ(svc->sleeps, 1);
  LaneStatus st = pool.status(0);
  EXPECT_EQ(st.state, LaneState::ready) << "still serving";
  EXPECT_TRUE(st.resident);
  auto meanwhile = acquire(pool, 0).get();
  EXPECT_TRUE(meanwhile.is_ok()) << "requests still reach it";
  *meanwhile = LaneLease();
  EXPECT_NE(pool.status(1).error.find("sleep call of vllm failed"), std::string::npos) << pool.status(1).error;
  auto big = burst.get();  // the second sleep call succeeds
  ASSERT_TRUE(big.is_ok()) << big.status().to_string();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 400ms);
  EXPECT_EQ(svc->sleeps, 2);
  EXPECT_EQ(pool.status(0).state, LaneState::paused);
}

// A service that does not wake fails the requests that waited for it; the
// next request tries again, and so does the pool after the retry delay.
TEST(ModelPool, AServiceThatDoesNotWakeIsTriedAgain) {
  {
    auto svc = std::make_shared<FakeService>();
    svc->fail_wakes = 1;
    ModelPool pool({service_spec("vllm", 1 << 20, svc)}, {});  // retry delay 30 s: the request retries
    pool.start();
    ASSERT_TRUE(wait_state(pool, 0, LaneState::failed));
    EXPECT_NE(pool.status(0).error.find("connection refused"), std::string::npos);
    auto again = acquire(pool, 0).get();
    ASSERT_TRUE(again.is_ok()) << again.status().to_string();
    EXPECT_EQ(svc->wakes, 2);
    EXPECT_EQ(pool.status(0).state, LaneState::ready);
  }
  auto svc = std::make_shared<FakeService>();
  svc->fail_wakes = 1;
  ModelPool::Options options;
  options.sleep_retry_delay = 300ms;
  ModelPool pool({service_spec("vllm", 1 << 20, svc)}, options);
  pool.start();
  ASSERT_TRUE(wait_state(pool, 0, LaneState::failed));
  ASSERT_TRUE(wait_state(pool, 0, LaneState::ready, 5s)) << "woken again without a request";
  EXPECT_EQ(svc->wakes, 2);
}

}  // namespace
}  // namespace laneway
