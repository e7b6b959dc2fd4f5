// LanewayServer: everything `laneway serve` runs — the lanes of a lanes.yaml
// (embedded engines and upstream services), the router, the HTTP servers
// (the shared API plus any lane with `listen: PORT`), metrics and the
// upstream health loops. It owns all of its state (no globals), so tests can
// run several in one process.
//
// Routes (see LANES.md): GET /health[?lane=NAME], GET /metrics,
// GET /v1/models, GET /v1/lanes, POST /v1/chat/completions, POST
// /v1/completions, and per lane /lanes/NAME/health and /lanes/NAME/v1/...;
// Ollama's API at / and /api/... (routes_ollama.cpp).
// Bearer keys (server.api_keys) guard every route but liveness, as
// route_table.h says (readiness, /v1/lanes and /metrics unless open_routes).
//
// Threading: HTTP runs on `http_threads` io_context threads, one strand per
// connection; each embedded lane has its own engine thread (EmbeddedLane).
// Lifecycle: create() (loads embedded lanes) -> listen() -> start() ->
// shutdown(grace) (blocking; called once, from any thread but the io threads).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/embedded_lane.h"
#include "config/lane_config.h"
#include "runtime/router.h"
#include "server/chat_prompt.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/ollama_api.h"
#include "server/ollama_models.h"
#include "server/route_table.h"
#include "server/upstream_service.h"

namespace laneway::server {

struct ServeOptions {
  LanesConfig config;
  int http_threads = 4;
  std::chrono::milliseconds request_timeout{600'000};  // one generation or proxied request, end to end
  std::chrono::milliseconds health_interval{2'000};    // upstream health probes
  int64_t debug_token_delay_ms = 0;                    // test-only: slows every generation (deterministic load tests)
  HttpServerOptions http;
  // Routes answered without a key ("readiness", "lanes", "metrics"): LANES.md's
  // server.open_routes. The config parser does not read that key yet, so only
  // code sets this; empty = everything but liveness needs the key.
  std::vector<std::string> open_routes;
  // Also serve Ollama's routes (/ and /api/...) on this port (`--ollama-port
  // 11434`), for tools that assume Ollama's address; 0 picks a free one.
  std::optional<int> ollama_port;
};

// Starts the engine of one embedded lane (the CLI maps engine flags and the
// lane's config onto EmbeddedLaneOptions; tests may inject their own).
// resource_exhausted (the lane does not fit in memory) leaves that lane
// failed, with the error in its health, while the others serve; any other
// error fails create().
using EmbeddedLaneStarter = std::function<Result<std::unique_ptr<EmbeddedLane>>(const LaneConfig&)>;

// One configured lane at run time.
struct LaneRuntime {
  size_t index = 0;
  const LaneConfig* config = nullptr;       // points into LanewayServer's config
  std::unique_ptr<EmbeddedLane> engine;     // embedded lanes
  std::unique_ptr<ChatPrompt> chat;         // embedded lanes
  UpstreamService* service = nullptr;       // upstream lanes (owned by the server)
  std::string load_error;                   // embedded lanes that failed to load (did not fit in memory)

  bool embedded() const { return config->embedded(); }
  bool available() const { return embedded() ? engine != nullptr : service->healthy(); }
  std::string state() const {
    if (available()) return "ready";
    if (!embedded()) return "unhealthy";
    return load_error.empty() ? "loading" : "failed";
  }
  // Why the lane is not available ("" when it is or nobody knows).
  std::string error() const {
    if (available()) return "";
    return embedded() ? load_error : service->last_error();
  }
};

class LanewayServer final : public RequestHandler {
 public:
  static Result<std::unique_ptr<LanewayServer>> create(ServeOptions options, const EmbeddedLaneStarter& start_lane);
  ~LanewayServer() override;

  // Binds the shared API and each lane's own port (when set).
  Status listen();
  int port() const;
  int ollama_port() const;  // 0 when ServeOptions::ollama_port is unset
  // Starts the io threads, the accept loops and the upstream health loops.
  void start();
  // Stops accepting, lets in-flight requests finish within `grace`, cancels
  // what is left, and stops every thread. Blocking; idempotent.
  void shutdown(std::chrono::milliseconds grace);

  const LanesConfig& config() const { return options_.config; }

  // RequestHandler
  BodyLimit body_limit(const http::request_header<>& header) override;
  net::awaitable<void> handle(HttpExchange& ex) override;

 private:
  explicit LanewayServer(ServeOptions options);

  // routes_health.cpp
  net::awaitable<void> route_health(HttpExchange& ex, std::optional<size_t> lane, bool lane_from_query);
  net::awaitable<void> route_models(HttpExchange& ex, std::optional<size_t> lane);
  net::awaitable<void> route_lanes(HttpExchange& ex);
  net::awaitable<void> route_metrics(HttpExchange& ex);
  std::string lane_health_json(size_t lane) const;
  std::string models_json(std::optional<size_t> lane) const;
  std::string lanes_json() const;
  std::string metrics_text() const;
  // routes_openai.cpp
  net::awaitable<void> route_generation(HttpExchange& ex, std::string_view api_path, std::optional<size_t> url_lane);
  net::awaitable<void> generate_embedded(HttpExchange& ex, LaneRuntime& lane, const CompletionRequest& req,
                                         std::vector<int32_t> prompt_tokens, const std::string& route);
  // routes_ollama.cpp: GET|HEAD / and /api/* (keys, errors and metrics in Ollama's shape).
  net::awaitable<void> route_ollama(HttpExchange& ex, const RouteMatch& route);
  net::awaitable<void> ollama_generate(HttpExchange& ex, OllamaEndpoint endpoint, const std::string& label);
  net::awaitable<void> ollama_show(HttpExchange& ex);
  std::string ollama_models_json(bool resident_only);  // /api/tags (false), /api/ps (true)
  std::optional<size_t> ollama_lane(std::string_view model) const;  // lane name or alias, ":latest" implied
  // upstream_proxy.cpp: forwards to lane's service; false when the service
  // could not be reached before anything was sent (the caller may fall back).
  net::awaitable<bool> proxy_to_upstream(HttpExchange& ex, LaneRuntime& lane, std::string_view api_path,
                                         const std::string& body, const std::string& requested_model, bool stream);

  std::optional<size_t> lane_index(std::string_view name) const;
  bool authorized(const HttpRequest& req) const;
  std::string next_id(std::string_view prefix);
  // `route` is one of route_labels() (anything else is counted as "unknown"),
  // `lane` a configured lane name or "".
  void count(const std::string& lane, std::string_view route, int status);

  ServeOptions options_;
  std::vector<std::unique_ptr<UpstreamService>> services_;
  std::vector<std::unique_ptr<LaneRuntime>> lanes_;
  std::unique_ptr<Router> router_;
  Metrics metrics_;
  OpenRoutes open_routes_;
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
  bool shut_down_ = false;
};

}  // namespace laneway::server
