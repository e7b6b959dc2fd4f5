// ModelPool: which embedded lanes are resident, and the engine of each.
//
// Every embedded lane of a server is in the pool, and every service that
// burst mode may put to sleep (a *service member*: LANES.md `sleep` with
// `frees: all` and a `memory_budget`): a member without an engine, awake
// (resident, holding its budget) or asleep. Its `wake` hook takes the place
// of loading and its `sleep` hook of unloading; it is eager, never idles out,
// and is paused for room like a pausable eager lane. A sleep that fails
// frees nothing: the member stays awake and serves on, and is not asked
// again for Options::sleep_retry_delay. A lane is `eager` (loaded
// in the background when the pool starts, and kept) or `on_demand` (loaded by
// the first request that wants it, unloaded after `keep_alive` idle). The
// planner's bill of each lane is the only measure of what fits: a load goes
// ahead only when the bills of the resident and loading lanes plus its own
// stay within the budget; otherwise idle on_demand lanes are unloaded, lowest
// priority first (ties: the least recently used), only as many as needed; a
// busy one of no higher priority stops taking requests (`draining`) so that
// it turns idle; the request waits meanwhile. Eager lanes of no higher
// priority that are `pausable` make room too (burst mode, LANES.md): they
// are `paused`, and come back (`restoring`) by themselves, highest priority
// first, once the lane they lent their memory to has unloaded. A lane whose
// bill can never fit beside the lanes that cannot make room for it is
// refused at once. Nothing that is serving a request is ever unloaded, and
// no request is killed for room.
//
// Leases: acquire() hands out a LaneLease once the lane is ready. The lease
// keeps the engine alive and the lane counted as busy; the lane may unload
// only when no lease is left. Memory is counted as freed when the engine is
// destroyed (weights unmapped, KV freed, malloc_trim).
//
// States (LANES.md "Lane states"): loading, ready, unloaded, draining,
// paused, restoring, failed.
//
// Threading: one loader thread per pool runs every load and unload, one at a
// time, so two loads never race for the same bytes. Every public function
// may be called from any thread. Acquire callbacks run on the calling thread
// (lane ready now) or on the loader thread; they must not block.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "runtime/embedded_lane.h"

namespace laneway {

enum class LaneState { loading, ready, unloaded, unhealthy, draining, paused, restoring, failed };
std::string_view lane_state_name(LaneState s);  // "loading", "ready", ...

// Bytes of weights read so far while loading, of the total.
struct LoadProgress {
  uint64_t done_bytes = 0;
  uint64_t total_bytes = 0;
};
using LoadProgressFn = std::function<void(uint64_t done_bytes, uint64_t total_bytes)>;
using EngineStarter = std::function<Result<std::unique_ptr<EmbeddedLane>>(const LoadProgressFn& progress)>;
// A service member's hooks; they run on the loader thread and may block.
// `wake(after_sleep)`: false when the pool starts (make sure the service is
// awake), true to bring back a service the pool put to sleep.
using ServiceWakeHook = std::function<Status(bool after_sleep)>;
using ServiceSleepHook = std::function<Status()>;

// One embedded lane as the pool sees it.
struct PoolLaneSpec {
  std::string name;
  bool on_demand = false;
  std::chrono::milliseconds keep_alive{-1};  // idle time before unloading; negative = never
  int64_t priority = 0;
  bool pausable = true;                      // false: never unloaded to make room
  // on_pause: preempt. When the lane drains to make room, its queued requests
  // that have not started are handed back at once (EmbeddedLane::preempt_waiting)
  // instead of running first; only the running ones are waited for.
  bool preempt_on_pause = false;
  uint64_t bill_bytes = 0;                   // what the planner says the loaded lane holds
  int64_t max_waiting = 8;                   // requests that may wait for the lane while it is not ready
  std::string model_path;                    // a failed lane retries when this file changes
  EngineStarter start;                       // loads the weights and allocates the KV cache
  // A service member (see the header comment) instead of an engine: both set.
  ServiceSleepHook sleep;
  ServiceWakeHook wake;
  bool service() const { return static_cast<bool>(sleep); }
  // Set when the plan refuses the lane up front: it stays `failed` with this reason.
  std::string refused;
};

struct LaneStatus {
  LaneState state = LaneState::unloaded;
  std::string error;                  // why it failed, or why a load waits
  LoadProgress progress;              // while loading
  bool resident = false;              // an engine is loaded (a service member: awake)
  bool on_gpu = false;                // ... with layers on a GPU
  // The engine's figures when resident; the token counters add up over
  // every time the lane was loaded (they never go back).
  LaneStats stats;
  int64_t waiting = 0;                // requests waiting for the lane to be ready
  int64_t leases = 0;                 // requests holding the engine
  int64_t loads = 0;
  int64_t unloads = 0;
  double last_load_seconds = 0;
  double last_unload_seconds = 0;
  // Burst mode: the lane this one lent its memory to (paused or draining
  // for it), and when it last came back from a pause.
  std::string paused_by;
  std::optional<std::chrono::system_clock::time_point> resumed_at;
  // When an idle lane will unload (keep_alive); nullopt = not scheduled.
  std::optional<std::chrono::system_clock::time_point> expires_at;
};

struct PoolStatus {
  uint64_t budget_bytes = 0;
  uint64_t resident_bytes = 0;  // bills of the lanes loaded or loading
};

class ModelPool;

// The right to use a ready lane (its engine; a service member has none).
// Movable; destroying it releases the lane (its keep_alive clock starts when
// the last lease goes; a pause waits for it).
class LaneLease {
 public:
  LaneLease() = default;
  LaneLease(LaneLease&&) noexcept;
  LaneLease& operator=(LaneLease&&) noexcept;
  ~LaneLease();
  LaneLease(const LaneLease&) = delete;
  LaneLease& operator=(const LaneLease&) = delete;

