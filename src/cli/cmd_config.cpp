// laneway config check: validate a lanes.yaml with the parser `serve` uses
// (config/lane_config.h) and print the lanes as serve would read them, every
// default filled in. Exit 0 when valid, 2 with the parser's message (file,
// line, key, "did you mean") when not.
//   laneway config check lanes.yaml [--json]
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "cli/serve_models.h"
#include "cli/units.h"
#include "config/lane_config.h"

namespace laneway::cli {
namespace {

struct ConfigCheckFlags {
  std::string path;
  bool json = false;
};

std::string keep_alive_text(const LaneConfig& l) {
  const auto ms = l.idle_unload_after();
  if (ms.count() < 0) return "never unloads";
  return fmt::format("unloads after {} s idle", ms.count() / 1000);
}

nlohmann::json lane_json(const LaneConfig& l) {
  nlohmann::json j = {{"name", l.name}, {"aliases", l.aliases}, {"kind", l.embedded() ? "embedded" : "upstream"},
                      {"default", l.is_default}, {"priority", l.priority}, {"line", l.line}};
  if (l.embedded()) {
    j.update({{"model", l.model_path}, {"model_exists", std::filesystem::exists(l.model_path)},
              {"context_tokens", l.context_tokens}, {"slots", l.slots}, {"queue", l.queue},
              {"cache_type_k", l.cache_type_k}, {"cache_type_v", l.cache_type_v}, {"gpu_layers", l.gpu_layers},
              {"device", l.device}, {"mlock", l.mlock}, {"load", l.load == LaneLoad::eager ? "eager" : "on_demand"},
              {"keep_alive_ms", l.idle_unload_after().count()}});
  } else {
    j.update({{"service", l.service}, {"upstream_model", l.upstream_model}});
  }
  if (!l.fallback.empty()) j["fallback"] = l.fallback;
  if (!l.api_keys.empty()) j["api_keys"] = l.api_keys.size();
  return j;
}

std::string lane_text(const LanesConfig& c, const LaneConfig& l) {
  std::string o = fmt::format("  lane {}{}", l.name, l.is_default ? " (default)" : "");
  if (!l.aliases.empty()) o += fmt::format(", aliases {}", fmt::join(l.aliases, ", "));
  o += fmt::format(" [line {}]\n", l.line);
  if (l.embedded()) {
    const bool exists = std::filesystem::exists(l.model_path);
    o += fmt::format("    model {}{}\n", l.model_path, exists ? "" : "  (not found on this machine: serve marks the lane failed)");
    o += fmt::format("    context {} x {} slot{}, queue {}, KV {}/{}, gpu_layers {}, device {}{}\n",
                     l.context_tokens > 0 ? format_tokens(l.context_tokens) + " tokens" : "the trained context",
                     l.slots, l.slots == 1 ? "" : "s", l.queue, l.cache_type_k, l.cache_type_v, l.gpu_layers, l.device,
                     l.mlock ? ", mlock" : "");
    o += fmt::format("    load {}, {}, priority {}{}\n", l.load == LaneLoad::eager ? "eager" : "on_demand",
                     keep_alive_text(l), l.priority, l.pausable ? "" : ", not pausable");
  } else {
    const ServiceConfig* s = c.find_service(l.service);
    o += fmt::format("    upstream: service {} ({}){}\n", l.service, s ? fmt::format("{}", fmt::join(s->urls, ", ")) : "?",
                     l.upstream_model.empty() ? "" : ", model " + l.upstream_model);
  }
  if (!l.fallback.empty()) o += fmt::format("    fallback {}\n", l.fallback);
  if (!l.api_keys.empty()) o += fmt::format("    {} API key(s) of its own\n", l.api_keys.size());
  return o;
}

// server.tls: both files must be there and readable for `serve` to start
// (serve then also checks that they hold a certificate and its key).
Status check_tls_files(const LanesConfig& c) {
  if (!c.server.tls) return Status::ok();
  for (const auto& [what, path] : {std::pair{"cert", c.server.tls->cert}, std::pair{"key", c.server.tls->key}}) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return io_error("{}: server.tls.{}: {} {}", c.source, what, path,
                      std::filesystem::exists(path, ec) ? "is not a file" : "does not exist");
    }
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) return io_error("{}: server.tls.{}: cannot read {}: {}", c.source, what, path, std::strerror(errno));
    std::fclose(file);
  }
  return Status::ok();
}

