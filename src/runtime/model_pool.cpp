#include "runtime/model_pool.h"

#include <malloc.h>
#include <sys/stat.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>

namespace laneway {

std::string_view lane_state_name(LaneState s) {
  switch (s) {
    case LaneState::loading: return "loading";
    case LaneState::ready: return "ready";
    case LaneState::unloaded: return "unloaded";
    case LaneState::unhealthy: return "unhealthy";
    case LaneState::draining: return "draining";
    case LaneState::paused: return "paused";
    case LaneState::restoring: return "restoring";
    case LaneState::failed: return "failed";
  }
  return "failed";
}

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string mib(uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0)); }

// What identifies a file's version: a failed lane retries when it changes.
struct FileStamp {
  int64_t mtime_ns = 0;
  int64_t size = -1;
  bool operator==(const FileStamp&) const = default;
};
FileStamp stamp_of(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return {};
  return {static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec, static_cast<int64_t>(st.st_size)};
}

struct Waiter {
  uint64_t ticket = 0;
  ModelPool::AcquireDone done;
};

}  // namespace

// Everything the pool knows; shared with the leases, so a lease that outlives
// the pool object releases nothing that is gone.
struct LaneLease::Shared {
  struct Lane {
    PoolLaneSpec spec;
    LaneState state = LaneState::unloaded;
    std::string error;
    std::string wait_reason;            // why a wanted load has not started
    std::shared_ptr<EmbeddedLane> engine;
    LoadProgress progress;
    std::deque<Waiter> waiting;
    int64_t leases = 0;
    Clock::time_point idle_since = Clock::now();
    std::optional<milliseconds> keep_alive_override;
    bool want_load = false;             // eager at start, or someone waits
    uint64_t want_since = 0;            // order of the wish: loads go first come, first served
    bool unload_requested = false;
    bool reload_requested = false;
    uint64_t last_used = 0;             // LRU order
    FileStamp failed_stamp;
    int64_t loads = 0, unloads = 0;
    double last_load_s = 0, last_unload_s = 0;
    LaneStats retired;                  // token counters of engines already unloaded
    // A service member: awake (holding its bill), put to sleep by the pool,
    // and when its last sleep call failed (it is not asked again for a while).
    bool awake = false;
    bool slept = false;
    std::optional<Clock::time_point> sleep_failed_at;
    std::optional<Clock::time_point> wake_failed_at;  // failed: woken again after the retry delay

    bool resident() const { return engine || awake; }

    milliseconds keep_alive() const { return keep_alive_override.value_or(spec.keep_alive); }
    // May be unloaded to make room for another lane.
    bool evictable() const { return spec.on_demand && spec.pausable && keep_alive().count() >= 0; }
    // May make room for `other`: unloaded if on_demand (evictable), paused
    // if eager (pausable, of no higher priority: higher keeps its memory).
    bool gives_room_to(const Lane& other) const {
      return evictable() || (!spec.on_demand && spec.pausable && spec.priority <= other.spec.priority);
    }
    // gives_room_to, unless its sleep call failed less than `retry` ago.
    bool may_give_room_to(const Lane& other, Clock::time_point now, milliseconds retry) const {
      return gives_room_to(other) && (!sleep_failed_at || now >= *sleep_failed_at + retry);
    }
    std::optional<size_t> paused_by;    // burst mode: the lane it lent its memory to
    std::optional<std::chrono::system_clock::time_point> resumed_at;
  };

  ModelPool::Options options;
  mutable std::mutex mu;
  std::condition_variable cv;
  // Guarded by mu. A deque: add() appends while references to the other
  // lanes (spec(), a lane the loader is loading) stay valid.
  std::deque<Lane> lanes;
  uint64_t use_counter = 0;     // guarded by mu
  uint64_t ticket_counter = 0;  // guarded by mu
  uint64_t want_counter = 0;    // guarded by mu
  bool stopping = false;        // guarded by mu
  bool loading_now = false;     // guarded by mu: the loader is inside a load
  size_t loading_lane = 0;      // guarded by mu
  std::thread loader;

  // Callbacks to run once mu is released.
  using Calls = std::vector<std::function<void()>>;
  static void run(Calls& calls) {
    for (auto& c : calls) c();
    calls.clear();
  }

