#include "server/laneway_server.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "gguf/types.h"
#include "server/status_page.h"
#include "server/tls_context.h"

namespace laneway::server {

// A lane with `listen: PORT`: the same routes at /v1 and /health on a port of
// its own, by prefixing requests with /lanes/<name>.
struct LanewayServer::LanePort final : RequestHandler {
  LanePort(LanewayServer& s, std::string lane_name) : server(s), prefix("/lanes/" + lane_name) {}
  BodyLimit body_limit(const http::request_header<>& header) override {
    http::request_header<> h = header;
    h.target(prefix + std::string(header.target()));
    return server.body_limit(h);
  }
  net::awaitable<void> handle(HttpExchange& ex) override {
    const std::string target(ex.request().target());
    if (target == "/metrics" || target.rfind("/health?", 0) == 0) return server.handle(ex);
    ex.request().target(prefix + target);
    return server.handle(ex);
  }
  LanewayServer& server;
  std::string prefix;
  std::unique_ptr<HttpServer> http;
};

// `--ollama-port`: Ollama's routes alone (/ and /api/...) on a port of their
// own, answered by the shared API's handler.
struct LanewayServer::OllamaPort final : RequestHandler {
  explicit OllamaPort(LanewayServer& s) : server(s) {}
  BodyLimit body_limit(const http::request_header<>& header) override { return server.body_limit(header); }
  net::awaitable<void> handle(HttpExchange& ex) override {
    const std::string_view target = ex.request().target();
    const std::string_view path = target.substr(0, target.find('?'));
    if (path == "/" || path == "/api" || path.rfind("/api/", 0) == 0) {
      co_await server.handle(ex);
      co_return;
    }
    std::string body = R"json({"error":"404 page not found (this port serves Ollama's API: / and /api/...)"})json";
    co_await ex.send(http::status::not_found, std::move(body), "application/json");
  }
  LanewayServer& server;
  std::unique_ptr<HttpServer> http;
};

namespace {
// Lanes rescans may add beyond the config's (files of the model folders).
constexpr size_t kMaxRescannedLanes = 1024;
}  // namespace

LanewayServer::LanewayServer(ServeOptions options)
    : options_(std::move(options)),
      lanes_(2 * options_.config.lanes.size() + (options_.model_lanes ? kMaxRescannedLanes : 0)) {}  // lanes, twins, rescans

Result<std::unique_ptr<LanewayServer>> LanewayServer::create(ServeOptions options, const EmbeddedLanePreparer& prepare,
                                                             bool strict) {
  LANEWAY_TRY(validate_lanes_config(options.config));
  auto s = std::unique_ptr<LanewayServer>(new LanewayServer(std::move(options)));
  s->prepare_ = prepare;
  LANEWAY_ASSIGN_OR_RETURN(s->open_routes_, OpenRoutes::parse(s->options_.config.server.open_routes));
  // Keys written `env:NAME` (a Kubernetes Secret in the environment) are read
  // now; an unset variable stops the start, naming it.
  auto resolve = [](std::string& key, const std::string& where) -> Status {
    auto value = resolve_secret(key);
    if (!value.is_ok()) return value.status().with_context(where);
    key = std::move(value).value();
    return Status::ok();
  };
  for (auto& key : s->options_.config.server.api_keys) LANEWAY_TRY(resolve(key, "server.api_keys"));
  for (auto& lane : s->options_.config.lanes) {
    for (auto& key : lane.api_keys) LANEWAY_TRY(resolve(key, "lane " + lane.name + " api_keys"));
  }
  s->keys_ = KeyRing(s->options_.config);
  // server.tls: the files are read now, so a bad certificate or key stops
  // the start (with the path and OpenSSL's reason), before any lane loads.
  if (const auto& tls = s->options_.config.server.tls) {
    LANEWAY_ASSIGN_OR_RETURN(s->options_.http.tls, make_tls_server_context(tls->cert, tls->key));
  }
  const LanesConfig& config = s->options_.config;
  for (const auto& sc : config.services) {
    LANEWAY_ASSIGN_OR_RETURN(auto service, UpstreamService::create(sc));
    s->services_.push_back(std::move(service));
  }
  std::vector<PoolLaneSpec> specs;
  std::string first_error;
  size_t failed = 0;
  uint64_t overhead = 0;
  for (size_t i = 0; i < config.lanes.size(); ++i) {
    const LaneConfig& lc = config.lanes[i];
    auto lane = std::make_unique<LaneRuntime>();
    lane->index = i;
    lane->config = &lc;
    if (!lane->embedded()) {
      for (auto& svc : s->services_) {
        if (svc->name() == lc.service) lane->service = svc.get();
      }
      s->options_.log.write(spdlog::level::info, "lane",
                            fmt::format("{}: upstream, service {}{}", lc.name, lc.service,
                                        lc.upstream_model.empty() ? "" : ", model " + lc.upstream_model),
                            s->options_.log.json() ? nlohmann::ordered_json{{"lane", lc.name}, {"service", lc.service},
                                                                            {"upstream_model", lc.upstream_model}}
                                                   : nlohmann::ordered_json::object());
      s->lanes_.push_back(std::move(lane));
      continue;
    }
    PoolLaneSpec spec = s->setup_embedded(*lane, &overhead);
    if (!spec.refused.empty()) {
      ++failed;
      if (first_error.empty()) first_error = fmt::format("lane {}: {}", lc.name, spec.refused);
      std::fprintf(stderr, "laneway serve: lane %s not loaded: %s\n", lc.name.c_str(), spec.refused.c_str());
    }
    lane->pool_lane = specs.size();
    specs.push_back(std::move(spec));
    s->lanes_.push_back(std::move(lane));
  }
  if (failed > 0 && (strict || failed == config.lanes.size())) {
    return resource_exhausted_error("{}{}", failed == config.lanes.size() ? "no lane could be loaded: " : "--strict: ",
                                    first_error);
  }
  // The burst twins, after the configured lanes (see LaneRuntime::burst_twin).
  for (size_t i = 0; i < config.lanes.size(); ++i) {
    if (config.lanes[i].embedded() && config.lanes[i].burst_context_tokens > 0) s->add_burst_twin(i, specs, &overhead);
  }
  // Services that sleep in burst mode, after the lanes and twins.
  for (size_t k = 0; k < config.services.size(); ++k) {
    const ServiceConfig& sc = config.services[k];
    if (!sc.sleeps_in_burst()) continue;
    const size_t member = specs.size();
    specs.push_back(s->service_member_spec(*s->services_[k], sc));
    for (size_t i = 0; i < config.lanes.size(); ++i) {
      if (!config.lanes[i].embedded() && config.lanes[i].service == sc.name) s->lanes_[i]->service_member = member;
    }
  }
  uint64_t budget = s->options_.memory_budget_bytes;
  if (budget != UINT64_MAX) budget -= std::min(budget, overhead);
  ModelPool::Options pool_options{budget};
  pool_options.max_loaded = s->options_.debug_pool_max_loaded;
  s->pool_ = std::make_unique<ModelPool>(std::move(specs), std::move(pool_options));
  s->rebuild_router();
  s->created_unix_s_ = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  s->id_seed_ = std::random_device{}();
  s->options_.http.log = s->options_.log;  // the connection cap's warnings
  s->http_ = std::make_unique<HttpServer>(s->ioc_, *s, s->options_.http);
  for (const auto& lane : config.lanes) {
    if (!lane.listen_port) continue;
    auto port = std::make_unique<LanePort>(*s, lane.name);
    port->http = std::make_unique<HttpServer>(s->ioc_, *port, s->options_.http);
    s->lane_ports_.push_back(std::move(port));
  }
  if (s->options_.ollama_port) {
    s->ollama_port_ = std::make_unique<OllamaPort>(*s);
    s->ollama_port_->http = std::make_unique<HttpServer>(s->ioc_, *s->ollama_port_, s->options_.http);
  }
  return s;
}

namespace {

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// "lane stories260k: stories260K.gguf (llama), context 2048 tokens x 1 slot, KV f16/f16, 4 threads, ...":
// what a lane will run with, before it loads (the startup summary).
void log_embedded_lane(const ServerLog& log, const LaneConfig& lc, const GgufFile& meta, const PreparedLane& p,
                       const LaneText& text) {
  if (!log.enabled(spdlog::level::info)) return;
  const auto arch = meta.get_string("general.architecture");
  const ContextOptions& c = p.options.context;
  const int threads = c.n_threads > 0 ? c.n_threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::string gpu = p.options.load.gpu_layers == 0   ? "cpu"
                          : p.options.load.gpu_layers < 0 ? "all blocks on " + p.options.load.device
                                                          : fmt::format("{} blocks on {}", p.options.load.gpu_layers,
                                                                        p.options.load.device);
  nlohmann::ordered_json f = {{"lane", lc.name},
                              {"file", lc.model_path},
                              {"architecture", arch.is_ok() ? std::string(*arch) : "unknown"},
                              {"context_tokens", p.context_tokens},
                              {"slots", c.n_seq},
                              {"kv_types", lower(fmt::format("{}/{}", ggml_type_name(c.type_k), ggml_type_name(c.type_v)))},
                              {"threads", threads},
                              {"gpu", gpu},
                              {"memory_bytes", p.bill_bytes},
                              {"load", lc.load == LaneLoad::eager ? "eager" : "on_demand"},
                              {"chat_template", text.chat && !text.chat->uses_fallback() ? "file" : "chatml"}};
  std::string msg = fmt::format("{}: {} ({}), context {} tokens x {} slot{}, KV {}, {} threads, {}, {:.1f} MiB", lc.name,
                                std::filesystem::path(lc.model_path).filename().string(),
                                f["architecture"].get<std::string>(), p.context_tokens, c.n_seq, c.n_seq == 1 ? "" : "s",
                                f["kv_types"].get<std::string>(), threads, gpu, double(p.bill_bytes) / double(1 << 20));
  if (!text.chat || text.chat->uses_fallback()) msg += "; no chat template in the file, using ChatML";
  if (!p.refused.empty()) msg += "; refused: " + p.refused;
  // Text lines say it all in words; JSON lines carry the fields.
  log.write(p.refused.empty() ? spdlog::level::info : spdlog::level::warn, "lane", msg,
            log.json() ? f : nlohmann::ordered_json::object());
}

}  // namespace

void LanewayServer::add_burst_twin(size_t lane, std::vector<PoolLaneSpec>& specs, uint64_t* overhead_bytes) {
  const LaneConfig& lc = *lanes_[lane]->config;
  auto tc = std::make_unique<LaneConfig>(lc);
  tc->name = lc.name + "@burst";
  tc->aliases.clear();
  tc->context_tokens = lc.burst_context_tokens;
  tc->burst_context_tokens = 0;
  tc->load = LaneLoad::on_demand;
  tc->keep_alive = std::chrono::milliseconds(0);  // unloaded as soon as the burst is over
  tc->listen_port.reset();
  tc->is_default = false;
  tc->min_prompt_tokens.reset();
  auto twin = std::make_unique<LaneRuntime>();
  twin->index = lanes_.size();
  twin->own_config = std::move(tc);
  twin->config = twin->own_config.get();
  twin->burst_of = lane;
  PoolLaneSpec spec = setup_embedded(*twin, overhead_bytes);
  spec.pausable = false;  // a burst under way is not paused for another
  twin->pool_lane = specs.size();
  specs.push_back(std::move(spec));
  lanes_[lane]->burst_twin = twin->index;
  lanes_.push_back(std::move(twin));
}

PoolLaneSpec LanewayServer::service_member_spec(const UpstreamService& service, const ServiceConfig& sc) const {
  PoolLaneSpec spec;
  spec.name = sc.name;
  spec.bill_bytes = *sc.memory_budget_bytes;
  spec.max_waiting = 0;
  bool first = true;
  for (const auto& lc : options_.config.lanes) {
    if (lc.embedded() || lc.service != sc.name) continue;
    spec.priority = first ? lc.priority : std::max(spec.priority, lc.priority);  // as `plan --lanes` counts it
    spec.pausable = spec.pausable && lc.pausable;
    spec.max_waiting += lc.queue;
    first = false;
  }
  const std::chrono::milliseconds timeout = options_.request_timeout;
  const ServerLog log = options_.log;
  const UpstreamService* svc = &service;  // the server owns it, and the pool stops first
  const ServiceSleep calls = *sc.sleep;
  spec.sleep = [svc, calls, timeout, log]() -> Status {
    const auto t0 = std::chrono::steady_clock::now();
    Status st = sleep_service(*svc, calls, timeout);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (st.is_ok()) {
      log.write(spdlog::level::info, "burst", fmt::format("service {}: asleep (POST {}, {:.2f} s)", svc->name(), calls.sleep_target(), secs),
                {{"service", svc->name()}, {"event", "sleep"}, {"seconds", secs}});
    } else {
      log.write(spdlog::level::warn, "burst", fmt::format("service {}: the sleep call failed, nothing freed: {}", svc->name(), st.message()),
                {{"service", svc->name()}, {"event", "sleep_failed"}, {"error", st.message()}});
    }
    return st;
  };
  spec.wake = [svc, calls, timeout, log](bool after_sleep) -> Status {
    const auto t0 = std::chrono::steady_clock::now();
    bool woke = false;
    Status st = wake_service(*svc, calls, after_sleep, timeout, &woke);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!st.is_ok()) {
      log.write(spdlog::level::warn, "burst", fmt::format("service {}: the wake calls failed: {}", svc->name(), st.message()),
                {{"service", svc->name()}, {"event", "wake_failed"}, {"error", st.message()}});
    } else if (woke) {
      log.write(spdlog::level::info, "burst", fmt::format("service {}: awake ({:.2f} s)", svc->name(), secs),
                {{"service", svc->name()}, {"event", "wake"}, {"seconds", secs}});
    }
    return st;
  };
  return spec;
}

PoolLaneSpec LanewayServer::setup_embedded(LaneRuntime& lane, uint64_t* overhead_bytes) {
  const LaneConfig& lc = *lane.config;
  PoolLaneSpec spec;
  spec.name = lc.name;
  spec.model_path = lc.model_path;
  spec.on_demand = lc.load == LaneLoad::on_demand;
  spec.keep_alive = lc.idle_unload_after();
  spec.priority = lc.priority;
  spec.pausable = lc.pausable;
  spec.preempt_on_pause = lc.on_pause == OnPause::preempt;
  spec.max_waiting = lc.slots + lc.queue;
  auto setup = [&]() -> Status {
    LANEWAY_ASSIGN_OR_RETURN(GgufFile meta, GgufFile::open(lc.model_path));
    LANEWAY_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::from_gguf(meta));
    auto text = std::make_shared<LaneText>(LaneText{std::move(tok), nullptr, 0});
    LANEWAY_ASSIGN_OR_RETURN(text->chat, ChatPrompt::for_meta(meta, text->tokenizer));
    LANEWAY_ASSIGN_OR_RETURN(PreparedLane prepared, prepare_(lc));
    text->context_tokens = prepared.context_tokens;
    spec.bill_bytes = prepared.bill_bytes;
    spec.refused = prepared.refused;
    log_embedded_lane(options_.log, lc, meta, prepared, *text);
    if (overhead_bytes) *overhead_bytes = std::max(*overhead_bytes, prepared.overhead_bytes);
    spec.start = [opts = std::move(prepared.options), admit = std::move(prepared.admit)](
                     const LoadProgressFn& progress) -> Result<std::unique_ptr<EmbeddedLane>> {
      if (admit) LANEWAY_TRY(admit());
      EmbeddedLaneOptions o = opts;
      o.load.progress = progress;
      return EmbeddedLane::start(o);
    };
    lane.set_text(std::move(text));
    return Status::ok();
  };
  const auto stamp = file_stamp(lc.model_path);  // before reading: a change meanwhile is seen next time
  lane.file_mtime_ns = stamp ? stamp->first : 0;
  lane.file_size = stamp ? int64_t(stamp->second) : -1;
  if (Status st = setup(); !st.is_ok()) {
    spec.refused = st.message();
    options_.log.write(spdlog::level::warn, "lane", fmt::format("{}: {}: {}", lc.name, lc.model_path, st.message()),
                       {{"lane", lc.name}, {"file", lc.model_path}, {"error", st.message()}});
  }
  return spec;
}

