#include "config/model_sources.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace laneway {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i]) return false;
  }
  return true;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "x-00002-of-00005" (a stem) -> {"x", 2, 5}.
struct SplitStem {
  std::string prefix;
  uint32_t no = 0;
  uint32_t count = 0;
};
std::optional<SplitStem> parse_split_stem(std::string_view stem) {
  // <prefix>-NNNNN-of-NNNNN: 5-digit numbers, as llama.cpp's gguf-split names them.
  constexpr size_t kTail = 1 + 5 + 4 + 5;  // "-00001-of-00003"
  if (stem.size() <= kTail) return std::nullopt;
  const std::string_view tail = stem.substr(stem.size() - kTail);
  if (tail[0] != '-' || tail.substr(6, 4) != "-of-" || !all_digits(tail.substr(1, 5)) ||
      !all_digits(tail.substr(10, 5))) {
    return std::nullopt;
  }
  SplitStem s;
  s.prefix = std::string(stem.substr(0, stem.size() - kTail));
  s.no = static_cast<uint32_t>(std::stoul(std::string(tail.substr(1, 5))));
  s.count = static_cast<uint32_t>(std::stoul(std::string(tail.substr(10, 5))));
  if (s.no == 0 || s.count == 0 || s.no > s.count) return std::nullopt;
  return s;
}

std::string canonical_or_self(const fs::path& p) {
  std::error_code ec;
  auto c = fs::canonical(p, ec);
  return ec ? p.lexically_normal().string() : c.string();
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);  // follows symlinks
}

// Ollama's "sha256:<hex>" -> blobs/sha256-<hex>.
fs::path blob_path(const fs::path& root, const std::string& digest) {
  std::string name = digest;
  std::replace(name.begin(), name.end(), ':', '-');
  return root / "blobs" / name;
}

// The name Ollama shows for manifests/<registry>/<namespace>/<model>/<tag>.
std::string ollama_display_name(const std::string& registry, const std::string& ns, const std::string& model,
                                const std::string& tag) {
  std::string name = model + ":" + tag;
  if (registry == "registry.ollama.ai") return ns == "library" ? name : ns + "/" + name;
  return registry + "/" + ns + "/" + name;
}

}  // namespace

std::string lane_name_from(std::string_view original) {
  std::string out;
  out.reserve(original.size());
  for (char c : original) {
    if (c >= 'A' && c <= 'Z')
      out += static_cast<char>(c - 'A' + 'a');
    else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')
      out += c;
    else
      out += '-';
  }
  if (out.empty() || out == "auto") out = "model";
  return out;
}

namespace {

// scan_models_dir without the check for unique names.
Result<std::vector<ModelSource>> collect_gguf_files(const std::string& dir) {
  if (!is_dir(dir)) return not_found_error("models folder {} does not exist or is not a folder", dir);
  // Split parts grouped by (folder, prefix): which numbers were seen.
  struct SplitGroup {
    uint32_t count = 0;
    std::set<uint32_t> seen;
    fs::path first;
  };
  std::map<std::string, SplitGroup> splits;
  std::vector<ModelSource> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(
      dir, fs::directory_options::follow_directory_symlink | fs::directory_options::skip_permission_denied, ec);
  if (ec) return io_error("cannot read models folder {}: {}", dir, ec.message());
  std::set<std::string> visited_dirs{canonical_or_self(dir)};
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return io_error("cannot read models folder {}: {}", dir, ec.message());
    const fs::path p = it->path();
    if (is_dir(p)) {
      // A symlink loop would recurse for ever: each real folder once.
      if (!visited_dirs.insert(canonical_or_self(p)).second) it.disable_recursion_pending();
      continue;
    }
    const std::string file = p.filename().string();
    if (!ends_with_ci(file, ".gguf") || !is_file(p) || starts_with_ci(file, "mmproj")) continue;
    const std::string stem = file.substr(0, file.size() - 5);
    if (auto split = parse_split_stem(stem)) {
      SplitGroup& g = splits[(p.parent_path() / split->prefix).string()];
      if (g.count != 0 && g.count != split->count) {
        return invalid_argument_error("split model {} has parts that disagree on the number of parts ({} and {})",
                                      (p.parent_path() / split->prefix).string(), g.count, split->count);
      }
      g.count = split->count;
      g.seen.insert(split->no);
      if (split->no == 1) g.first = p;
      continue;
    }
    ModelSource s;
    s.original_name = stem;
    s.lane_name = lane_name_from(stem);
    s.path = p.string();
    s.origin = dir;
    out.push_back(std::move(s));
  }
  for (const auto& [prefix, g] : splits) {
    if (g.first.empty()) {
      return invalid_argument_error("split model {}: part 1 of {} ({}) is missing", prefix, g.count,
                                    fmt::format("{}-00001-of-{:05d}.gguf", prefix, g.count));
    }
    ModelSource s;
    s.original_name = fs::path(prefix).filename().string();
    s.lane_name = lane_name_from(s.original_name);
    s.path = g.first.string();
    s.split_count = g.count;
    s.origin = dir;
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const ModelSource& a, const ModelSource& b) { return a.path < b.path; });
  return out;
}

