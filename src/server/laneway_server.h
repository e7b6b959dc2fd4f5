// LanewayServer: everything `laneway serve` runs — the lanes of a lanes.yaml
// (embedded engines and upstream services), the router, the HTTP servers
// (the shared API plus any lane with `listen: PORT`), metrics and the
// upstream health loops. It owns all of its state (no globals), so tests can
// run several in one process.
//
// Routes (see LANES.md): GET /health[?lane=NAME], GET /metrics,
// GET /v1/models, GET /v1/lanes, POST /v1/chat/completions, POST
// /v1/completions, POST /v1/lanes/NAME/reload|unload, and per lane
// /lanes/NAME/health and /lanes/NAME/v1/...; Ollama's API at / and /api/...
// (routes_ollama.cpp); the status page at /ui (status_page.cpp).
// Bearer keys guard every route but liveness and /ui: server.api_keys open
// every route, a lane's api_keys open that lane's routes (key_ring.h;
// route_table.h gives each route's scope; readiness, /v1/lanes and /metrics
// are open when open_routes lists them). The check is made in dispatch, and
// again after routing for routes that name their lane in the body. CORS
// preflights of server.cors_origins are answered before the key check.
//
// Embedded lanes live in a runtime ModelPool (residency, keep_alive, burst
// pauses); a request holds a LaneLease on its lane's engine while it runs.
//
// Threading: HTTP runs on `http_threads` io_context threads, one strand per
// connection; each loaded embedded lane has its own engine thread
// (EmbeddedLane); the pool has one loader thread.
// Lifecycle: create() (reads every lane's metadata and plan; loads nothing)
// -> listen() -> start() (eager lanes load in the background) ->
// shutdown(grace) (blocking; called once, from any thread but the io threads).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/lane_config.h"
#include "runtime/embedded_lane.h"
#include "runtime/model_pool.h"
#include "runtime/router.h"
#include "server/chat_prompt.h"
#include "server/http_server.h"
#include "server/key_ring.h"
#include "server/metrics.h"
#include "server/ollama_api.h"
#include "server/ollama_models.h"
#include "server/route_table.h"
#include "server/server_log.h"
#include "server/upstream_connection.h"
#include "server/upstream_service.h"

