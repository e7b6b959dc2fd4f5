// Liveness, readiness, the model list, the lane list and /metrics.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "server/laneway_server.h"

namespace laneway::server {

using json = nlohmann::json;

// (JSON is built in plain functions: GCC 12 miscompiles some braced
// initializers inside coroutines, "array used as initializer".)
namespace {
// Readiness (LANES.md): 200 for ready and unloaded (a request loads it), 503 otherwise.
bool ready_state(LaneState s) { return s == LaneState::ready || s == LaneState::unloaded; }

std::string draining_json(const std::string& lane) {
  return json{{"status", "draining"}, {"lane", lane}, {"state", "draining"}, {"error", "the server is shutting down"}}
      .dump();
}

// Each replica of a service: its URL, health, load and, while unhealthy, why
// and how long until it is probed again at most (the backoff).
json replicas_json(const UpstreamService& s) {
  json out = json::array();
  for (const auto& r : s.replicas()) {
    const bool healthy = r->healthy();
    json item = {{"url", r->url_text()},
                 {"healthy", healthy},
                 {"outstanding", r->outstanding()},
                 {"requests_total", r->requests()},
                 {"failures_total", r->request_failures()},
                 {"ejections_total", r->ejections()}};
    const std::string err = healthy ? std::string() : r->last_error();
    item["last_error"] = err.empty() ? json(nullptr) : json(err);
    item["backoff_ms"] = healthy ? json(nullptr) : json(r->backoff().count());
    out.push_back(std::move(item));
  }
  return out;
}
}  // namespace

std::string LanewayServer::lane_health_json(size_t lane) const {
  const LaneRuntime& l = *lanes_[lane];
  const LaneState st = lane_state(lane);
  const std::string state(lane_state_name(st));
  json body = {{"status", ready_state(st) ? "ok" : state}, {"lane", l.config->name}, {"state", state}};
  if (!ready_state(st)) {
    if (const std::string why = lane_error(lane); !why.empty()) body["error"] = why;
  }
  if (l.service) {
    body["service"] = l.service->name();
    body["healthy_replicas"] = l.service->healthy_replicas();
    body["replicas"] = replicas_json(*l.service);
  }
  return body.dump();
}

net::awaitable<void> LanewayServer::route_health(HttpExchange& ex, std::optional<size_t> lane, bool lane_from_query) {
  (void)lane_from_query;
  if (!lane) {
    // Liveness: the process listens and has read its config. It never turns
    // 503 because one upstream is down (orchestrators would restart a healthy process).
    co_await ex.send_json(http::status::ok, std::string(R"({"status":"ok"})"));
    co_return;
  }
  if (draining_) {
    // The server is going away: the load balancer should stop sending here.
    const std::string body = draining_json(lanes_[*lane]->config->name);
    co_await ex.send(http::status::service_unavailable, body, "application/json", 5);
    co_return;
  }
  if (ready_state(lane_state(*lane))) {
    co_await ex.send_json(http::status::ok, lane_health_json(*lane));
  } else {
    co_await ex.send(http::status::service_unavailable, lane_health_json(*lane), "application/json", 5);
  }
}

net::awaitable<void> LanewayServer::route_models(HttpExchange& ex, std::optional<size_t> lane, const Credentials& who) {
  if (!lane) co_await rescan_models(/*now=*/false);  // model files added or removed since show now
  co_await ex.send_json(http::status::ok, models_json(lane, who));
}

std::string LanewayServer::models_json(std::optional<size_t> lane, const Credentials& who) const {
  json data = json::array();
  for (const auto& l : lanes_) {
    if (lane && l->index != *lane) continue;
    if (l->hidden()) continue;
    if (!keys_.opens_lane(who, l->index)) continue;  // a lane key lists its own lanes (and the open ones)
    auto entry = [&](const std::string& id) {
      return json{{"id", id}, {"object", "model"}, {"created", created_unix_s_}, {"owned_by", "laneway"},
                  {"lane", l->config->name}, {"ready", lane_state(l->index) == LaneState::ready}};
    };
    data.push_back(entry(l->config->name));
    for (const auto& alias : l->config->aliases) data.push_back(entry(alias));
  }
  return json{{"object", "list"}, {"data", data}}.dump();
}

namespace {

// Burst mode's part of a lane in /v1/lanes: who it lent its memory to, how
// much, and when it came back.
json burst_json(const LaneStatus& st, const PoolLaneSpec& spec) {
  json burst = {{"paused_by", st.paused_by.empty() ? json(nullptr) : json(st.paused_by)},
                {"lent_bytes", st.state == LaneState::paused ? spec.bill_bytes : 0}};
  burst["resumed_at_unix_s"] =
      st.resumed_at
          ? json(std::chrono::duration_cast<std::chrono::seconds>(st.resumed_at->time_since_epoch()).count())
          : json(nullptr);
  return burst;
}

}  // namespace

std::optional<size_t> LanewayServer::service_member_of(const UpstreamService& service) const {
  for (const auto& l : lanes_) {
    if (l->service == &service && l->service_member) return l->service_member;
  }
  return std::nullopt;
}

net::awaitable<void> LanewayServer::route_lanes(HttpExchange& ex) { co_await ex.send_json(http::status::ok, lanes_json()); }

std::string LanewayServer::lanes_json() const {
  json data = json::array();
  for (const auto& l : lanes_) {
    if (l->hidden()) continue;
    const LaneConfig& c = *l->config;
    const LaneState state = lane_state(l->index);
    json item = {{"name", c.name},
                 {"kind", l->embedded() ? "embedded" : "upstream"},
                 {"state", lane_state_name(state)},
                 {"ready", state == LaneState::ready},
                 {"aliases", c.aliases},
                 {"priority", c.priority},
                 {"default", c.is_default},
                 {"fallback", c.fallback.empty() ? json(nullptr) : json(c.fallback)},
                 {"max_body_bytes", options_.config.max_body_bytes_for(c)}};
    if (c.min_prompt_tokens) item["min_prompt_tokens"] = *c.min_prompt_tokens;
    if (l->embedded()) {
      const LaneStatus st = pool_->status(*l->pool_lane);
      const PoolLaneSpec spec = pool_->spec(*l->pool_lane);
      item["model"] = c.model_path;
      const auto lt = l->text();
      item["context_tokens"] = lt ? json(lt->context_tokens) : json(nullptr);
      item["load"] = c.load == LaneLoad::eager ? "eager" : "on_demand";
      const auto ka = spec.keep_alive.count();
      item["keep_alive_ms"] = ka < 0 ? json(nullptr) : json(ka);
      item["pool"] = {{"bill_bytes", spec.bill_bytes}, {"resident", st.resident}, {"waiting", st.waiting},
                      {"loads", st.loads}, {"unloads", st.unloads}, {"last_load_seconds", st.last_load_seconds},
                      {"last_unload_seconds", st.last_unload_seconds}};
      if (!st.paused_by.empty() || st.resumed_at) item["burst"] = burst_json(st, spec);
      if (st.expires_at) {
        item["pool"]["expires_in_ms"] = std::max<int64_t>(
            0, std::chrono::duration_cast<std::chrono::milliseconds>(*st.expires_at - std::chrono::system_clock::now()).count());
      }
      if (state == LaneState::loading) {
        item["loading"] = {{"bytes_done", st.progress.done_bytes}, {"bytes_total", st.progress.total_bytes}};
      }
      item["slots"] = c.slots;
      item["queue_capacity"] = c.queue;
      item["tokens"] = {{"prompt_total", st.stats.prompt_tokens_total},
                        {"generated_total", st.stats.generated_tokens_total}};
      if (st.resident) {
        const LaneStats& s = st.stats;
        item["busy_slots"] = s.busy_slots;
        item["queue_depth"] = s.queue_depth;
        item["memory"] = {{"weight_bytes", s.weight_bytes}, {"kv_bytes", s.kv_bytes},
                          {"kv_cells_used", s.kv_cells_used}, {"kv_cells_total", s.kv_cells_total}};
        if (s.prefill_tokens_total > 0) {
          item["prefill"] = {{"tokens_done", s.prefill_tokens_total - s.prefill_tokens_pending},
                             {"tokens_total", s.prefill_tokens_total}};
        }
      } else {
        item["busy_slots"] = 0;
        item["queue_depth"] = st.waiting;
      }
      item["last_error"] = st.error.empty() ? json(nullptr) : json(st.error);
    } else if (l->service) {
      const std::string err = l->service->last_error();
      item["upstream"] = {{"service", l->service->name()}, {"url", l->service->url_text()},
                          {"upstream_model", c.upstream_model.empty() ? json(nullptr) : json(c.upstream_model)},
                          {"healthy", l->service->healthy()}};
      item["upstream"]["urls"] = json::array();
      for (const auto& r : l->service->replicas()) item["upstream"]["urls"].push_back(r->url_text());
      item["upstream"]["affinity"] = l->service->affinity() == ServiceAffinity::prefix ? "prefix" : "none";
      item["upstream"]["balance"] = "least_busy";
      item["upstream"]["retries_total"] = l->service->retries();
      item["upstream"]["replicas"] = replicas_json(*l->service);
      item["context_tokens"] = c.context_tokens > 0 ? json(c.context_tokens) : json(nullptr);
      item["last_error"] = err.empty() ? json(nullptr) : json(err);
      if (l->service_member) {
        // The service sleeps in burst mode: its member in the pool.
        const LaneStatus st = pool_->status(*l->service_member);
        const PoolLaneSpec spec = pool_->spec(*l->service_member);
        item["pool"] = {{"bill_bytes", spec.bill_bytes}, {"resident", st.resident}, {"waiting", st.waiting},
                        {"sleeps", st.unloads}, {"wakes", st.loads}};
        if (!st.paused_by.empty() || st.resumed_at) item["burst"] = burst_json(st, spec);
        if (const std::string why = lane_error(l->index); !why.empty()) item["last_error"] = why;
      }
    }
    data.push_back(std::move(item));
  }
  const PoolStatus ps = pool_->pool_status();
  json pool = {{"resident_bytes", ps.resident_bytes}};
  pool["budget_bytes"] = ps.budget_bytes == UINT64_MAX ? json(nullptr) : json(ps.budget_bytes);
  // What else holds memory in the map (the status page draws it).
  json services = json::array();
  for (const auto& sc : options_.config.services) {
    json svc = {{"name", sc.name}, {"memory_budget_bytes", sc.memory_budget_bytes ? json(*sc.memory_budget_bytes) : json(nullptr)}};
    for (const auto& up : services_) {
      if (up->name() == sc.name) {
        svc["healthy"] = up->healthy();
        svc["replicas"] = replicas_json(*up);
      }
    }
    services.push_back(std::move(svc));
  }
  json out = {{"object", "list"}, {"data", data}, {"pool", pool}, {"services", services}};
  if (const auto& m = options_.config.machine) {
    out["machine"] = {{"reserve_os_bytes", m->reserve_os_bytes ? json(*m->reserve_os_bytes) : json(nullptr)},
                      {"reserve_other_bytes", m->reserve_other_bytes ? json(*m->reserve_other_bytes) : json(nullptr)}};
  }
  return out.dump();
}

net::awaitable<void> LanewayServer::route_lane_control(HttpExchange& ex, size_t lane, std::string_view action) {
  const LaneRuntime& l = *lanes_[lane];
  if (!l.embedded()) {
    const ApiError e = bad_request(fmt::format("lane '{}' is an upstream lane: Laneway does not load or unload it",
                                               l.config->name));
    co_await ex.send_error(e);
    co_return;
  }
  if (action == "unload") {
    pool_->unload(*l.pool_lane);
  } else if (const LaneStatus st = pool_->status(*l.pool_lane); !st.resident && st.state == LaneState::failed) {
    // Read the file and plan the lane again: it may have been fixed or
    // memory freed since. Off the io thread, and not beside a rescan.
    co_await off_io([&] {
      std::lock_guard<std::mutex> lock(rescan_mu_);
      pool_->replace(*l.pool_lane, setup_embedded(*lanes_[lane], nullptr));
      return 0;
    });
  } else {
    pool_->reload(*l.pool_lane);
  }
  co_await ex.send(http::status::accepted, lane_health_json(lane), "application/json");
}

net::awaitable<void> LanewayServer::route_metrics(HttpExchange& ex) {
  co_await ex.send(http::status::ok, metrics_text(), "text/plain; version=0.0.4; charset=utf-8");
}

std::string LanewayServer::metrics_text() const {
  std::vector<LaneGauges> lanes;
  for (const auto& l : lanes_) {
    const bool embedded = l->embedded();
    LaneGauges g;
    g.lane = l->config->name;
    g.kind = embedded ? "embedded" : "upstream";
    const LaneState state = lane_state(l->index);
    g.ready = state == LaneState::ready;
    g.state = std::string(lane_state_name(state));
    if (embedded) {
      const LaneStatus st = pool_->status(*l->pool_lane);
      g.stats = st.stats;
      g.loads = st.loads;
      g.unloads = st.unloads;
      g.resident_bytes = st.resident ? pool_->spec(*l->pool_lane).bill_bytes : 0;
    }
    lanes.push_back(std::move(g));
  }
  std::vector<ServiceGauges> services;
  for (const auto& s : services_) {
    ServiceGauges g{s->name(), s->healthy(), s->checks(), s->failures()};
    g.retries = s->retries();
    if (const auto member = service_member_of(*s)) {
      const LaneStatus st = pool_->status(*member);
      g.sleeps = true;
      g.asleep = !st.resident;
      g.sleeps_total = st.unloads;
      g.wakes_total = st.loads;
    }
    for (const auto& r : s->replicas()) {
      g.replicas.push_back({r->url_text(), r->healthy(), r->outstanding(), r->requests(), r->request_failures(),
                            r->ejections(), r->checks(), r->check_failures()});
    }
    services.push_back(std::move(g));
  }
  return metrics_.render(lanes, services);
}

}  // namespace laneway::server
