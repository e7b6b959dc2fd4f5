// laneway serve: the lane server (OpenAI- and Ollama-compatible APIs).
//   laneway serve -m model.gguf [--slots N] [--queue N] [--ctx N] [engine flags]   one lane named after the file
//   laneway serve --config lanes.yaml                                               every lane of the file
//   laneway serve [--models-dir DIR] [--ollama-models DIR]                          a lane per model found there
//   laneway serve                                                                   discovered models, else the demo model
// Binds 127.0.0.1:8080 unless --host/--port or the config say otherwise.
// SIGTERM/SIGINT: stop accepting, let in-flight requests finish within
// --shutdown-grace-ms, then exit 0.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <pthread.h>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "cli/flag_values.h"
#include "cli/serve_log.h"
#include "cli/serve_models.h"
#include "config/model_sources.h"
#include "gguf/gguf.h"
#include "kv/kv_cache.h"
#include "plan/lane_map.h"
#include "plan/machine_profile.h"
#include "server/laneway_server.h"

namespace laneway::cli {
namespace {

struct ServeFlags {
  EngineFlags engine;
  std::string config_path;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<std::string> api_keys;
  std::vector<std::string> cors_origins;
  std::string tls_cert;  // --tls-cert / --tls-key: server.tls from the command line
  std::string tls_key;
  int64_t slots = 1;
  int64_t queue = 8;
  int http_threads = 4;
  int64_t max_connections = 0;
  int64_t request_timeout_ms = 600'000;
  int64_t shutdown_grace_ms = 10'000;
  int64_t drain_delay_ms = 0;
  int64_t health_interval_ms = 2'000;
  int64_t debug_token_delay_ms = 0;
  int64_t debug_load_delay_ms = 0;
  int64_t debug_body_idle_timeout_ms = 0;
  int64_t debug_header_timeout_ms = 0;
  int64_t debug_pool_max_loaded = 0;
  std::string memory_budget;  // "" = what the machine can use
  bool strict = false;
  LogFlags log;
  ModelSourceFlags sources;
  bool discovering = false;  // no model, folder or config named: the usual places are searched (and rescanned)
  int ollama_port = -1;  // -1: off
  CLI::Option* host_opt = nullptr;
  CLI::Option* port_opt = nullptr;
};

// "Stories260K.gguf" -> "stories260k": a lane name ([a-z0-9_-]+) from a file name.
std::string lane_name_for(const std::string& path) {
  std::string name = lane_name_from(std::filesystem::path(path).stem().string());
  return name.empty() || name == "auto" ? "default" : name;
}

Result<LanesConfig> build_config(ServeFlags& f) {
  LanesConfig config;
  bool found = false;  // lanes came from model sources (no -m, no --config)
  f.sources.ctx = f.engine.ctx;
  if (!f.config_path.empty()) {
    if (!f.engine.model_path.empty()) {
      return invalid_argument_error("-m and --config exclude each other: put the model in a lane of the config");
    }
    LANEWAY_ASSIGN_OR_RETURN(config, load_lanes_config(f.config_path));
    add_config_model_sources(config, f.config_path, f.sources);
    resolve_config_tls_paths(config, f.config_path);
  } else {
    config.source = "<command line>";
    // No model named: folders and stores given by flag, else the places
    // people keep models (unless --no-discover), else the demo model.
    if (f.engine.model_path.empty()) {
      f.discovering = true;
      LANEWAY_ASSIGN_OR_RETURN(found, add_model_source_lanes(f.sources, config, /*discover=*/true));
    }
    if (f.engine.model_path.empty() && !found) {
      LANEWAY_ASSIGN_OR_RETURN(f.engine.model_path, demo_model_path());
      std::fprintf(stderr, "laneway serve: no model given or found; serving the demo model %s\n"
                           "  (serve your own: -m FILE.gguf, --models-dir DIR, --ollama-models DIR or --config lanes.yaml)\n",
                   f.engine.model_path.c_str());
    }
  }
  if (f.config_path.empty() && !found) {
    LaneConfig lane;
    lane.name = lane_name_for(f.engine.model_path);
    lane.kind = LaneKind::embedded;
    lane.model_path = f.engine.model_path;
    lane.context_tokens = f.engine.ctx;
    lane.cache_type_k = f.engine.cache_type_k;
    lane.cache_type_v = f.engine.cache_type_v;
    lane.slots = f.slots;
    lane.queue = f.queue;
    if (!f.engine.gpu_layers.empty()) lane.gpu_layers = f.engine.gpu_layers;
    lane.mlock = f.engine.mlock;
    lane.is_default = true;
    config.lanes.push_back(lane);
  }
  // --models-dir / --ollama-models beside -m or --config add their lanes.
  if (!f.engine.model_path.empty() || !f.config_path.empty()) {
    LANEWAY_TRY(add_model_source_lanes(f.sources, config, /*discover=*/false).status());
  }
  if (config.lanes.empty()) {
    return invalid_argument_error("no lanes to serve: the models folders and stores given hold no model");
  }
  if (f.config_path.empty() || f.host_opt->count() > 0) config.server.host = f.host;
  if (f.config_path.empty() || f.port_opt->count() > 0) config.server.port = f.port;
  for (const auto& key : f.api_keys) config.server.api_keys.push_back(key);
  for (const auto& o : f.cors_origins) config.server.cors_origins.push_back(o);
  if (f.tls_cert.empty() != f.tls_key.empty()) {
    return invalid_argument_error("--tls-cert and --tls-key go together: TLS needs the certificate and its key");
  }
  if (!f.tls_cert.empty()) config.server.tls = TlsFiles{f.tls_cert, f.tls_key};
  LANEWAY_TRY(validate_lanes_config(config));
  return config;
}

Status serve(ServeFlags& f, int& exit_code) {
  exit_code = kExitUsage;
  LANEWAY_ASSIGN_OR_RETURN(LanesConfig config, build_config(f));
  exit_code = kExitBadInput;

  // Signals are taken synchronously by this thread: block them before any
  // thread starts (engine and HTTP threads inherit the mask), so SIGTERM
  // never lands in a thread that would die of it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::ServeOptions options;
  options.config = std::move(config);
  options.http_threads = f.http_threads;
  options.http.max_connections = f.max_connections;
  if (f.debug_body_idle_timeout_ms > 0) options.http.body_idle_timeout = std::chrono::milliseconds(f.debug_body_idle_timeout_ms);
  if (f.debug_header_timeout_ms > 0) options.http.header_timeout = std::chrono::milliseconds(f.debug_header_timeout_ms);
  options.request_timeout = std::chrono::milliseconds(f.request_timeout_ms);
  options.health_interval = std::chrono::milliseconds(f.health_interval_ms);
  options.debug_token_delay_ms = f.debug_token_delay_ms;
  options.debug_pool_max_loaded = f.debug_pool_max_loaded;
  // /api/tags, /v1/models and a request for a model no lane has rescan the
  // folders and stores (and, when discovering, the usual places): models
  // added or removed show up without a restart.
  options.model_lanes = model_lanes_rescan(f.sources, f.discovering);
  options.ollama_port = options.config.server.ollama_port;  // server.ollama_port; the flag wins
  if (f.ollama_port >= 0) options.ollama_port = f.ollama_port;
  LANEWAY_ASSIGN_OR_RETURN(options.log, make_server_log(f.log));

  const EngineFlags engine = f.engine;
  const int64_t load_delay_ms = f.debug_load_delay_ms;
  auto prepare = [&engine, load_delay_ms](const LaneConfig& lane) -> Result<server::PreparedLane> {
    EngineFlags ef = engine;
    // A lane's own gpu_layers/device win; a lane left at auto takes the
    // command line's (unset there: all layers on a usable GPU, else quietly the CPU).
    if (lane.gpu_layers != "auto") ef.gpu_layers = lane.gpu_layers;
    if (lane.device != "auto") ef.device = lane.device;
    server::PreparedLane p;
    EmbeddedLaneOptions& o = p.options;
    o.name = lane.name;
    o.model_path = lane.model_path;
    // The command line's threads and batch, the lane's slots, context, K/V
    // types and mlock: the translation `plan --lanes` makes too.
    LANEWAY_ASSIGN_OR_RETURN(ContextOptions base, context_options(ef));
    LANEWAY_ASSIGN_OR_RETURN(o.context, lane_context_options(lane, trained_context(lane.model_path), base));
    p.context_tokens = o.context.n_ctx / o.context.n_seq;
    ef.model_path = lane.model_path;
    LANEWAY_ASSIGN_OR_RETURN(o.load, load_options(ef, o.context));
    o.queue_capacity = lane.queue;
    o.debug_load_delay_ms = load_delay_ms;
    LANEWAY_ASSIGN_OR_RETURN(MemoryBill bill, plan_bill(lane.model_path, o.context, /*serve_lane=*/true));
    p.bill_bytes = bill.total_bytes;  // the lane's own share (plan --lanes counts it so too)
    p.overhead_bytes = kServeBaseBytes;
    if (lane.memory_budget_bytes && bill.total_bytes > *lane.memory_budget_bytes) {
      p.refused = fmt::format("its bill of {:.1f} MiB is above its memory_budget of {:.1f} MiB (lower context or "
                              "use smaller cache types)",
                              double(bill.total_bytes) / (1 << 20), double(*lane.memory_budget_bytes) / (1 << 20));
    } else if (Status fit = check_fits_before_load(lane.model_path, o.context); !fit.is_ok()) {
      p.refused = fit.message();
    }
    if (lane.mlock) {
      // Pinned lanes load one by one, later: the memlock check again then,
      // with what is pinned by that time.
      p.admit = [path = lane.model_path, context = o.context] { return check_pin_before_load(path, context); };
    }
    return p;
  };
  if (!f.memory_budget.empty()) {
    LANEWAY_ASSIGN_OR_RETURN(options.memory_budget_bytes, parse_size_bytes(f.memory_budget));
  } else if (auto usable = probe_usable_memory(probe_options()); usable.is_ok()) {
    // What the machine can use now, less the config's reserves as `plan
    // --lanes` counts them on this-machine (reserve_os only beyond what is in use).
    uint64_t reserved = 0;
    if (const auto& m = options.config.machine) {
      reserved = effective_reserve_os(m->reserve_os_bytes.value_or(0), usable->in_use_bytes) +
                 m->reserve_other_bytes.value_or(0);
    }
    options.memory_budget_bytes = usable->bytes - std::min(usable->bytes, reserved);
    // Services that sleep in burst mode are in the pool too, but what they
    // hold is in use already, so not in what the probe calls usable.
    for (const auto& sc : options.config.services) {
      if (sc.sleeps_in_burst()) options.memory_budget_bytes += *sc.memory_budget_bytes;
    }
  }
  LANEWAY_ASSIGN_OR_RETURN(auto srv, server::LanewayServer::create(std::move(options), prepare, f.strict));
  LANEWAY_TRY(srv->listen());

  srv->start();

  const auto& c = srv->config();
  const std::string host = c.server.host == "0.0.0.0" || c.server.host == "::" ? "127.0.0.1" : c.server.host;
  const char* scheme = c.server.tls ? "https" : "http";
  const std::string base = fmt::format("{}://{}:{}", scheme, host.find(':') != std::string::npos ? "[" + host + "]" : host, srv->port());
  std::string lanes;
  for (const auto& lane : c.lanes) lanes += (lanes.empty() ? "" : ", ") + lane.name;
  const LaneConfig* first = nullptr;
  for (const auto& lane : c.lanes) {
    if (!first || lane.is_default) first = &lane;
  }
  std::printf("laneway serve: listening on %s (lanes: %s)\n", base.c_str(), lanes.c_str());
  std::printf("  curl %s/v1/chat/completions -H 'Content-Type: application/json'%s -d '{\"model\": \"%s\", "
              "\"messages\": [{\"role\": \"user\", \"content\": \"Tell me a story\"}], \"max_tokens\": 64}'\n",
              base.c_str(),
              c.server.api_keys.empty() ? "" : fmt::format(" -H 'Authorization: Bearer {}'", c.server.api_keys[0]).c_str(),
              first->name.c_str());
  std::printf("  Ollama clients use the same address: OLLAMA_HOST=%s ollama run %s\n", base.c_str(), first->name.c_str());
  if (srv->ollama_port() > 0) {
    std::printf("laneway serve: Ollama API also on %s://%s:%d\n", scheme, host.find(':') != std::string::npos ? ("[" + host + "]").c_str() : host.c_str(),
                srv->ollama_port());
  }
  std::fflush(stdout);

  // Eager lanes load in the background; say when they are done.
  int sig = 0;
  const timespec tick{0, 50'000'000};
  while (!srv->lanes_settled()) {
    sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig > 0) break;
  }
  if (sig <= 0) {
    std::printf("laneway serve: lanes settled: %s\n", srv->lanes_summary().c_str());
    std::fflush(stdout);
    sigwait(&signals, &sig);
  }
  const char* sig_name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
  if (f.drain_delay_ms > 0) {
    // Readiness turns 503 while requests are still served, so a load balancer
    // stops sending before the listener closes; a second signal cuts it short.
    srv->begin_drain();
    std::fprintf(stderr, "laneway serve: %s: readiness is 503; serving for %lld ms more before the drain\n", sig_name,
                 static_cast<long long>(f.drain_delay_ms));
    const timespec delay{static_cast<time_t>(f.drain_delay_ms / 1000), static_cast<long>(f.drain_delay_ms % 1000) * 1'000'000};
    sigtimedwait(&signals, nullptr, &delay);
  }
  std::fprintf(stderr, "laneway serve: %s: finishing in-flight requests (up to %lld ms)\n", sig_name,
               static_cast<long long>(f.shutdown_grace_ms));
  srv->shutdown(std::chrono::milliseconds(f.shutdown_grace_ms));
  srv.reset();
  std::fprintf(stderr, "laneway serve: stopped\n");
  exit_code = kExitOk;
  return Status::ok();
}

}  // namespace