  explicit operator bool() const { return pool_ != nullptr; }
  EmbeddedLane& engine() const { return *engine_; }  // embedded lanes only
  // After this request, the lane unloads once idle for `keep_alive` (0: at
  // once; negative: never) instead of its configured time (Ollama's keep_alive).
  void set_keep_alive(std::chrono::milliseconds keep_alive);

 private:
  friend class ModelPool;
  struct Shared;
  std::shared_ptr<Shared> pool_;
  size_t lane_ = 0;
  std::shared_ptr<EmbeddedLane> engine_;
  void release();
};

class ModelPool {
 public:
  struct Options {
    uint64_t budget_bytes = UINT64_MAX;  // what the lanes may hold together
    // Comparison mode, not for serving (serve --debug-pool-max-loaded N): a
    // load goes ahead while fewer than N lanes are loaded, whatever their
    // bills, and idle lanes are unloaded for room by the same order (the
    // least recently used first): models counted instead of bytes, as
    // llama.cpp's router, RamaLama and Ollama's OLLAMA_MAX_LOADED_MODELS do.
    // bench/pool_compare.sh runs one workload both ways. 0: by bytes.
    int64_t max_loaded = 0;
    // Tests: runs on the loader thread once it has chosen to unload a lane,
    // before the lane's engine stops (the window a request may arrive in).
    std::function<void(size_t lane)> on_unload_chosen;
    // How long a service member whose sleep call failed is left alone.
    std::chrono::milliseconds sleep_retry_delay{30'000};
  };
  ModelPool(std::vector<PoolLaneSpec> lanes, Options options);
  ~ModelPool();  // shutdown(0)
  ModelPool(const ModelPool&) = delete;
  ModelPool& operator=(const ModelPool&) = delete;

  // Starts the loader thread; eager lanes load (highest priority first).
  void start();
  // A lane more (a model file a rescan found): its index, the next after
  // those the pool has. Loaded as the spec says (eager: now, once started).
  size_t add(PoolLaneSpec spec);

  using AcquireDone = std::function<void(Result<LaneLease>)>;
  // Asks for lane `lane`: `done` gets a lease once it is ready (at once when
  // it is), or an error: unavailable (the lane failed, cannot fit, or the
  // pool is stopping), resource_exhausted (too many requests already wait),
  // cancelled (cancel_wait). Returns a ticket for cancel_wait().
  uint64_t acquire(size_t lane, AcquireDone done);
  // A waiting request gives up (its client left or timed out); no-op when it
  // already got its answer.
  void cancel_wait(size_t lane, uint64_t ticket);

  // Unload the lane as soon as it is idle (keep_alive 0).
  void unload(size_t lane);
  // A failed lane tries again; a resident one unloads and loads afresh.
  void reload(size_t lane);
  // New settings for a lane that is not resident (its file was re-read and
  // re-planned): failed when `spec.refused`, else loaded as the spec says
  // (eager: now). Ignored while an engine is loaded.
  void replace(size_t lane, PoolLaneSpec spec);

  LaneStatus status(size_t lane) const;
  PoolStatus pool_status() const;
  size_t size() const;
  PoolLaneSpec spec(size_t lane) const;  // a copy: replace() may change it meanwhile

  // Stops loading; refuses waiting requests (unavailable). Lanes with
  // engines keep serving their leases; the server shuts the engines down.
  void begin_shutdown();
  // begin_shutdown, shuts every engine down with `grace_ms` for its running
  // requests, stops the loader thread.
  void shutdown(int64_t grace_ms);

  // Every resident engine (for the server's own shutdown steps).
  std::vector<std::shared_ptr<EmbeddedLane>> engines() const;

 private:
  std::shared_ptr<LaneLease::Shared> shared_;
};

}  // namespace laneway
