// Liveness, readiness, the model list, the lane list and /metrics.
#include <nlohmann/json.hpp>

#include "server/laneway_server.h"

namespace laneway::server {

using json = nlohmann::json;

// (JSON is built in plain functions: GCC 12 miscompiles some braced
// initializers inside coroutines, "array used as initializer".)
std::string LanewayServer::lane_health_json(size_t lane) const {
  const LaneRuntime& l = *lanes_[lane];
  json body = {{"status", l.available() ? "ok" : l.state()}, {"lane", l.config->name}, {"state", l.state()}};
  if (!l.available() && (!l.embedded() || !l.load_error.empty())) body["error"] = l.error();
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
  if (lanes_[*lane]->available()) {
    co_await ex.send_json(http::status::ok, lane_health_json(*lane));
  } else {
    co_await ex.send(http::status::service_unavailable, lane_health_json(*lane), "application/json", 5);
  }
}

net::awaitable<void> LanewayServer::route_models(HttpExchange& ex, std::optional<size_t> lane) {
  co_await ex.send_json(http::status::ok, models_json(lane));
}

std::string LanewayServer::models_json(std::optional<size_t> lane) const {
  json data = json::array();
  for (const auto& l : lanes_) {
    if (lane && l->index != *lane) continue;
    auto entry = [&](const std::string& id) {
      return json{{"id", id}, {"object", "model"}, {"created", created_unix_s_}, {"owned_by", "laneway"},
                  {"lane", l->config->name}, {"ready", l->available()}};
    };
    data.push_back(entry(l->config->name));
    for (const auto& alias : l->config->aliases) data.push_back(entry(alias));
  }
  return json{{"object", "list"}, {"data", data}}.dump();
}

net::awaitable<void> LanewayServer::route_lanes(HttpExchange& ex) { co_await ex.send_json(http::status::ok, lanes_json()); }

std::string LanewayServer::lanes_json() const {
  json data = json::array();
  for (const auto& l : lanes_) {
    const LaneConfig& c = *l->config;
    json item = {{"name", c.name},
                 {"kind", l->embedded() ? "embedded" : "upstream"},
                 {"state", l->state()},
                 {"ready", l->available()},
                 {"aliases", c.aliases},
                 {"priority", c.priority},
                 {"default", c.is_default},
                 {"fallback", c.fallback.empty() ? json(nullptr) : json(c.fallback)},
                 {"max_body_bytes", options_.config.max_body_bytes_for(c)}};
    if (c.min_prompt_tokens) item["min_prompt_tokens"] = *c.min_prompt_tokens;
    if (l->engine) {
      const LaneStats s = l->engine->stats();
      item["model"] = c.model_path;
      item["context_tokens"] = l->engine->context_per_slot();
      item["slots"] = s.slots;
      item["busy_slots"] = s.busy_slots;
      item["queue_depth"] = s.queue_depth;
      item["queue_capacity"] = s.queue_capacity;
      item["memory"] = {{"weight_bytes", s.weight_bytes}, {"kv_bytes", s.kv_bytes},
                        {"kv_cells_used", s.kv_cells_used}, {"kv_cells_total", s.kv_cells_total}};
      item["last_error"] = nullptr;
    } else if (l->embedded()) {
      item["model"] = c.model_path;
      item["last_error"] = l->load_error.empty() ? json(nullptr) : json(l->load_error);
    } else if (l->service) {
      const std::string err = l->service->last_error();
      item["upstream"] = {{"service", l->service->name()}, {"url", l->service->url_text()},
                          {"upstream_model", c.upstream_model.empty() ? json(nullptr) : json(c.upstream_model)},
                          {"healthy", l->service->healthy()}};
      item["context_tokens"] = c.context_tokens > 0 ? json(c.context_tokens) : json(nullptr);
      item["last_error"] = err.empty() ? json(nullptr) : json(err);
    }
    data.push_back(std::move(item));
  }
  return json{{"object", "list"}, {"data", data}}.dump();
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
    g.ready = l->available();
    if (l->engine) g.stats = l->engine->stats();
    lanes.push_back(std::move(g));
  }
  std::vector<ServiceGauges> services;
  for (const auto& s : services_) services.push_back({s->name(), s->healthy(), s->checks(), s->failures()});
  return metrics_.render(lanes, services);
}

}  // namespace laneway::server