  // A lane as the pool starts it: failed when the plan refused it, queued
  // for the loader when eager (mu held, or in the constructor).
  Lane new_lane(PoolLaneSpec spec) {
    Lane l;
    l.spec = std::move(spec);
    if (!l.spec.refused.empty()) {
      l.state = LaneState::failed;
      l.error = l.spec.refused;
      l.failed_stamp = stamp_of(l.spec.model_path);
    } else if (!l.spec.on_demand) {
      l.state = LaneState::loading;  // queued for the loader
      l.want_load = true;
      l.want_since = ++want_counter;
    }
    return l;
  }

  LaneLease make_lease(const std::shared_ptr<Shared>& self, size_t i) {  // mu held
    Lane& l = lanes[i];
    ++l.leases;
    l.last_used = ++use_counter;
    LaneLease lease;
    lease.pool_ = self;
    lease.lane_ = i;
    lease.engine_ = l.engine;
    return lease;
  }

  void release(size_t i) {
    {
      std::lock_guard<std::mutex> lock(mu);
      Lane& l = lanes[i];
      if (--l.leases == 0) l.idle_since = Clock::now();
    }
    cv.notify_all();
  }

  bool holds(size_t i) const { return lanes[i].resident() || (loading_now && loading_lane == i); }  // mu held: loaded or loading
  uint64_t held_bytes() const {  // mu held
    uint64_t n = 0;
    for (size_t i = 0; i < lanes.size(); ++i) n += holds(i) ? lanes[i].spec.bill_bytes : 0;
    return n;
  }
  // What the fit decisions count: a lane's bill and the byte budget, or one
  // per lane and max_loaded in the comparison mode (Options::max_loaded).
  uint64_t cost(const Lane& l) const { return options.max_loaded > 0 ? 1 : l.spec.bill_bytes; }
  uint64_t capacity() const {
    return options.max_loaded > 0 ? static_cast<uint64_t>(options.max_loaded) : options.budget_bytes;
  }
  std::string amount(uint64_t n) const { return options.max_loaded > 0 ? fmt::format("{} lane(s)", n) : mib(n); }
  uint64_t held_cost() const {  // mu held
    uint64_t n = 0;
    for (size_t i = 0; i < lanes.size(); ++i) n += holds(i) ? cost(lanes[i]) : 0;
    return n;
  }

  void fail_waiters(Lane& l, const Status& st, Calls& calls) {  // mu held
    for (auto& w : l.waiting) calls.push_back([done = std::move(w.done), st] { done(st); });
    l.waiting.clear();
  }

  void loader_loop(const std::shared_ptr<Shared>& self);
  // One step of the loader, decided under mu; returns false when there is nothing to do.
  enum class Action { none, load, unload };
  Action decide(size_t& lane, Clock::time_point now, Clock::time_point& wake, Calls& calls);
  void do_load(const std::shared_ptr<Shared>& self, size_t i);
  void do_unload(const std::shared_ptr<Shared>& self, size_t i);
  void hand_leases_to_waiters(const std::shared_ptr<Shared>& self, size_t i, Calls& calls);  // mu held
};

// ---- LaneLease ------------------------------------------------------------------

LaneLease::LaneLease(LaneLease&& o) noexcept : pool_(std::move(o.pool_)), lane_(o.lane_), engine_(std::move(o.engine_)) {}
LaneLease& LaneLease::operator=(LaneLease&& o) noexcept {
  if (this != &o) {
    release();
    pool_ = std::move(o.pool_);
    lane_ = o.lane_;
    engine_ = std::move(o.engine_);
  }
  return *this;
}
LaneLease::~LaneLease() { release(); }

void LaneLease::release() {
  engine_.reset();
  if (pool_) pool_->release(lane_);
  pool_.reset();
}

void LaneLease::set_keep_alive(milliseconds keep_alive) {
  if (!pool_) return;
  {
    std::lock_guard<std::mutex> lock(pool_->mu);
    pool_->lanes[lane_].keep_alive_override = keep_alive;
  }
  pool_->cv.notify_all();
}

// ---- ModelPool --------------------------------------------------------------------

ModelPool::ModelPool(std::vector<PoolLaneSpec> lanes, Options options) : shared_(std::make_shared<LaneLease::Shared>()) {
  shared_->options = options;
  for (auto& spec : lanes) shared_->lanes.push_back(shared_->new_lane(std::move(spec)));
}

