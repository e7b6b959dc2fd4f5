// Model sources: GGUF files that become lanes without a lanes.yaml entry of
// their own — a models folder (`--models-dir`, LANES.md `models_dir`), an
// existing Ollama store read read-only (`--ollama-models`, `ollama_models`),
// and the usual places people keep models, searched only when `laneway
// serve` is given no model at all (discover_model_stores).
//
// Lane names follow LANES.md "Lane names made from file names": lower-cased,
// every character outside [a-z0-9_-] replaced by '-', the original name (a
// file stem, or an Ollama name like "llama3.2:3b") kept as an alias. Two
// models that give one name are an error naming both files, except in
// discovery, where the first store searched wins and the other is reported
// (a cache the operator never named must not stop the server from starting).
//
// An Ollama store is `manifests/<registry>/<namespace>/<model>/<tag>` (JSON
// manifests) and `blobs/sha256-<hex>`; the layer of media type
// application/vnd.ollama.image.model is the GGUF. Its template, params and
// system layers are Ollama's own formats: they are noted (ModelSource::
// ollama_layers), not used — the GGUF's own chat template applies. Names are
// shown as Ollama shows them: "registry.ollama.ai/library/" is dropped
// ("llama3.2:3b"), other namespaces and registries are kept.
//
// Config layer: reads folders and small JSON files only (never a GGUF's
// contents), knows nothing of HTTP or the engine. The filesystem root, the
// home folder and the environment are injectable (DiscoveryEnv) so tests run
// against fixture trees. Pure functions apart from reading the filesystem;
// safe from any thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/lane_config.h"
#include "core/status.h"

namespace laneway {

struct ModelSource {
  std::string lane_name;      // [a-z0-9_-]+
  std::string original_name;  // file stem or Ollama name; kept as an alias when it differs from lane_name
  std::string path;           // the GGUF (the first part of a split model)
  uint32_t split_count = 1;   // parts of a split model
  std::string origin;         // the folder or store it was found in
  // Ollama store only: media type suffix -> blob path of the layers besides
  // the model ("template", "params", "system", "license", "projector", ...).
  std::vector<std::pair<std::string, std::string>> ollama_layers;
};

// LANES.md's rule: "Llama-3.2-3B.Q4_K_M" -> "llama-3-2-3b-q4_k_m",
// "llama3.2:3b" -> "llama3-2-3b". "" (or "auto", which routing reserves)
// becomes "model".
std::string lane_name_from(std::string_view original);

// Every *.gguf below `dir` (recursively, following symlinked files and
// folders; names starting with "mmproj" are vision projectors and skipped).
// A split model ("x-00001-of-00003.gguf") is one source named "x", found by
// its first part; a split whose first part is missing is an error naming it.
// Sorted by path. not_found when `dir` is not a folder; invalid_argument
// naming both files when two give one lane name.
Result<std::vector<ModelSource>> scan_models_dir(const std::string& dir);

// Every manifest of the Ollama store at `root` whose model layer's blob is
// present. not_found when root has no manifests/ folder; invalid_argument
// naming the manifest when one is not valid JSON or lacks a model layer
// (those are skipped in discovery, see below).
Result<std::vector<ModelSource>> read_ollama_store(const std::string& root);

// invalid_argument naming both files when two sources give one lane name (or
// one source's name is another's alias).
Status check_unique_lane_names(const std::vector<ModelSource>& sources);

// An embedded on_demand lane for a source: name, alias (the original name
// when it differs), model path; every other setting at its default.
LaneConfig lane_config_for(const ModelSource& source);

// --- discovery ----------------------------------------------------------------

struct DiscoveryEnv {
  std::string home;       // "" = no home folder (its places are skipped)
  std::string root = "";  // prefix for absolute system paths (/usr/share/...); tests use a temp folder
  std::function<std::optional<std::string>(const std::string&)> getenv;  // variable -> value
};
// The process's own: $HOME and ::getenv.
DiscoveryEnv process_discovery_env();

enum class StoreKind { models_dir, ollama_store };

struct DiscoveredStore {
  std::string label;  // how it was found: "$LANEWAY_MODELS", "~/.ollama/models", ...
  std::string path;
  StoreKind kind = StoreKind::models_dir;
  std::vector<ModelSource> models;
  std::vector<std::string> notes;  // what was skipped and why (duplicate names, broken manifests)
};

// Searches, in order: $LANEWAY_MODELS, ~/.local/share/laneway/models,
// $OLLAMA_MODELS, ~/.ollama/models, /usr/share/ollama/.ollama/models,
// ~/.cache/huggingface/hub (*.gguf), ~/.cache/llama.cpp, ~/.lmstudio/models,
// ~/.cache/lm-studio/models. A place that does not exist is left out; one
// reached twice (a variable naming a default place) is searched once. Never
// fails: what cannot be read becomes a note. Lane names are unique across the
// result (later duplicates are dropped with a note naming both files).
std::vector<DiscoveredStore> discover_model_stores(const DiscoveryEnv& env);

}  // namespace laneway