LanewayServer::~LanewayServer() {
  shutdown(std::chrono::milliseconds(0));
  // The pool goes first: engine threads may still post events to the io_context.
  pool_.reset();
}

LaneState LanewayServer::lane_state(size_t i) const {
  const LaneRuntime& l = *lanes_[i];
  if (!l.embedded()) {
    // A service that sleeps in burst mode: paused, waking, ... as its member is.
    if (l.service_member) {
      if (const LaneState st = pool_->status(*l.service_member).state; st != LaneState::ready) return st;
    }
    return l.service->healthy() ? LaneState::ready : LaneState::unhealthy;
  }
  return pool_->status(*l.pool_lane).state;
}

std::string LanewayServer::lane_error(size_t i) const {
  const LaneRuntime& l = *lanes_[i];
  if (!l.embedded()) {
    if (l.service_member) {
      const LaneStatus st = pool_->status(*l.service_member);
      if (st.state != LaneState::ready) return st.error;
    }
    return l.service->healthy() ? "" : l.service->last_error();
  }
  const LaneStatus st = pool_->status(*l.pool_lane);
  return st.state == LaneState::ready ? "" : st.error;
}

bool LanewayServer::lanes_settled() const {
  for (size_t i = 0; i < lanes_.size(); ++i) {
    if (lanes_[i]->embedded() && lane_state(i) == LaneState::loading) return false;
  }
  return true;
}