size_t ModelPool::add(PoolLaneSpec spec) {
  size_t index = 0;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    index = shared_->lanes.size();
    shared_->lanes.push_back(shared_->new_lane(std::move(spec)));
  }
  shared_->cv.notify_all();
  return index;
}

ModelPool::~ModelPool() { shutdown(0); }

void ModelPool::start() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  if (shared_->loader.joinable() || shared_->stopping) return;
  shared_->loader = std::thread([self = shared_] { self->loader_loop(self); });
}

size_t ModelPool::size() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->lanes.size();
}

PoolLaneSpec ModelPool::spec(size_t lane) const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->lanes[lane].spec;
}

uint64_t ModelPool::acquire(size_t lane, AcquireDone done) {
  auto& s = *shared_;
  std::unique_lock<std::mutex> lock(s.mu);
  auto& l = s.lanes[lane];
  if (s.stopping) {
    lock.unlock();
    done(make_error(StatusCode::unavailable, "lane {} is shutting down", l.spec.name));
    return 0;
  }
  if (l.engine && l.state != LaneState::failed) {
    if (Status f = l.engine->failure(); !f.is_ok()) {
      // The engine thread stopped on an error: the lane is failed until reloaded.
      l.state = LaneState::failed;
      l.error = f.message();
      l.failed_stamp = stamp_of(l.spec.model_path);
      l.unload_requested = true;
      s.cv.notify_all();
    }
  }
  if (l.state == LaneState::failed && l.spec.refused.empty() && !l.resident() &&
      (l.spec.service() || stamp_of(l.spec.model_path) != l.failed_stamp)) {
    // The file changed since the load failed (a service that did not wake:
    // each request tries again).
    l.state = LaneState::unloaded;
    l.error.clear();
  }
  if (l.state == LaneState::failed) {
    const std::string why = l.error;
    lock.unlock();
    done(make_error(StatusCode::unavailable, "lane {} failed to load: {}", l.spec.name, why));
    return 0;
  }
  if (l.state == LaneState::ready && l.resident()) {
    LaneLease lease = s.make_lease(shared_, lane);
    lock.unlock();
    done(std::move(lease));
    return 0;
  }
  if (static_cast<int64_t>(l.waiting.size()) >= l.spec.max_waiting) {
    const size_t n = l.waiting.size();
    const std::string state(lane_state_name(l.state));
    lock.unlock();
    done(resource_exhausted_error("lane {} is {} and {} requests already wait for it", l.spec.name, state, n));
    return 0;
  }
  const uint64_t ticket = ++s.ticket_counter;
  l.waiting.push_back({ticket, std::move(done)});
  if (!l.want_load) l.want_since = ++s.want_counter;
  l.want_load = true;
  lock.unlock();
  s.cv.notify_all();
  return ticket;
}

void ModelPool::cancel_wait(size_t lane, uint64_t ticket) {
  if (ticket == 0) return;
  AcquireDone done;
  std::string name;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    auto& w = shared_->lanes[lane].waiting;
    auto it = std::find_if(w.begin(), w.end(), [&](const Waiter& x) { return x.ticket == ticket; });
    if (it == w.end()) return;
    done = std::move(it->done);
    w.erase(it);
    name = shared_->lanes[lane].spec.name;
  }
  done(make_error(StatusCode::cancelled, "the request stopped waiting for lane {}", name));
}

void ModelPool::unload(size_t lane) {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->lanes[lane].unload_requested = true;
  }
  shared_->cv.notify_all();
}

void ModelPool::reload(size_t lane) {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    auto& l = shared_->lanes[lane];
    if (!l.spec.refused.empty()) {
      // The plan refused it: nothing to retry until the server restarts with other settings.
    } else if (l.resident()) {
      l.reload_requested = true;  // unloads once idle, then loads afresh
      l.unload_requested = true;
    } else {
      if (l.state == LaneState::failed) l.state = LaneState::unloaded;
      l.error.clear();
      if (!l.want_load) l.want_since = ++shared_->want_counter;
      l.want_load = true;
    }
  }
  shared_->cv.notify_all();
}

void ModelPool::replace(size_t lane, PoolLaneSpec spec) {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    auto& l = shared_->lanes[lane];
    if (shared_->holds(lane)) return;
    l.spec = std::move(spec);
    l.error.clear();
    l.wait_reason.clear();
    if (!l.spec.refused.empty()) {
      l.state = LaneState::failed;
      l.error = l.spec.refused;
      l.failed_stamp = stamp_of(l.spec.model_path);
      l.want_load = false;
    } else {
      l.state = l.spec.on_demand ? LaneState::unloaded : LaneState::loading;
      if (!l.spec.on_demand || !l.waiting.empty()) {
        if (!l.want_load) l.want_since = ++shared_->want_counter;
        l.want_load = true;
      }
    }
  }
  shared_->cv.notify_all();
}

