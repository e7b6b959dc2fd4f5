// Where `laneway serve` gets lanes when a lanes.yaml does not list them:
// --models-dir DIR (every GGUF below DIR), --ollama-models DIR (an Ollama
// store, read-only), discovery of the usual model stores when serve is given
// no model at all (off with --no-discover), and the demo model the repository
// carries (models/demo/stories260K.gguf) when nothing else is there.
//
// The lanes follow config/model_sources.h (names, aliases); their context is
// the model's trained context, at most 4096 tokens (Ollama's own default
// size class), so a folder of long-context models does not reserve huge KV
// caches; --ctx or a lanes.yaml entry set it otherwise.
//
// Start-up code of `serve` and `plan --lanes`: runs once, on the main thread,
// before any server thread exists; prints what it found to stderr.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "config/lane_config.h"
#include "core/status.h"

namespace laneway::cli {

struct ModelSourceFlags {
  std::vector<std::string> models_dirs;
  std::vector<std::string> ollama_stores;
  bool no_discover = false;
  int64_t ctx = 0;  // --ctx for these lanes (0: trained context, at most 4096)
};

// The config's own `models_dir` / `ollama_models` (LANES.md), appended to
// the flags: "~/" is the home folder, a relative path is relative to the
// folder of the config file.
void add_config_model_sources(const LanesConfig& config, const std::string& config_path, ModelSourceFlags& flags);

// A path written in the config file: "~/" is the home folder, a relative
// path is relative to the folder of the config file.
std::string resolve_config_path(const std::string& config_path, const std::string& path);

// server.tls's files, resolved as resolve_config_path says.
void resolve_config_tls_paths(LanesConfig& config, const std::string& config_path);

// --models-dir, --ollama-models, --no-discover.
void add_model_source_flags(CLI::App* cmd, ModelSourceFlags& flags);

// Adds the lanes of the flags' folders and stores to `config` (an error
// names both files when two give one name, or a lane name already taken).
// With `discover` and no folder or store given, searches the usual places
// instead (unless --no-discover), printing what it found and where. Returns
// whether any lane was added; the first one becomes the default lane when
// the config has none. `quiet`: prints nothing (a rescan).
Result<bool> add_model_source_lanes(const ModelSourceFlags& flags, LanesConfig& config, bool discover,
                                    bool quiet = false);

// What `serve` rescans while it runs (ServeOptions::model_lanes): the lanes
// the flags' folders and stores give now (with `discover`, the usual places
// too), made as add_model_source_lanes makes them, none of them the default.
// Null when there is nothing to rescan. Safe to call from any thread.
std::function<Result<std::vector<LaneConfig>>()> model_lanes_rescan(ModelSourceFlags flags, bool discover);

// models/demo/stories260K.gguf of the source tree this binary was built
// from, found beside the executable's ancestors or at the configured source
// folder. not_found with what to do instead when it is not there.
Result<std::string> demo_model_path();

// The trained context of a GGUF in tokens (0 when the file does not say),
// for lanes that set no context.
int64_t trained_context(const std::string& path);

}  // namespace laneway::cli