void register_serve(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand("serve", "Serve lanes over OpenAI- and Ollama-compatible HTTP APIs");
  add_engine_flags(cmd, f->engine, /*model_required=*/false);
  cmd->add_option("--config", f->config_path, "Lane config (lanes.yaml, see examples/); excludes -m");
  add_model_source_flags(cmd, f->sources);
  cmd->add_option("--ollama-port", f->ollama_port,
                  "Also serve Ollama's API (/ and /api/...) on this port, e.g. 11434 (0 picks a free one)")
      ->check(CLI::Range(0, 65535));
  f->host_opt = cmd->add_option("--host", f->host, "Address to bind (default 127.0.0.1)");
  f->port_opt = cmd->add_option("--port", f->port, "Port (default 8080; 0 picks a free one)")->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", f->api_keys, "Require 'Authorization: Bearer KEY' (repeatable)");
  cmd->add_option("--tls-cert", f->tls_cert, "Serve HTTPS on every port with this PEM certificate chain (with --tls-key)");
  cmd->add_option("--tls-key", f->tls_key, "The PEM private key of --tls-cert");
  cmd->add_option("--cors-origin", f->cors_origins,
                  "Let browser pages from this origin call the API, e.g. http://localhost:3000, or * (repeatable)");
  cmd->add_option("--slots", f->slots, "Parallel sequences of the -m lane")->check(CLI::Range(1, 1024));
  cmd->add_option("--queue", f->queue, "Requests that may wait beyond busy slots (then 429)")->check(CLI::Range(0, 1000000));
  cmd->add_option("--http-threads", f->http_threads, "Threads for HTTP (connections are coroutines)")->check(CLI::Range(1, 256));
  cmd->add_option("--max-connections", f->max_connections,
                  "Open connections at most per port; more get 503 (default: half the file descriptor limit, at most 4096)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--request-timeout-ms", f->request_timeout_ms, "Longest a request may take end to end")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--shutdown-grace-ms", f->shutdown_grace_ms, "How long SIGTERM waits for in-flight requests")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--drain-delay-ms", f->drain_delay_ms,
                  "After SIGTERM, keep serving this long with readiness (/health?lane=) answering 503 before the "
                  "drain, so load balancers stop sending first (default 0)")
      ->check(CLI::Range(int64_t{0}, int64_t{600'000}));
  cmd->add_option("--health-interval-ms", f->health_interval_ms, "Upstream health probe interval")
      ->check(CLI::Range(int64_t{50}, int64_t{3'600'000}));
  cmd->add_option("--memory-budget", f->memory_budget,
                  "Most memory the embedded lanes (and services that sleep in burst mode) may hold together, e.g. "
                  "12GiB (default: what this machine can use now, plus those services' memory_budget); on_demand "
                  "lanes are swapped and pausable ones paused to stay within it")
      ->check(size_validator());
  add_log_flags(cmd, f->log);
  cmd->add_flag("--strict", f->strict, "Exit 2 when any lane cannot load (default: serve the lanes that can)");
  cmd->add_option("--debug-body-idle-timeout-ms", f->debug_body_idle_timeout_ms,
                  "Test-only: a request body pausing this long gets 408 (default 30 s)")
      ->check(CLI::NonNegativeNumber)
      ->group("");
  cmd->add_option("--debug-header-timeout-ms", f->debug_header_timeout_ms,
                  "Test-only: a request header (or TLS handshake) not complete after this long is dropped (default 30 s)")
      ->check(CLI::NonNegativeNumber)
      ->group("");
  cmd->add_option("--debug-pool-max-loaded", f->debug_pool_max_loaded,
                  "Comparison only (bench/pool_compare.sh): swap on_demand lanes by count, at most N loaded whatever "
                  "they hold, as count-based routers do; ignores the memory budget")
      ->check(CLI::NonNegativeNumber)
      ->group("");
  cmd->add_option("--debug-load-delay-ms", f->debug_load_delay_ms,
                  "Test-only: each lane's load takes this much longer (background-load tests)")
      ->check(CLI::NonNegativeNumber)
      ->group("");
  cmd->add_option("--debug-token-delay-ms", f->debug_token_delay_ms,
                  "Test-only: sleep this long after each generated token (deterministic load tests)")
      ->check(CLI::NonNegativeNumber)
      ->group("");  // hidden from --help
  cmd->callback([f, &exit_code] {
    Status st = serve(*f, exit_code);
    if (!st.is_ok()) print_error("serve", st);
  });
}

}  // namespace laneway::cli