LaneStatus ModelPool::status(size_t lane) const {
  std::shared_ptr<EmbeddedLane> engine;
  LaneStatus st;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    const auto& l = shared_->lanes[lane];
    st.state = l.state;
    st.error = l.state == LaneState::failed ? l.error : l.wait_reason;
    st.progress = l.progress;
    st.resident = l.resident();
    st.waiting = static_cast<int64_t>(l.waiting.size());
    st.leases = l.leases;
    st.loads = l.loads;
    st.unloads = l.unloads;
    st.last_load_seconds = l.last_load_s;
    st.last_unload_seconds = l.last_unload_s;
    if (l.paused_by) st.paused_by = shared_->lanes[*l.paused_by].spec.name;
    st.resumed_at = l.resumed_at;
    const milliseconds ka = l.keep_alive();
    if (l.engine && l.state == LaneState::ready && l.leases == 0 && ka.count() >= 0) {
      st.expires_at = std::chrono::system_clock::now() +
                      std::chrono::duration_cast<std::chrono::system_clock::duration>(l.idle_since + ka - Clock::now());
    }
    engine = l.engine;
  }
  if (engine && st.state != LaneState::failed) {
    if (Status f = engine->failure(); !f.is_ok()) {
      st.state = LaneState::failed;
      st.error = f.message();
    }
  }
  LaneStats retired;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    retired = shared_->lanes[lane].retired;
  }
  if (engine) {
    st.stats = engine->stats();
    st.on_gpu = engine->model().uses_gpu();
  }
  st.stats.prompt_tokens_total += retired.prompt_tokens_total;
  st.stats.generated_tokens_total += retired.generated_tokens_total;
  st.stats.generation_seconds_total += retired.generation_seconds_total;
  return st;
}

PoolStatus ModelPool::pool_status() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return {shared_->options.budget_bytes, shared_->held_bytes()};
}

std::vector<std::shared_ptr<EmbeddedLane>> ModelPool::engines() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  std::vector<std::shared_ptr<EmbeddedLane>> out;
  for (const auto& l : shared_->lanes) {
    if (l.engine) out.push_back(l.engine);
  }
  return out;
}

void ModelPool::begin_shutdown() {
  LaneLease::Shared::Calls calls;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->stopping = true;
    for (auto& l : shared_->lanes) {
      shared_->fail_waiters(l, make_error(StatusCode::unavailable, "lane {} is shutting down", l.spec.name), calls);
    }
  }
  shared_->cv.notify_all();
  LaneLease::Shared::run(calls);
}

void ModelPool::shutdown(int64_t grace_ms) {
  begin_shutdown();
  if (shared_->loader.joinable()) shared_->loader.join();
  for (auto& engine : engines()) engine->shutdown(grace_ms);
}

// ---- the loader thread ------------------------------------------------------------