std::string LanewayServer::lanes_summary() const {
  std::string out;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    if (lanes_[i]->hidden()) continue;
    const LaneState st = lane_state(i);
    out += fmt::format("{}{} {}", out.empty() ? "" : ", ", lanes_[i]->config->name, lane_state_name(st));
    if (st == LaneState::ready && lanes_[i]->embedded()) {
      out += fmt::format(" ({:.2f} s)", pool_->status(*lanes_[i]->pool_lane).last_load_seconds);
    }
    if (st == LaneState::failed) out += " (" + lane_error(i) + ")";
  }
  return out;
}

bool LanewayServer::lane_available(size_t i) const {
  const LaneState st = lane_state(i);
  return st == LaneState::ready || (lanes_[i]->embedded() && st == LaneState::unloaded);
}

bool LanewayServer::lane_coming(size_t i) const {
  if (!lanes_[i]->embedded()) {
    // A sleeping service is woken once the burst is over, and one that did
    // not wake is tried again by the request; an unhealthy one may never come back.
    if (!lanes_[i]->service_member) return false;
    const LaneState st = lane_state(i);
    return st == LaneState::loading || st == LaneState::draining || st == LaneState::paused ||
           st == LaneState::restoring || st == LaneState::failed;
  }
  switch (lane_state(i)) {
    case LaneState::loading:
    case LaneState::draining:
    case LaneState::paused:
    case LaneState::restoring:
    case LaneState::unloaded:
    case LaneState::ready: return true;
    case LaneState::unhealthy:
    case LaneState::failed: return false;
  }
  return false;
}