// One manifest file (manifests/<registry>/<namespace>/<model>/<tag>, split
// into its four parts) as a source.
Result<ModelSource> read_manifest(const fs::path& root, const std::string& manifest_path,
                                  const std::vector<std::string>& parts) {
  std::ifstream in(manifest_path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const json m = json::parse(text.str(), nullptr, false);
  if (m.is_discarded() || !m.is_object())
    return invalid_argument_error("Ollama manifest {} is not valid JSON", manifest_path);
  auto layers = m.find("layers");
  if (layers == m.end() || !layers->is_array()) {
    return invalid_argument_error("Ollama manifest {} has no 'layers' array", manifest_path);
  }
  ModelSource s;
  s.original_name = ollama_display_name(parts[0], parts[1], parts[2], parts[3]);
  s.lane_name = lane_name_from(s.original_name);
  s.origin = root.string();
  for (const auto& layer : *layers) {
    if (!layer.is_object() || !layer.value("mediaType", json()).is_string() ||
        !layer.value("digest", json()).is_string()) {
      return invalid_argument_error("Ollama manifest {}: a layer lacks 'mediaType' or 'digest'", manifest_path);
    }
    const std::string media = layer["mediaType"].get<std::string>();
    const std::string digest = layer["digest"].get<std::string>();
    if (digest.rfind("sha256:", 0) != 0 || digest.find('/') != std::string::npos) {
      return invalid_argument_error("Ollama manifest {}: layer digest '{}' is not sha256:<hex>", manifest_path, digest);
    }
    constexpr std::string_view kPrefix = "application/vnd.ollama.image.";
    const std::string kind = media.rfind(kPrefix, 0) == 0 ? media.substr(kPrefix.size()) : media;
    if (kind == "model") {
      if (!s.path.empty())
        return invalid_argument_error("Ollama manifest {} has more than one model layer", manifest_path);
      s.path = blob_path(root, digest).string();
    } else {
      s.ollama_layers.emplace_back(kind, blob_path(root, digest).string());
    }
  }
  if (s.path.empty())
    return invalid_argument_error("Ollama manifest {} has no model layer (application/vnd.ollama.image.model)",
                                  manifest_path);
  if (!is_file(s.path)) {
    return not_found_error("Ollama manifest {}: its model blob {} is missing", manifest_path, s.path);
  }
  return s;
}

// read_ollama_store without the check for unique names; with `notes`, a
// manifest that cannot be used is noted and skipped instead of failing.
Result<std::vector<ModelSource>> collect_ollama_store(const std::string& root_text, std::vector<std::string>* notes) {
  const fs::path root(root_text);
  const fs::path manifests = root / "manifests";
  if (!is_dir(manifests)) return not_found_error("{} is not an Ollama store: it has no manifests/ folder", root_text);
  std::vector<ModelSource> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(manifests, fs::directory_options::skip_permission_denied, ec);
  if (ec) return io_error("cannot read {}: {}", manifests.string(), ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return io_error("cannot read {}: {}", manifests.string(), ec.message());
    if (!is_file(it->path())) continue;
    // manifests/<registry>/<namespace>/<model>/<tag>: exactly four levels.
    const fs::path rel = it->path().lexically_relative(manifests);
    std::vector<std::string> parts;
    for (const auto& part : rel) parts.push_back(part.string());
    if (parts.size() != 4) continue;
    const std::string manifest_path = it->path().string();
    auto source = read_manifest(root, manifest_path, parts);
    if (!source) {
      if (!notes) return source.status();
      notes->push_back("skipped " + source.status().message());
      continue;
    }
    out.push_back(std::move(source).value());
  }
  std::sort(out.begin(), out.end(),
            [](const ModelSource& a, const ModelSource& b) { return a.original_name < b.original_name; });
  return out;
}

}  // namespace

