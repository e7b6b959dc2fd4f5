#include "cli/serve_models.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "config/model_sources.h"
#include "gguf/gguf.h"

namespace laneway::cli {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kSourceLaneContextCap = 4096;

}  // namespace

int64_t trained_context(const std::string& path) {
  auto file = GgufFile::open(path);
  if (!file) return 0;
  auto arch = file->get_string("general.architecture");
  if (!arch) return 0;
  auto n = file->get_u32_or(std::string(*arch) + ".context_length", 0);
  return n ? static_cast<int64_t>(*n) : 0;
}

namespace {

Status add_sources(const std::vector<ModelSource>& sources, const ModelSourceFlags& flags, LanesConfig& config) {
  for (const auto& s : sources) {
    for (const auto& lane : config.lanes) {
      const bool alias_taken = std::find(lane.aliases.begin(), lane.aliases.end(), s.lane_name) != lane.aliases.end();
      if (lane.name == s.lane_name || alias_taken) {
        return invalid_argument_error("{} gives the lane name '{}', which lane {} ({}) already has; rename the file",
                                      s.path, s.lane_name, lane.name,
                                      lane.model_path.empty() ? lane.service : lane.model_path);
      }
    }
    LaneConfig lane = lane_config_for(s);
    if (flags.ctx > 0) {
      lane.context_tokens = flags.ctx;
    } else {
      const int64_t trained = trained_context(s.path);
      lane.context_tokens = trained > 0 ? std::min(trained, kSourceLaneContextCap) : kSourceLaneContextCap;
    }
    config.lanes.push_back(std::move(lane));
  }
  return Status::ok();
}

}  // namespace

std::string resolve_config_path(const std::string& config_path, const std::string& path) {
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    return (fs::path(home ? home : "") / path.substr(std::min<size_t>(2, path.size()))).string();
  }
  if (fs::path(path).is_absolute()) return path;
  return (fs::absolute(config_path).parent_path() / path).lexically_normal().string();
}

void resolve_config_tls_paths(LanesConfig& config, const std::string& config_path) {
  if (!config.server.tls) return;
  config.server.tls->cert = resolve_config_path(config_path, config.server.tls->cert);
  config.server.tls->key = resolve_config_path(config_path, config.server.tls->key);
}

void add_config_model_sources(const LanesConfig& config, const std::string& config_path, ModelSourceFlags& flags) {
  auto resolve = [&](const std::string& path) { return resolve_config_path(config_path, path); };
  if (!config.models_dir.empty()) flags.models_dirs.push_back(resolve(config.models_dir));
  if (!config.ollama_models.empty()) flags.ollama_stores.push_back(resolve(config.ollama_models));
}

void add_model_source_flags(CLI::App* cmd, ModelSourceFlags& flags) {
  cmd->add_option("--models-dir", flags.models_dirs,
                  "Serve every GGUF below DIR as a lane named after its file (repeatable)");
  cmd->add_option("--ollama-models", flags.ollama_stores,
                  "Serve the models of an Ollama store (e.g. ~/.ollama/models), read-only (repeatable)");
  cmd->add_flag("--no-discover", flags.no_discover,
                "With no model given, do not look for models in the usual places (Ollama, Hugging Face, LM Studio)");
}

Result<bool> add_model_source_lanes(const ModelSourceFlags& flags, LanesConfig& config, bool discover, bool quiet) {
  const size_t before = config.lanes.size();
  for (const auto& dir : flags.models_dirs) {
    LANEWAY_ASSIGN_OR_RETURN(auto sources, scan_models_dir(dir));
    if (sources.empty() && !quiet) std::fprintf(stderr, "laneway serve: --models-dir %s holds no .gguf file\n", dir.c_str());
    LANEWAY_TRY(add_sources(sources, flags, config));
  }
  for (const auto& store : flags.ollama_stores) {
    LANEWAY_ASSIGN_OR_RETURN(auto sources, read_ollama_store(store));
    if (sources.empty() && !quiet) std::fprintf(stderr, "laneway serve: --ollama-models %s holds no model\n", store.c_str());
    LANEWAY_TRY(add_sources(sources, flags, config));
  }
  const bool named = !flags.models_dirs.empty() || !flags.ollama_stores.empty();
  if (discover && !named && !flags.no_discover) {
    for (const auto& store : discover_model_stores(process_discovery_env())) {
      if (store.models.empty() && store.notes.empty()) continue;
      if (quiet) {
        LANEWAY_TRY(add_sources(store.models, flags, config));
        continue;
      }
      std::fprintf(stderr, "laneway serve: found %zu model(s) in %s (%s)\n", store.models.size(), store.label.c_str(),
                   store.path.c_str());
      for (const auto& m : store.models) {
        std::fprintf(stderr, "  %s%s\n", m.lane_name.c_str(),
                     m.original_name != m.lane_name ? fmt::format(" (alias {})", m.original_name).c_str() : "");
      }
      for (const auto& note : store.notes) std::fprintf(stderr, "  note: %s\n", note.c_str());
      LANEWAY_TRY(add_sources(store.models, flags, config));
    }
    if (config.lanes.size() > before && !quiet) {
      std::fprintf(stderr, "laneway serve: serving the models found (read-only; --no-discover turns this off)\n");
    }
  }
  const bool added = config.lanes.size() > before;
  if (added &&
      std::none_of(config.lanes.begin(), config.lanes.end(), [](const LaneConfig& l) { return l.is_default; })) {
    config.lanes[before].is_default = true;
  }
  return added;
}

std::function<Result<std::vector<LaneConfig>>()> model_lanes_rescan(ModelSourceFlags flags, bool discover) {
  if (!discover && flags.models_dirs.empty() && flags.ollama_stores.empty()) return nullptr;
  if (discover && flags.no_discover && flags.models_dirs.empty() && flags.ollama_stores.empty()) return nullptr;
  return [flags = std::move(flags), discover]() -> Result<std::vector<LaneConfig>> {
    LanesConfig found;
    LANEWAY_TRY(add_model_source_lanes(flags, found, discover, /*quiet=*/true).status());
    for (auto& lane : found.lanes) lane.is_default = false;  // the default lane is the server's, chosen at start
    return std::move(found.lanes);
  };
}

Result<std::string> demo_model_path() {
  const fs::path rel = fs::path("models") / "demo" / "stories260K.gguf";
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    // build/<preset>/src/cli/laneway, or an installed bin/laneway beside share/.
    for (fs::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
      if (fs::exists(dir / rel)) return (dir / rel).string();
      if (fs::exists(dir / "share" / "laneway" / rel)) return (dir / "share" / "laneway" / rel).string();
    }
  }
#ifdef LANEWAY_SOURCE_DIR
  if (fs::exists(fs::path(LANEWAY_SOURCE_DIR) / rel)) return (fs::path(LANEWAY_SOURCE_DIR) / rel).string();
#endif
  return not_found_error(
      "no model to serve: pass -m model.gguf (one lane), --models-dir DIR, --ollama-models DIR or --config "
      "lanes.yaml (see examples/); the demo model {} of the source tree is not there either",
      rel.string());
}

}  // namespace laneway::cli