net::awaitable<LanewayServer::Acquired> LanewayServer::acquire_lane(HttpExchange& ex, const LaneRuntime& lane,
                                                                     net::steady_timer::time_point deadline) {
  // The pool answers from its own thread; the answer is posted to this
  // connection's strand, where it wakes the wait by cancelling the timer.
  struct Waiting {
    explicit Waiting(net::any_io_executor ex) : timer(ex) {}
    net::steady_timer timer;
    std::optional<Result<LaneLease>> answer;
  };
  auto w = std::make_shared<Waiting>(ex.executor());
  const size_t pool_lane = lane.pool_lane ? *lane.pool_lane : *lane.service_member;
  const uint64_t ticket = pool_->acquire(pool_lane, [w, strand = ex.executor()](Result<LaneLease> r) {
    auto boxed = std::make_shared<Result<LaneLease>>(std::move(r));
    net::post(strand, [w, boxed] {
      w->answer.emplace(std::move(*boxed));
      w->timer.cancel();
    });
  });
  Acquired out;
  while (!w->answer) {
    if (net::steady_timer::clock_type::now() >= deadline) break;
    w->timer.expires_at(deadline);
    if (!co_await ex.wait_or_disconnect(w->timer)) break;
  }
  if (!w->answer) {
    pool_->cancel_wait(pool_lane, ticket);  // a lease that still arrives is released with `w`
    const std::string why = lane_error(lane.index);
    out.error = ex.client_gone() ? unavailable("the client left", 1)
                                 : unavailable(fmt::format("lane '{}' did not become ready within {} ms ({}{})",
                                                           lane.config->name, options_.request_timeout.count(),
                                                           lane_state_name(lane_state(lane.index)),
                                                           why.empty() ? "" : ": " + why),
                                               5);
    co_return out;
  }
  Result<LaneLease>& r = *w->answer;
  if (r.is_ok()) {
    out.lease = std::move(r).value();
  } else {
    out.error = unavailable(r.status().message(), 5);  // refused or failed: 503, retry later
  }
  co_return out;
}