Result<std::vector<ModelSource>> scan_models_dir(const std::string& dir) {
  LANEWAY_ASSIGN_OR_RETURN(auto out, collect_gguf_files(dir));
  LANEWAY_TRY(check_unique_lane_names(out));
  return out;
}

Result<std::vector<ModelSource>> read_ollama_store(const std::string& root) {
  LANEWAY_ASSIGN_OR_RETURN(auto out, collect_ollama_store(root, nullptr));
  LANEWAY_TRY(check_unique_lane_names(out));
  return out;
}

Status check_unique_lane_names(const std::vector<ModelSource>& sources) {
  std::map<std::string, const ModelSource*> names;  // lane names and aliases
  for (const auto& s : sources) {
    for (const std::string& n : {s.lane_name, s.original_name}) {
      auto [it, inserted] = names.emplace(n, &s);
      if (!inserted && it->second != &s) {
        return invalid_argument_error("{} and {} both give the lane name '{}'; rename one of the files",
                                      it->second->path, s.path, n);
      }
    }
  }
  return Status::ok();
}

LaneConfig lane_config_for(const ModelSource& source) {
  LaneConfig lane;
  lane.name = source.lane_name;
  lane.kind = LaneKind::embedded;
  lane.model_path = source.path;
  lane.load = LaneLoad::on_demand;  // LANES.md: lanes made from files load when asked for
  lane.from_model_source = true;
  if (source.original_name != source.lane_name) lane.aliases.push_back(source.original_name);
  return lane;
}

DiscoveryEnv process_discovery_env() {
  DiscoveryEnv env;
  if (const char* h = std::getenv("HOME")) env.home = h;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
  return env;
}

std::vector<DiscoveredStore> discover_model_stores(const DiscoveryEnv& env) {
  struct Place {
    std::string label;
    std::string path;
    StoreKind kind;
  };
  std::vector<Place> places;
  auto from_env = [&](const std::string& var, StoreKind kind) {
    if (!env.getenv) return;
    if (auto v = env.getenv(var)) places.push_back({"$" + var, *v, kind});
  };
  auto from_home = [&](const std::string& rel, StoreKind kind) {
    if (!env.home.empty()) places.push_back({"~/" + rel, (fs::path(env.home) / rel).string(), kind});
  };
  from_env("LANEWAY_MODELS", StoreKind::models_dir);
  from_home(".local/share/laneway/models", StoreKind::models_dir);
  from_env("OLLAMA_MODELS", StoreKind::ollama_store);
  from_home(".ollama/models", StoreKind::ollama_store);
  places.push_back(
      {"/usr/share/ollama/.ollama/models", env.root + "/usr/share/ollama/.ollama/models", StoreKind::ollama_store});
  from_home(".cache/huggingface/hub", StoreKind::models_dir);
  from_home(".cache/llama.cpp", StoreKind::models_dir);
  from_home(".lmstudio/models", StoreKind::models_dir);
  from_home(".cache/lm-studio/models", StoreKind::models_dir);

  std::vector<DiscoveredStore> out;
  std::set<std::string> searched;
  std::map<std::string, std::string> taken;  // lane name or alias -> file
  for (const Place& place : places) {
    if (!is_dir(place.path)) continue;
    if (!searched.insert(canonical_or_self(place.path)).second) continue;
    DiscoveredStore store;
    store.label = place.label;
    store.path = place.path;
    store.kind = place.kind;
    auto all = place.kind == StoreKind::ollama_store ? collect_ollama_store(place.path, &store.notes)
                                                     : collect_gguf_files(place.path);
    std::vector<ModelSource> found;
    if (all) {
      found = std::move(all).value();
    } else {
      store.notes.push_back(all.status().message());
    }
    for (auto& s : found) {
      const std::string canonical = canonical_or_self(s.path);
      auto clash = taken.find(s.lane_name);
      if (clash == taken.end()) clash = taken.find(s.original_name);
      if (clash != taken.end()) {
        if (clash->second != canonical) {
          store.notes.push_back(
              fmt::format("skipped {}: lane name '{}' is already taken by {}", s.path, s.lane_name, clash->second));
        }
        continue;
      }
      taken[s.lane_name] = canonical;
      taken[s.original_name] = canonical;
      store.models.push_back(std::move(s));
    }
    out.push_back(std::move(store));
  }
  return out;
}

}  // namespace laneway