namespace laneway::server {

struct ServeOptions {
  LanesConfig config;
  int http_threads = 4;
  std::chrono::milliseconds request_timeout{600'000};  // one generation or proxied request, end to end
  std::chrono::milliseconds health_interval{2'000};    // upstream health probes
  ServerLog log;                                       // startup summary and access lines; default: none
  int64_t debug_token_delay_ms = 0;                    // test-only: slows every generation (deterministic load tests)
  HttpServerOptions http;
  // What the process may hold for its embedded lanes, its own overhead
  // included (taken off once): the model pool's budget. The CLI passes what
  // the machine can use now, or --memory-budget.
  uint64_t memory_budget_bytes = UINT64_MAX;
  int64_t debug_pool_max_loaded = 0;  // comparison only: count models, not bytes (ModelPool::Options::max_loaded)
  // Also serve Ollama's routes (/ and /api/...) on this port (`--ollama-port
  // 11434`), for tools that assume Ollama's address; 0 picks a free one.
  std::optional<int> ollama_port;
  // The lanes the model folders and stores give now (the CLI's
  // model_lanes_rescan); null: nothing to rescan. Called off the io
  // threads, one call at a time, by /api/tags, /v1/models and a request for
  // a model no lane has: a file added becomes a lane, a file gone hides its
  // lane (config lanes are never touched).
  std::function<Result<std::vector<LaneConfig>>()> model_lanes;
};

// What `serve` decides for one embedded lane before anything loads (the CLI
// maps the lane's config and its engine flags; the planner judges it).
struct PreparedLane {
  EmbeddedLaneOptions options;  // model, load and context options, queue
  int64_t context_tokens = 0;   // per request (options.context.n_ctx / slots)
  uint64_t bill_bytes = 0;      // the planner's bill of the loaded lane, without the process's own overhead
  uint64_t overhead_bytes = 0;  // that overhead (the binary, thread stacks, ...): counted once for all lanes
  std::string refused;          // the plan refuses the lane: it stays `failed` with this reason
  // Checked again before each load (may be empty): what the process has
  // pinned by then counts (a second `mlock` lane that the memlock limit
  // cannot hold beside the first is refused with the planner's message).
  std::function<Status()> admit;
};
using EmbeddedLanePreparer = std::function<Result<PreparedLane>(const LaneConfig&)>;

// What routing needs of an embedded lane, loaded or not, read from its
// GGUF's metadata: routing tokenizes for every lane, and a lane keeps this
// while its weights are not resident.
struct LaneText {
  Tokenizer tokenizer;
  std::unique_ptr<ChatPrompt> chat;
  int64_t context_tokens = 0;  // per request
};

// One lane at run time.
struct LaneRuntime {
  size_t index = 0;
  const LaneConfig* config = nullptr;       // into LanewayServer's config, or own_config
  std::unique_ptr<const LaneConfig> own_config;  // a lane a rescan added
  std::optional<size_t> pool_lane;          // embedded lanes: the index in the model pool
  UpstreamService* service = nullptr;       // upstream lanes (owned by the server)
  // Upstream lanes of a service burst mode may put to sleep (`sleep` with
  // `frees: all` and a `memory_budget`): the service's member in the model
  // pool. A proxied request holds a lease on it, so a pause waits for it.
  std::optional<size_t> service_member;
  // A lane made from a file that a rescan no longer finds: hidden from
  // routing and the listings, unloaded once idle, back when the file is.
  std::atomic<bool> gone{false};
  // burst_context (LANES.md, burst mode): a lane that has one gets a twin,
  // the same model at that context, an on_demand lane of its own in the pool
  // (unloaded as soon as it is idle), hidden from routing and the listings.
  // A request whose prompt does not fit the lane's context but fits the
  // twin's runs on the twin; its load pauses other lanes by the burst rule,
  // the lane itself included, and they come back once it unloads.
  std::optional<size_t> burst_twin;  // on the lane: the twin's index
  std::optional<size_t> burst_of;    // on the twin: its lane's index
  bool hidden() const { return gone || burst_of.has_value(); }
  // The file's modification time and size when its metadata was read: a
  // rescan reads it again when they change (and the lane is not loaded).
  std::atomic<int64_t> file_mtime_ns{0};
  std::atomic<int64_t> file_size{-1};

  bool embedded() const { return config->embedded(); }
  // Null when the lane's file could not be read (it is then `failed`); a
  // reload may set it later, so readers take their own reference.
  std::shared_ptr<const LaneText> text() const { return std::atomic_load(&text_); }
  void set_text(std::shared_ptr<const LaneText> t) { std::atomic_store(&text_, std::move(t)); }

 private:
  std::shared_ptr<const LaneText> text_;
};

// The lanes in index order: the config's, then those rescans added.
// Append-only with a capacity fixed at start, so the HTTP threads read it
// without a lock while a rescan appends: a lane counts (size()) only once it
// is whole, and none is ever removed (a lane whose file went away is `gone`).
class LaneList {
 public:
  explicit LaneList(size_t capacity) : slots_(new std::unique_ptr<LaneRuntime>[capacity]), capacity_(capacity) {}
  size_t size() const { return size_.load(std::memory_order_acquire); }
  size_t capacity() const { return capacity_; }
  const std::unique_ptr<LaneRuntime>& operator[](size_t i) const { return slots_[i]; }
  const std::unique_ptr<LaneRuntime>* begin() const { return slots_.get(); }
  const std::unique_ptr<LaneRuntime>* end() const { return slots_.get() + size(); }
  // One writer at a time. False when full.
  bool push_back(std::unique_ptr<LaneRuntime> lane) {
    const size_t n = size_.load(std::memory_order_relaxed);
    if (n == capacity_) return false;
    slots_[n] = std::move(lane);
    size_.store(n + 1, std::memory_order_release);
    return true;
  }

 private:
  std::unique_ptr<std::unique_ptr<LaneRuntime>[]> slots_;
  size_t capacity_ = 0;
  std::atomic<size_t> size_{0};
};

class LanewayServer final : public RequestHandler {
 public:
  // Reads every lane's config and, for embedded lanes, the GGUF's tokenizer
  // and chat template; loads nothing (start() begins the eager loads). A lane
  // whose file cannot be read or that the plan refuses is `failed`, and the
  // others serve; create() fails only when no lane could ever serve, or for
  // any failed lane with `strict`.
  static Result<std::unique_ptr<LanewayServer>> create(ServeOptions options, const EmbeddedLanePreparer& prepare,
                                                       bool strict = false);
  ~LanewayServer() override;

  // Binds the shared API and each lane's own port (when set).
  Status listen();
  int port() const;
  int ollama_port() const;  // 0 when ServeOptions::ollama_port is unset
  // Starts the io threads, the accept loops, the upstream health loops and
  // the background loads of eager lanes.
  void start();
  // The start of a drain (SIGTERM with --drain-delay-ms): readiness answers
  // 503 `draining` so load balancers stop sending, while everything else is
  // still served. shutdown() follows. Idempotent.
  void begin_drain() { draining_ = true; }
  // Stops accepting, lets in-flight requests finish within `grace`, cancels
  // what is left, and stops every thread. Blocking; idempotent.
  void shutdown(std::chrono::milliseconds grace);

  const LanesConfig& config() const { return options_.config; }
  // The lane's state as LANES.md names it, and why it cannot serve ("" when it can).
  LaneState lane_state(size_t lane) const;
  std::string lane_error(size_t lane) const;
  // Whether the background loads that start() began are over (no lane is
  // `loading`), and each lane's state in a line for the terminal.
  bool lanes_settled() const;
  std::string lanes_summary() const;

  // RequestHandler
  BodyLimit body_limit(const http::request_header<>& header) override;
  // Routes the request (dispatch) and writes its access line.
  net::awaitable<void> handle(HttpExchange& ex) override;

 private:
  explicit LanewayServer(ServeOptions options);

  // routes_health.cpp
  net::awaitable<void> route_health(HttpExchange& ex, std::optional<size_t> lane, bool lane_from_query);
  net::awaitable<void> route_models(HttpExchange& ex, std::optional<size_t> lane, const Credentials& who);
  net::awaitable<void> route_lanes(HttpExchange& ex);
  net::awaitable<void> route_metrics(HttpExchange& ex);
  net::awaitable<void> route_lane_control(HttpExchange& ex, size_t lane, std::string_view action);
  std::string lane_health_json(size_t lane) const;
  // The lanes `who` opens (all of them for a server key or with no keys).
  std::string models_json(std::optional<size_t> lane, const Credentials& who) const;
  std::string lanes_json() const;
  std::string metrics_text() const;
  // routes_openai.cpp
  // `who`: the request's key; the lane routing picks must be one it opens.
  net::awaitable<void> route_generation(HttpExchange& ex, std::string_view api_path, std::optional<size_t> url_lane,
                                        const Credentials& who);
  // Runs the request on `engine` (the lane's, held by the caller's lease).
  // True when the lane handed it back before it started (on_pause: preempt):
  // nothing was sent, the caller routes it again.
  net::awaitable<bool> generate_embedded(HttpExchange& ex, LaneRuntime& lane, EmbeddedLane& engine,
                                         const CompletionRequest& req, std::vector<int32_t> prompt_tokens,
                                         const std::string& route, net::steady_timer::time_point deadline);
  // Waits (bounded by `deadline`, the client leaving) until the embedded lane
  // is ready, loading it when it is not resident. An error when it fails,
  // cannot fit, or too many requests already wait.
  struct Acquired {
    LaneLease lease;
    std::optional<ApiError> error;
  };
  net::awaitable<Acquired> acquire_lane(HttpExchange& ex, const LaneRuntime& lane,
                                        net::steady_timer::time_point deadline);
  // Reads the lane's metadata (tokenizer, chat template), asks the preparer
  // for its settings and bill, and returns its pool entry; a failure of any
  // step is the entry's `refused` reason (the lane is then failed).
  // The burst twin of config lane `lane` (LaneRuntime::burst_twin), its pool spec appended to `specs`.
  void add_burst_twin(size_t lane, std::vector<PoolLaneSpec>& specs, uint64_t* overhead_bytes);
  PoolLaneSpec setup_embedded(LaneRuntime& lane, uint64_t* overhead_bytes);
  // Its member in the pool when the service sleeps in burst mode.
  std::optional<size_t> service_member_of(const UpstreamService& service) const;
  // The pool member of a service that sleeps in burst mode (see LaneRuntime::service_member).
  PoolLaneSpec service_member_spec(const UpstreamService& service, const ServiceConfig& config) const;
  // Ready, or (embedded) not resident but loadable on request: routing may pick it.
  bool lane_available(size_t lane) const;
  // A lane that will serve soon (loading, draining, paused, restoring): a
  // request may wait for it rather than fail.
  bool lane_coming(size_t lane) const;
  // routes_ollama.cpp: GET|HEAD / and /api/* (keys, errors and metrics in Ollama's shape).
  net::awaitable<void> route_ollama(HttpExchange& ex, const RouteMatch& route);
  net::awaitable<void> ollama_generate(HttpExchange& ex, OllamaEndpoint endpoint, const std::string& label,
                                       const Credentials& who);
  net::awaitable<void> ollama_show(HttpExchange& ex, const Credentials& who);
  // /api/tags (false), /api/ps (true): the lanes `who` opens.
  std::string ollama_models_json(bool resident_only, const Credentials& who);
  std::optional<size_t> ollama_lane(std::string_view model) const;  // lane name or alias, ":latest" implied
  // upstream_proxy.cpp: forwards to a replica of lane's service (one retry on
  // another replica before the first byte); false when no replica could be
  // reached before anything was sent and none is healthy (the caller may fall back).
  net::awaitable<bool> proxy_to_upstream(HttpExchange& ex, LaneRuntime& lane, std::string_view api_path,
                                         const std::string& body, const std::string& requested_model, bool stream);

  // The lane of that name (gone lanes are not found).
  std::optional<size_t> lane_index(std::string_view name) const;
  // The router over the lanes as the last rescan left them.
  std::shared_ptr<const Router> router() const { return std::atomic_load(&router_); }
  // Model folders (ServeOptions::model_lanes): rescanned on a worker thread,
  // at most once a second unless `now`; returns when the rescan is over.
  net::awaitable<void> rescan_models(bool now);
  void rescan_models_blocking();  // the rescan itself (under rescan_mu_)
  void rebuild_router();          // from every lane's config and `gone` (under rescan_mu_ or in create)
  // Runs `f` (blocking work: hashing files, reading metadata) on the worker
  // threads; the calling coroutine waits without holding its io thread.
  template <class F>
  net::awaitable<std::invoke_result_t<F>> off_io(F f) {
    co_return co_await net::co_spawn(
        blocking_, [&f]() -> net::awaitable<std::invoke_result_t<F>> { co_return f(); }, net::use_awaitable);
  }
  // The request's key and what it opens (key_ring.h); key_allows: whether it
  // opens `route` as far as the URL tells (routing checks the lane again).
  Credentials credentials(const HttpRequest& req) const;
  bool key_allows(const RouteMatch& route, const Credentials& who) const;
  // The 401 text for a request whose key does not open what it asked for.
  static std::string key_refusal(const Credentials& who);
  std::string next_id(std::string_view prefix);
  // `route` is one of route_labels() (anything else is counted as "unknown"),
  // `lane` a configured lane name or "".
  void count(const std::string& lane, std::string_view route, int status);
  net::awaitable<void> dispatch(HttpExchange& ex);


  ServeOptions options_;
  std::vector<std::unique_ptr<UpstreamService>> services_;
  UpstreamConnectionPool upstream_connections_;  // kept-alive connections to the services' replicas
  LaneList lanes_;
  std::unique_ptr<ModelPool> pool_;
  EmbeddedLanePreparer prepare_;
  std::shared_ptr<const Router> router_;  // replaced whole by a rescan that changes the lanes (atomic_load/store)
  net::thread_pool blocking_{2};          // off_io(): hashing, metadata reads, rescans
  std::mutex rescan_mu_;
  std::chrono::steady_clock::time_point last_rescan_{};  // guarded by rescan_mu_
  std::set<std::string> rescan_reported_;               // guarded by rescan_mu_: problems already logged
  Metrics metrics_;
  OpenRoutes open_routes_;
  KeyRing keys_;
  ModelInfoCache model_info_;  // /api/tags, /api/show, /api/ps: GGUF details and digests
  int64_t created_unix_s_ = 0;
  uint64_t id_seed_ = 0;
  std::atomic<uint64_t> id_counter_{0};

  net::io_context ioc_;
  std::unique_ptr<HttpServer> http_;
  struct LanePort;
  std::vector<std::unique_ptr<LanePort>> lane_ports_;
  struct OllamaPort;
  std::unique_ptr<OllamaPort> ollama_port_;
  std::vector<std::thread> threads_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};  // readiness says 503 from begin_drain() on
  bool shut_down_ = false;
};

}  // namespace laneway::server