Status LanewayServer::listen() {
  const auto& server = options_.config.server;
  LANEWAY_TRY(http_->listen(server.host, server.port));
  for (auto& port : lane_ports_) {
    const LaneConfig* lane = options_.config.find_lane(port->prefix.substr(7));
    LANEWAY_TRY(port->http->listen(server.host, *lane->listen_port).with_context("lane " + lane->name + " listen"));
  }
  if (ollama_port_) {
    LANEWAY_TRY(ollama_port_->http->listen(server.host, *options_.ollama_port).with_context("--ollama-port listen"));
  }
  return Status::ok();
}

int LanewayServer::port() const { return http_->port(); }
int LanewayServer::ollama_port() const { return ollama_port_ ? ollama_port_->http->port() : 0; }

void LanewayServer::start() {
  work_.emplace(ioc_.get_executor());
  http_->start();
  for (auto& port : lane_ports_) port->http->start();
  if (ollama_port_) ollama_port_->http->start();
  for (auto& service : services_) {
    for (size_t r = 0; r < service->replicas().size(); ++r) {
      net::co_spawn(net::make_strand(ioc_), upstream_health_loop(*service, r, options_.health_interval, stopping_),
                    net::detached);
    }
  }
  if (!services_.empty()) {
    net::co_spawn(net::make_strand(ioc_), sweep_idle_connections(upstream_connections_, stopping_), net::detached);
  }
  const int n = std::max(1, options_.http_threads);
  for (int i = 0; i < n; ++i) threads_.emplace_back([this] { ioc_.run(); });
  pool_->start();
}