LaneLease::Shared::Action LaneLease::Shared::decide(size_t& out, Clock::time_point now, Clock::time_point& wake,
                                                    Calls& calls) {
  // 1. Unloads that are due: draining lanes gone idle, explicit unloads and
  //    reloads, keep_alive expiries.
  for (size_t i = 0; i < lanes.size(); ++i) {
    Lane& l = lanes[i];
    if (!l.resident() || l.leases > 0) continue;
    const milliseconds ka = l.keep_alive();
    const bool expired = ka.count() >= 0 && now >= l.idle_since + ka;
    if (l.state == LaneState::draining || l.unload_requested || l.reload_requested || expired) {
      out = i;
      return Action::unload;
    }
    if (ka.count() >= 0) wake = std::min(wake, l.idle_since + ka);
  }
  // 2. Loads wanted, highest priority first (ties: configuration order).
  std::vector<size_t> wanted;
  for (size_t i = 0; i < lanes.size(); ++i) {
    const Lane& l = lanes[i];
    // A paused lane comes back once the lane it lent to is gone (and not
    // wanted again), or when a request wants it.
    const bool restore_due = l.state == LaneState::paused && l.paused_by && !lanes[*l.paused_by].resident() &&
                             !lanes[*l.paused_by].want_load;
    // A service that did not wake is tried again after the retry delay.
    bool wake_due = false;
    if (l.spec.service() && l.state == LaneState::failed && l.wake_failed_at) {
      const Clock::time_point at = *l.wake_failed_at + options.sleep_retry_delay;
      wake_due = now >= at;
      if (!wake_due) wake = std::min(wake, at);
    }
    if (!l.resident() && (((l.want_load || restore_due) && l.state != LaneState::failed) || wake_due)) wanted.push_back(i);
  }
  std::stable_sort(wanted.begin(), wanted.end(), [&](size_t a, size_t b) {
    if (lanes[a].spec.priority != lanes[b].spec.priority) return lanes[a].spec.priority > lanes[b].spec.priority;
    return lanes[a].want_since < lanes[b].want_since;
  });
  const uint64_t budget = capacity();
  for (size_t i : wanted) {
    Lane& l = lanes[i];
    const uint64_t held = held_cost();
    const uint64_t bill = cost(l);
    if (held + bill <= budget) {
      out = i;
      return Action::load;
    }
    const uint64_t need = held + bill - budget;
    // What could make room: lanes that may be unloaded, lowest priority
    // first, the least recently used first among equals.
    // (Burst mode, LANES.md: eager lanes are paused, not just unloaded, and
    // come back once the lane they lent to is gone.) On_demand lanes go
    // before eager ones of the same priority.
    std::vector<size_t> victims;
    for (size_t j = 0; j < lanes.size(); ++j) {
      if (j != i && lanes[j].resident() && lanes[j].may_give_room_to(l, now, options.sleep_retry_delay)) victims.push_back(j);
    }
    std::stable_sort(victims.begin(), victims.end(), [&](size_t a, size_t b) {
      if (lanes[a].spec.priority != lanes[b].spec.priority) return lanes[a].spec.priority < lanes[b].spec.priority;
      if (lanes[a].spec.on_demand != lanes[b].spec.on_demand) return lanes[a].spec.on_demand;
      return lanes[a].last_used < lanes[b].last_used;
    });
    uint64_t idle_bytes = 0;
    std::optional<size_t> first_idle;
    for (size_t j : victims) {
      if (lanes[j].leases == 0) {
        idle_bytes += cost(lanes[j]);
        if (!first_idle) first_idle = j;
      }
    }
    if (first_idle && idle_bytes >= need) {
      out = *first_idle;  // one at a time; the next step re-decides
      if (!lanes[out].spec.on_demand) lanes[out].paused_by = i;
      return Action::unload;
    }
    // Busy lanes of no higher priority stop taking requests, as few as needed.
    uint64_t freed = idle_bytes;
    std::vector<size_t> drain;
    for (size_t j : victims) {
      if (freed >= need) break;
      if (lanes[j].leases == 0 || lanes[j].spec.priority > l.spec.priority) continue;
      drain.push_back(j);
      freed += cost(lanes[j]);
    }
    if (freed >= need) {
      for (size_t j : drain) {
        lanes[j].state = LaneState::draining;
        if (!lanes[j].spec.on_demand) lanes[j].paused_by = i;
        if (lanes[j].spec.preempt_on_pause && lanes[j].engine) {
          calls.push_back([engine = lanes[j].engine] { engine->preempt_waiting(); });
        }
      }
      l.wait_reason = fmt::format("waiting for room: {} needs {}, {} of {} held", l.spec.name, amount(bill), amount(held), amount(budget));
      continue;
    }
    // Could it ever fit? Lanes that are never unloaded for room hold their bytes.
    uint64_t fixed = 0;
    std::string holders;
    for (size_t j = 0; j < lanes.size(); ++j) {
      if (j == i || !lanes[j].resident() || lanes[j].gives_room_to(l)) continue;
      fixed += cost(lanes[j]);
      holders += fmt::format("{}{} {}", holders.empty() ? "" : ", ", lanes[j].spec.name, mib(lanes[j].spec.bill_bytes));
    }
    if (fixed + bill > budget) {
      const std::string why = fmt::format(
          "lane {} needs {} but the pool's budget is {}{}", l.spec.name, amount(bill), amount(budget),
          holders.empty() ? std::string()
                          : fmt::format(" and lanes that are never unloaded or paused for it hold {} ({})", amount(fixed), holders));
      fail_waiters(l, Status(StatusCode::unavailable, why), calls);
      l.want_load = false;
      if (!l.spec.on_demand) {
        l.state = LaneState::failed;
        l.error = why;
        l.failed_stamp = stamp_of(l.spec.model_path);
      } else {
        l.state = LaneState::unloaded;
        l.wait_reason = why;
      }
      continue;
    }
    // It fits once busy lanes of higher priority finish, or once a service
    // whose sleep call failed is asked again.
    std::string unslept;
    for (size_t j = 0; j < lanes.size(); ++j) {
      if (j != i && lanes[j].resident() && lanes[j].gives_room_to(l) && !lanes[j].may_give_room_to(l, now, options.sleep_retry_delay)) {
        unslept += (unslept.empty() ? "" : ", ") + lanes[j].spec.name;
        wake = std::min(wake, *lanes[j].sleep_failed_at + options.sleep_retry_delay);
      }
    }
    l.wait_reason = unslept.empty()
                        ? fmt::format("waiting for room: {} needs {}; lanes of higher priority are busy", l.spec.name, amount(bill))
                        : fmt::format("waiting for room: {} needs {}; the sleep call of {} failed (asked again within {} ms)",
                                      l.spec.name, amount(bill), unslept, options.sleep_retry_delay.count());
  }
  return Action::none;
}

