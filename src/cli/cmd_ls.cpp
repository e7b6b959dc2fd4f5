// laneway ls: the GGUF models on this machine, as `ollama ls` lists its own.
//   laneway ls [DIR] [--json]
// With DIR: every GGUF below it (or the models of an Ollama store, a folder
// with manifests/). Without: the places `laneway serve` searches when given
// no model (config/model_sources.h discover_model_stores). Each model with
// its architecture, parameters, main weight type, size, trained context and
// whether it fits this machine's usable memory at that context (the plan).
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "cli/units.h"
#include "config/model_sources.h"
#include "gguf/gguf.h"
#include "gguf/types.h"
#include "plan/machine_profile.h"
#include "plan/memory_plan.h"

namespace laneway::cli {
namespace {

struct LsFlags {
  std::string dir;
  bool json = false;
};

struct ModelRow {
  std::string name;
  std::string path;
  std::string architecture = "?";
  uint64_t params = 0;
  std::string type = "?";  // the tensor type holding the most bytes
  uint64_t size_bytes = 0;
  int64_t trained_context = 0;
  std::string fits;         // "yes", "no", or why it could not be planned
  uint64_t needs_bytes = 0;
  std::string error;        // the file could not be read
};

// "292K", "1.1B", "8.0B": parameters as model cards write them.
std::string format_params(uint64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.1f}B", double(n) / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.0f}M", double(n) / 1e6);
  return fmt::format("{:.0f}K", double(n) / 1e3);
}

ModelRow describe(const ModelSource& source, uint64_t usable_bytes) {
  ModelRow row;
  row.name = source.original_name.empty() ? source.lane_name : source.original_name;
  row.path = source.path;
  auto gguf = GgufModel::open(source.path);
  if (!gguf.is_ok()) {
    row.error = gguf.status().message();
    return row;
  }
  if (auto arch = gguf->meta().get_string("general.architecture"); arch.is_ok()) row.architecture = std::string(*arch);
  std::map<GgmlType, uint64_t> bytes_by_type;
  for (const auto& t : gguf->tensors()) {
    row.params += t.n_elements();
    bytes_by_type[t.type] += t.size_bytes;
  }
  uint64_t most = 0;
  for (const auto& [type, bytes] : bytes_by_type) {
    if (bytes > most) {
      most = bytes;
      row.type = std::string(ggml_type_name(type));
    }
  }
  row.size_bytes = gguf->total_size_bytes();
  auto model = plan_model_from_gguf(*gguf);
  if (!model.is_ok()) {
    row.fits = "cannot plan: " + model.status().message();
    return row;
  }
  row.trained_context = model->hp.n_ctx_train;
  auto bill = plan_memory(*model, PlanSettings{});
  if (!bill.is_ok()) {
    row.fits = "cannot plan: " + bill.status().message();
    return row;
  }
  row.needs_bytes = bill->total_bytes;
  row.fits = bill->total_bytes <= usable_bytes ? "yes" : "no";
  return row;
}

nlohmann::json to_json(const ModelRow& r) {
  nlohmann::json j = {{"name", r.name}, {"path", r.path}};
  if (!r.error.empty()) {
    j["error"] = r.error;
    return j;
  }
  j.update({{"architecture", r.architecture}, {"parameters", r.params}, {"type", r.type},
            {"size_bytes", r.size_bytes}, {"trained_context", r.trained_context},
            {"fits_at_trained_context", r.fits == "yes"}, {"needs_bytes", r.needs_bytes}});
  return j;
}

void print_rows(const std::vector<ModelRow>& rows) {
  std::printf("  %-32s %-10s %7s %-8s %10s %8s  %s\n", "NAME", "ARCH", "PARAMS", "TYPE", "SIZE", "CONTEXT",
              "FITS AT THAT CONTEXT");
  for (const auto& r : rows) {
    if (!r.error.empty()) {
      std::printf("  %-32s unreadable: %s\n", r.name.c_str(), r.error.c_str());
      continue;
    }
    const std::string fits = r.fits == "yes" || r.fits == "no"
                                 ? fmt::format("{} (needs {})", r.fits, format_bytes(r.needs_bytes))
                                 : r.fits;
    std::printf("  %-32s %-10s %7s %-8s %10s %8s  %s\n", r.name.c_str(), r.architecture.c_str(),
                format_params(r.params).c_str(), r.type.c_str(), format_bytes(r.size_bytes).c_str(),
                r.trained_context > 0 ? format_tokens(r.trained_context).c_str() : "?", fits.c_str());
  }
}

Status ls(const LsFlags& f) {
  LANEWAY_ASSIGN_OR_RETURN(UsableMemory usable, probe_usable_memory(probe_options()));
  std::vector<DiscoveredStore> stores;
  if (!f.dir.empty()) {
    DiscoveredStore store;
    store.label = f.dir;
    store.path = f.dir;
    if (std::filesystem::is_directory(std::filesystem::path(f.dir) / "manifests")) {
      store.kind = StoreKind::ollama_store;
      LANEWAY_ASSIGN_OR_RETURN(store.models, read_ollama_store(f.dir));
    } else {
      LANEWAY_ASSIGN_OR_RETURN(store.models, scan_models_dir(f.dir));
    }
    stores.push_back(std::move(store));
  } else {
    stores = discover_model_stores(process_discovery_env());
  }
  nlohmann::json out = nlohmann::json::array();
  size_t total = 0;
  for (const auto& store : stores) {
    std::vector<ModelRow> rows;
    for (const auto& m : store.models) rows.push_back(describe(m, usable.bytes));
    total += rows.size();
    if (f.json) {
      for (const auto& r : rows) {
        nlohmann::json j = to_json(r);
        j["store"] = store.path;
        out.push_back(std::move(j));
      }
      continue;
    }
    std::printf("%s%s: %zu model%s\n", store.label.c_str(),
                store.label == store.path ? "" : fmt::format(" ({})", store.path).c_str(), rows.size(),
                rows.size() == 1 ? "" : "s");
    if (!rows.empty()) print_rows(rows);
    for (const auto& note : store.notes) std::printf("  note: %s\n", note.c_str());
  }
  if (f.json) {
    std::puts(out.dump(2).c_str());
  } else if (total == 0) {
    std::printf("%s\n", f.dir.empty() ? "no GGUF models found where laneway serve looks ($LANEWAY_MODELS, "
                                        "~/.local/share/laneway/models, Ollama's store, the Hugging Face and llama.cpp "
                                        "caches, LM Studio's folder); list a folder with: laneway ls DIR"
                                      : "no GGUF models found there");
  } else {
    std::printf("usable memory: %s (%s)\n", format_bytes(usable.bytes).c_str(), usable.source.c_str());
  }
  return Status::ok();
}

}  // namespace

void register_ls(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<LsFlags>();
  auto* cmd = app.add_subcommand(
      "ls", "List GGUF models (in DIR, or where serve looks) with size, context and whether they fit");
  cmd->add_option("dir", f->dir, "A folder of GGUF files, or an Ollama store (default: where serve looks)");
  cmd->add_flag("--json", f->json, "Print JSON");
  cmd->callback([f, &exit_code] {
    Status st = ls(*f);
    if (!st.is_ok()) print_error("ls", st);
    exit_code = st.is_ok() ? kExitOk : kExitBadInput;
  });
}

}  // namespace laneway::cli