Status check(const ConfigCheckFlags& f) {
  LANEWAY_ASSIGN_OR_RETURN(LanesConfig c, load_lanes_config(f.path));
  resolve_config_tls_paths(c, f.path);
  LANEWAY_TRY(check_tls_files(c));
  if (f.json) {
    nlohmann::json j = {{"config", f.path}, {"valid", true}};
    j["server"] = {{"host", c.server.host}, {"port", c.server.port}, {"api_keys", c.server.api_keys.size()}};
    if (c.server.tls) j["server"]["tls"] = {{"cert", c.server.tls->cert}, {"key", c.server.tls->key}};
    j["lanes"] = nlohmann::json::array();
    for (const auto& l : c.lanes) j["lanes"].push_back(lane_json(l));
    j["services"] = nlohmann::json::array();
    for (const auto& s : c.services) j["services"].push_back({{"name", s.name}, {"urls", s.urls}});
    if (!c.models_dir.empty()) j["models_dir"] = c.models_dir;
    if (!c.ollama_models.empty()) j["ollama_models"] = c.ollama_models;
    std::puts(j.dump(2).c_str());
    return Status::ok();
  }
  std::string o = fmt::format("{}: valid; {} lane{}, {} service{}\n", f.path, c.lanes.size(),
                              c.lanes.size() == 1 ? "" : "s", c.services.size(), c.services.size() == 1 ? "" : "s");
  o += fmt::format("  server {}:{}{}\n", c.server.host, c.server.port,
                   c.server.api_keys.empty() ? ", no API keys" : fmt::format(", {} API key(s)", c.server.api_keys.size()));
  if (c.server.tls) o += fmt::format("  tls: cert {}, key {} (every port speaks HTTPS)\n", c.server.tls->cert, c.server.tls->key);
  for (const auto& s : c.services) {
    o += fmt::format("  service {}: {}{}{}\n", s.name, fmt::join(s.urls, ", "),
                     s.urls.size() > 1 ? fmt::format(" ({} replicas, least_busy{})", s.urls.size(),
                                                     s.affinity == ServiceAffinity::prefix ? ", prefix affinity" : "")
                                       : "",
                     s.memory_budget_bytes ? ", memory_budget " + format_bytes(*s.memory_budget_bytes) : "");
  }
  for (const auto& l : c.lanes) o += lane_text(c, l);
  if (!c.models_dir.empty()) o += fmt::format("  models_dir {}: a lane per GGUF found there at start\n", c.models_dir);
  if (!c.ollama_models.empty()) o += fmt::format("  ollama_models {}: a lane per model of that store\n", c.ollama_models);
  std::fputs(o.c_str(), stdout);
  return Status::ok();
}

}  // namespace

void register_config(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<ConfigCheckFlags>();
  auto* cmd = app.add_subcommand("config", "Check a lanes.yaml (laneway config check lanes.yaml)");
  cmd->require_subcommand(1);
  auto* check_cmd = cmd->add_subcommand(
      "check", "Validate a lanes.yaml with serve's parser and print its lanes, defaults filled in (exit 2 when invalid)");
  check_cmd->add_option("file", f->path, "The lane file")->required();
  check_cmd->add_flag("--json", f->json, "Print JSON");
  check_cmd->callback([f, &exit_code] {
    Status st = check(*f);
    if (!st.is_ok()) print_error("config check", st);
    exit_code = st.is_ok() ? kExitOk : kExitBadInput;
  });
}

}  // namespace laneway::cli