void LaneLease::Shared::hand_leases_to_waiters(const std::shared_ptr<Shared>& self, size_t i, Calls& calls) {
  Lane& l = lanes[i];
  for (auto& w : l.waiting) {
    calls.push_back([done = std::move(w.done), lease = std::make_shared<LaneLease>(make_lease(self, i))]() mutable {
      done(std::move(*lease));
    });
  }
  l.waiting.clear();
}

void LaneLease::Shared::do_load(const std::shared_ptr<Shared>& self, size_t i) {
  EngineStarter start;
  ServiceWakeHook wake;
  bool after_sleep = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    Lane& l = lanes[i];
    l.state = l.state == LaneState::paused ? LaneState::restoring : LaneState::loading;
    l.wait_reason.clear();
    l.progress = {0, l.spec.bill_bytes};
    loading_now = true;
    loading_lane = i;
    start = l.spec.start;
    wake = l.spec.wake;
    after_sleep = l.slept;
  }
  const auto t0 = Clock::now();
  auto progress = [this, i](uint64_t done, uint64_t total) {
    std::lock_guard<std::mutex> lock(mu);
    lanes[i].progress = {done, total};
  };
  // An engine, or a service awake; else why not.
  std::unique_ptr<EmbeddedLane> loaded;
  Status st = Status::ok();
  try {
    if (wake) {
      st = wake(after_sleep);
    } else if (start) {
      auto r = start(progress);
      if (r) loaded = std::move(r).value();
      else st = r.status();
    } else {
      st = internal_error("lane has no engine starter");
    }
  } catch (const std::exception& e) {
    st = internal_error("{} threw: {}", wake ? "waking" : "loading", e.what());
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  Calls calls;
  {
    std::lock_guard<std::mutex> lock(mu);
    loading_now = false;
    Lane& l = lanes[i];
    l.want_load = false;
    l.want_since = 0;
    l.reload_requested = false;
    l.unload_requested = false;
    if (!st.is_ok()) {
      l.paused_by.reset();
      l.state = LaneState::failed;
      l.error = st.message();
      l.failed_stamp = stamp_of(l.spec.model_path);
      if (wake) l.wake_failed_at = Clock::now();
      fail_waiters(l,
                   wake ? make_error(StatusCode::unavailable, "service {} did not wake: {}", l.spec.name, l.error)
                        : make_error(StatusCode::unavailable, "lane {} failed to load: {}", l.spec.name, l.error),
                   calls);
    } else if (stopping) {
      l.state = LaneState::unloaded;  // an engine loaded meanwhile goes below; a service stays awake
      l.awake = static_cast<bool>(wake);
    } else {
      if (wake) {
        l.awake = true;
        l.slept = false;
        l.wake_failed_at.reset();
      } else {
        l.engine = std::shared_ptr<EmbeddedLane>(std::move(loaded));
      }
      if (l.state == LaneState::restoring) l.resumed_at = std::chrono::system_clock::now();
      l.paused_by.reset();
      l.state = LaneState::ready;
      l.error.clear();
      l.progress.done_bytes = l.progress.total_bytes;
      ++l.loads;
      l.last_load_s = secs;
      l.idle_since = Clock::now();
      hand_leases_to_waiters(self, i, calls);
    }
  }
  if (loaded) loaded->shutdown(0);  // loaded while the pool stopped
  run(calls);
}