void LanewayServer::shutdown(std::chrono::milliseconds grace) {
  if (shut_down_ || !pool_) return;  // (no pool: create() failed before starting anything)
  shut_down_ = true;
  stopping_ = true;
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + grace;
  if (!threads_.empty()) {
    http_->stop_accepting();
    for (auto& port : lane_ports_) port->http->stop_accepting();
    if (ollama_port_) ollama_port_->http->stop_accepting();
    // Queued requests are refused now (503 with Retry-After): the grace
    // period is spent on the running ones, not on requests that never started.
    pool_->begin_shutdown();
    for (auto& engine : pool_->engines()) engine->begin_shutdown(grace.count());
    auto busy = [&] {
      int64_t n = http_->active_requests();
      for (auto& port : lane_ports_) n += port->http->active_requests();
      if (ollama_port_) n += ollama_port_->http->active_requests();
      return n;
    };
    while (busy() > 0 && clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    // Out of grace: engines cancel what is left; their last events still reach the clients.
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    pool_->shutdown(std::max<int64_t>(0, left.count()));
    const auto flush_deadline = clock::now() + std::chrono::seconds(2);
    while (busy() > 0 && clock::now() < flush_deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  } else {
    pool_->shutdown(0);
  }
  blocking_.join();  // a rescan or a hash that was running
}

std::optional<size_t> LanewayServer::lane_index(std::string_view name) const {
  for (size_t i = 0; i < lanes_.size(); ++i) {
    if (lanes_[i]->config->name == name && !lanes_[i]->hidden()) return i;
  }
  return std::nullopt;
}

Credentials LanewayServer::credentials(const HttpRequest& req) const {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return keys_.identify(std::nullopt);
  return keys_.identify(it->value());
}

bool LanewayServer::key_allows(const RouteMatch& route, const Credentials& who) const {
  if (!keys_.enabled()) return true;
  switch (route_key_scope(route, open_routes_)) {
    case KeyScope::none: return true;
    case KeyScope::server: return keys_.opens_server(who);
    case KeyScope::any: return keys_.opens_any(who);
    case KeyScope::lane: return keys_.opens_lane(who, lane_index(route.lane));
  }
  return false;
}

std::string LanewayServer::key_refusal(const Credentials& who) {
  return who.presented ? "Invalid API key" : "Missing API key: send 'Authorization: Bearer <key>'";
}

void LanewayServer::count(const std::string& lane, std::string_view route, int status) {
  // A guard, not the rule: callers pass labels from route_table.h, and a
  // slip must not turn request text into an unbounded set of series.
  const auto& labels = route_labels();
  if (std::find(labels.begin(), labels.end(), route) == labels.end()) route = "unknown";
  metrics_.count_request(lane, std::string(route), status);
}

std::string LanewayServer::next_id(std::string_view prefix) {
  const uint64_t n = id_counter_.fetch_add(1) + 1;
  return fmt::format("{}-{:08x}{:08x}", prefix, static_cast<uint32_t>(id_seed_ ^ (n * 0x9E3779B97F4A7C15ull >> 17)), n);
}

RequestHandler::BodyLimit LanewayServer::body_limit(const http::request_header<>& header) {
  const auto& config = options_.config;
  std::string_view path = header.target();
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (path.rfind("/lanes/", 0) == 0) {
    std::string_view rest = path.substr(7);
    const auto name = rest.substr(0, rest.find('/'));
    if (const LaneConfig* lane = config.find_lane(name)) return {config.max_body_bytes_for(*lane), lane->name};
  }
  // The shared API does not know the lane before reading the body: the
  // largest limit of any lane applies now, the lane's own after routing.
  uint64_t limit = config.server.max_body_bytes;
  for (const auto& lane : config.lanes) limit = std::max(limit, config.max_body_bytes_for(lane));
  return {limit, ""};
}

net::awaitable<void> LanewayServer::handle(HttpExchange& ex) {
  const auto t0 = std::chrono::steady_clock::now();
  co_await dispatch(ex);
  if (!options_.log.enabled(spdlog::level::info)) co_return;
  const HttpRequest& req = ex.request();
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const RouteMatch route = match_route(path, path.size() < target.size() ? target.substr(path.size() + 1) : "");
  const auto& note = ex.access_note();
  AccessRecord r;
  r.method = std::string(req.method_string());
  r.path = std::string(path);
  r.route = std::string(route.label);
  r.lane = !note.lane.empty() ? note.lane : lane_index(route.lane) ? std::string(route.lane) : "";
  r.status = ex.status_code();
  r.prompt_tokens = note.prompt_tokens;
  r.generated_tokens = note.generated_tokens;
  r.time_to_first_token_ms = note.time_to_first_token_s >= 0 ? note.time_to_first_token_s * 1000 : -1;
  r.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  log_access(options_.log, r);
}

net::awaitable<void> LanewayServer::dispatch(HttpExchange& ex) {
  const HttpRequest& req = ex.request();
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  const std::string_view query = path.size() < target.size() ? target.substr(path.size() + 1) : std::string_view();
  const auto method = req.method();
  const std::string method_text(req.method_string());
  const std::string path_text(path);
  const ApiError wrong_method = method_not_allowed(method_text, path_text);
  const RouteMatch route = match_route(path, query);
  // Counted under the route's template label, never the request's own text.
  const std::string label(route.label);
  const std::string no_lane;
  // (No temporaries in co_await/co_return expressions below: GCC 12 destroys
  // some of them twice inside coroutines.)
  auto finish = [&](const std::string& lane) { count(lane, label, ex.status_code()); };

  if (stopping_) {
    const ApiError e = unavailable("the server is shutting down", 5);
    co_await ex.send_error(e);
    count(no_lane, "shutdown", ex.status_code());
    co_return;
  }
  // Browsers (server.cors_origins): an allowed origin may read every answer;
  // its preflight is answered before the key check (browsers send no key there).
  const auto origin = req.find(http::field::origin);
  bool origin_allowed = false;
  if (origin != req.end()) {
    const std::string_view o = origin->value();
    for (const auto& allowed : options_.config.server.cors_origins) origin_allowed |= allowed == "*" || allowed == o;
    if (origin_allowed) {
      ex.add_header(http::field::access_control_allow_origin, std::string(o));
      ex.add_header(http::field::vary, "Origin");
    }
  }
  if (method == http::verb::options && origin != req.end() &&
      req.find(http::field::access_control_request_method) != req.end()) {
    if (!origin_allowed) {
      ApiError e;
      e.http_status = 403;
      e.code = "origin_not_allowed";
      e.message = "origin " + std::string(origin->value()) + " is not allowed (server.cors_origins)";
      co_await ex.send_error(e);
    } else {
      ex.add_header(http::field::access_control_allow_methods, "GET, POST, HEAD, OPTIONS");
      ex.add_header(http::field::access_control_allow_headers, "Authorization, Content-Type");
      ex.add_header(http::field::access_control_max_age, "600");
      co_await ex.send(http::status::no_content, "", "text/plain");
    }
    co_return count(no_lane, "preflight", ex.status_code());
  }
  if (route.id == RouteId::unknown) {
    const ApiError e = not_found("Unknown route " + std::string(path), "unknown_route");
    co_await ex.send_error(e);
    co_return finish(no_lane);
  }
  // The status page: /ui, and / for a browser (it asks for HTML; Ollama's clients do not).
  const auto accept = req.find(http::field::accept);
  const bool wants_html = accept != req.end() && accept->value().find("text/html") != std::string_view::npos;
  if (route.id == RouteId::ui || (route.id == RouteId::ollama_root && method == http::verb::get && wants_html)) {
    if (method != http::verb::get && method != http::verb::head) {
      co_await ex.send_error(wrong_method);
    } else {
      std::string page(status_page_html());
      co_await ex.send(http::status::ok, std::move(page), "text/html; charset=utf-8");
    }
    co_return count(no_lane, "/ui", ex.status_code());
  }
  if (route.id == RouteId::ollama_root || route.id == RouteId::ollama_api) {
    co_await route_ollama(ex, route);  // keys, errors and metrics in Ollama's shape
    co_return;
  }
  // The key comes before anything that tells whether a lane exists.
  const Credentials who = credentials(req);
  if (!key_allows(route, who)) {
    const ApiError e = unauthorized(key_refusal(who));
    co_await ex.send_error(e);
    co_return finish(no_lane);
  }
  std::optional<size_t> lane;
  if (!route.lane.empty()) {
    lane = lane_index(route.lane);
    if (!lane) {
      const ApiError e = not_found("No lane named '" + std::string(route.lane) + "'", "lane_not_found");
      co_await ex.send_error(e);
      co_return finish(no_lane);
    }
  }
  const std::optional<size_t> url_lane = route.lane_from_url ? lane : std::nullopt;
  const bool is_get = method == http::verb::get || method == http::verb::head;

  switch (route.id) {
    case RouteId::liveness:
    case RouteId::readiness:
      if (!is_get) co_await ex.send_error(wrong_method);
      else co_await route_health(ex, lane, !route.lane_from_url);
      co_return finish(no_lane);
    case RouteId::metrics:
      if (method != http::verb::get) co_await ex.send_error(wrong_method);
      else co_await route_metrics(ex);
      co_return finish(no_lane);
    case RouteId::lane_control:
      if (method != http::verb::post) co_await ex.send_error(wrong_method);
      else co_await route_lane_control(ex, *lane, route.action);
      co_return finish(no_lane);
    case RouteId::models:
    case RouteId::lanes:
      if (method != http::verb::get) co_await ex.send_error(wrong_method);
      else if (route.id == RouteId::models) co_await route_models(ex, url_lane, who);
      else co_await route_lanes(ex);
      co_return finish(no_lane);
    case RouteId::chat:
    case RouteId::completions:
      if (method != http::verb::post) {
        co_await ex.send_error(wrong_method);
        co_return finish(no_lane);
      }
      co_await route_generation(ex, route.api_path, url_lane, who);  // counts itself, with its lane
      co_return;
    case RouteId::lane_api:
      // Other OpenAI routes (embeddings, ...) exist only on upstream lanes reached by URL.
      if (!lanes_[*url_lane]->embedded()) {
        LaneRuntime& l = *lanes_[*url_lane];
        const std::string no_model;
        std::optional<ApiError> error;
        LaneLease member;  // a sleeping service's member, as on the generation routes
        if (l.service_member && (lane_available(l.index) || lane_coming(l.index))) {
          Acquired acquired = co_await acquire_lane(ex, l, net::steady_timer::clock_type::now() + options_.request_timeout);
          member = std::move(acquired.lease);
          error = acquired.error;
        }
        if (!error && lane_available(l.index)) {
          co_await proxy_to_upstream(ex, l, route.api_path, req.body(), no_model, false);
        }
        if (!ex.responded() && !ex.client_gone()) {
          co_await ex.send_error(error ? *error
                                       : unavailable(fmt::format("lane '{}' is {}: {}", l.config->name,
                                                                 lane_state_name(lane_state(l.index)), lane_error(l.index)),
                                                     5));
        }
        co_return finish(l.config->name);
      }
      break;
    case RouteId::unknown_api:
    case RouteId::unknown:
    case RouteId::ui:
    case RouteId::ollama_root:
    case RouteId::ollama_api:
      break;
  }
  const ApiError e = not_found(route.lane_from_url && route.id == RouteId::unknown_api
                                   ? "Unknown route " + std::string(path) + " (a lane serves /health and /v1/...)"
                                   : "Unknown route " + std::string(path),
                               "unknown_route");
  co_await ex.send_error(e);
  count(no_lane, "unknown", ex.status_code());
}

}  // namespace laneway::server