void LaneLease::Shared::do_unload(const std::shared_ptr<Shared>& self, size_t i) {
  // The loader marked the lane `draining` (no new leases) in the same hold
  // of mu that chose to unload it; it reads so until its memory is really
  // gone, then `unloaded`, so whoever sees that state may count on it.
  std::shared_ptr<EmbeddedLane> engine;
  ServiceSleepHook sleep;
  bool failed = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    Lane& l = lanes[i];
    engine = l.engine;
    sleep = l.spec.sleep;
    failed = l.state == LaneState::failed;
  }
  const auto t0 = Clock::now();
  LaneStats last;
  if (engine) {
    engine->shutdown(0);
    last = engine->stats();
    {
      std::lock_guard<std::mutex> lock(mu);
      lanes[i].engine.reset();
    }
    engine.reset();  // the last owner: weights unmapped, KV freed
    ::malloc_trim(0);
  } else {
    Status slept = internal_error("nothing to unload");
    try {
      if (sleep) slept = sleep();
    } catch (const std::exception& e) {
      slept = internal_error("sleeping threw: {}", e.what());
    }
    if (!slept.is_ok()) {
      // Nothing was freed: the service serves on, awake, and is not asked
      // again for a while (decide() skips it as a victim meanwhile).
      Calls calls;
      {
        std::lock_guard<std::mutex> lock(mu);
        Lane& l = lanes[i];
        l.sleep_failed_at = Clock::now();
        l.paused_by.reset();
        l.unload_requested = false;
        l.reload_requested = false;
        l.state = LaneState::ready;
        l.idle_since = Clock::now();
        hand_leases_to_waiters(self, i, calls);
      }
      run(calls);
      return;
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::lock_guard<std::mutex> lock(mu);
  Lane& l = lanes[i];
  if (!engine && sleep) {
    l.awake = false;
    l.slept = true;
    l.sleep_failed_at.reset();
  }
  l.retired.prompt_tokens_total += last.prompt_tokens_total;
  l.retired.generated_tokens_total += last.generated_tokens_total;
  l.retired.generation_seconds_total += last.generation_seconds_total;
  ++l.unloads;
  l.last_unload_s = secs;
  // A failed lane that reload() saw without its engine (between the two
  // holds of mu above) is no longer failed: it was set to load afresh.
  const bool reloaded = failed && l.state != LaneState::failed;
  if (reloaded) failed = false;
  l.state = failed ? LaneState::failed : l.paused_by ? LaneState::paused : LaneState::unloaded;
  l.unload_requested = false;
  l.keep_alive_override.reset();
  // Requests that waited through the drain, or a reload, bring it back.
  l.want_load = !failed && (l.reload_requested || reloaded || !l.waiting.empty());
  if (failed && l.reload_requested) {
    l.state = LaneState::unloaded;
    l.error.clear();
    l.want_load = true;
  }
  l.reload_requested = false;
  if (l.want_load && l.want_since == 0) l.want_since = ++want_counter;
}

void LaneLease::Shared::loader_loop(const std::shared_ptr<Shared>& self) {
  std::unique_lock<std::mutex> lock(mu);
  for (;;) {
    if (stopping) return;
    Calls calls;
    size_t lane = 0;
    const auto now = Clock::now();
    auto wake = Clock::time_point::max();
    const Action a = decide(lane, now, wake, calls);
    if (!calls.empty()) {
      lock.unlock();
      run(calls);
      lock.lock();
      continue;
    }
    if (a == Action::none) {
      if (wake == Clock::time_point::max()) cv.wait(lock);
      else cv.wait_until(lock, wake);
      continue;
    }
    // No lease may be handed out between choosing to unload a lane (no
    // leases) and shutting its engine down: it stops being `ready` now.
    if (a == Action::unload && lanes[lane].state != LaneState::failed) lanes[lane].state = LaneState::draining;
    lock.unlock();
    if (a == Action::load) {
      do_load(self, lane);
    } else {
      if (options.on_unload_chosen) options.on_unload_chosen(lane);
      do_unload(self, lane);
    }
    lock.lock();
  }
}

}  // namespace laneway
