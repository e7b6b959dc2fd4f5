// laneway inspect FILE [--json]: what a GGUF file holds, without reading tensor data.
#include <cstdio>
#include <map>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "gguf/gguf.h"

namespace laneway::cli {
namespace {

constexpr size_t kMaxArrayItems = 8;

nlohmann::json value_to_json(const GgufValue& v, size_t max_items) {
  switch (v.type()) {
    case GgufValueType::u8: case GgufValueType::u16: case GgufValueType::u32: case GgufValueType::u64:
      return *v.as_uint();
    case GgufValueType::i8: case GgufValueType::i16: case GgufValueType::i32: case GgufValueType::i64:
      return *v.as_int();
    case GgufValueType::f32: case GgufValueType::f64: return *v.as_float();
    case GgufValueType::boolean: return *v.as_bool();
    case GgufValueType::string: {
      std::string_view s = *v.as_string();
      return nlohmann::json(std::string(s));
    }
    case GgufValueType::array: {
      const uint64_t n = v.array_size();
      nlohmann::json items = nlohmann::json::array();
      for (uint64_t i = 0; i < n && i < max_items; ++i) items.push_back(value_to_json(v.array_at(i), max_items));
      if (n <= max_items) return items;
      return {{"type", "array"}, {"element_type", gguf_value_type_name(v.array_type())}, {"length", n},
              {"head", items}};
    }
  }
  return nullptr;
}

struct TypeTotal {
  uint64_t count = 0;
  uint64_t bytes = 0;
  uint64_t elements = 0;
};

std::string human_bytes(uint64_t b) {
  if (b >= (1ull << 30)) return fmt::format("{:.2f} GiB", double(b) / double(1ull << 30));
  if (b >= (1ull << 20)) return fmt::format("{:.2f} MiB", double(b) / double(1ull << 20));
  if (b >= (1ull << 10)) return fmt::format("{:.2f} KiB", double(b) / double(1ull << 10));
  return fmt::format("{} B", b);
}

// Tokenizer facts worth a line each; the rest of tokenizer.* is listed as metadata.
nlohmann::json tokenizer_summary(const GgufFile& f) {
  nlohmann::json t = nlohmann::json::object();
  if (auto m = f.get_string("tokenizer.ggml.model"); m.is_ok()) t["model"] = std::string(*m);
  if (auto p = f.get_string("tokenizer.ggml.pre"); p.is_ok()) t["pre"] = std::string(*p);
  if (const GgufValue* tokens = f.find("tokenizer.ggml.tokens"); tokens && tokens->is_array()) {
    t["vocab_size"] = tokens->array_size();
  }
  if (const GgufValue* merges = f.find("tokenizer.ggml.merges"); merges && merges->is_array()) {
    t["merges"] = merges->array_size();
  }
  for (const char* id : {"bos", "eos", "eot", "eom", "unknown", "padding", "seperator", "cls", "mask"}) {
    const std::string key = fmt::format("tokenizer.ggml.{}_token_id", id);
    if (const GgufValue* v = f.find(key)) {
      if (auto u = v->as_uint()) t[fmt::format("{}_token_id", id)] = *u;
    }
  }
  for (const char* flag : {"add_bos_token", "add_eos_token"}) {
    if (auto b = f.get_bool(fmt::format("tokenizer.ggml.{}", flag)); b.is_ok()) t[flag] = *b;
  }
  t["has_chat_template"] = f.contains("tokenizer.chat_template");
  return t;
}

nlohmann::json inspect_json(const GgufModel& model) {
  const GgufFile& f = model.meta();
  nlohmann::json j;
  j["file"] = f.name();
  j["gguf_version"] = f.version();
  j["alignment"] = f.alignment();
  j["data_offset"] = f.data_offset();
  j["file_size_bytes"] = model.total_size_bytes();
  j["split_count"] = model.files().size();
  std::string arch;
  if (auto a = f.get_string("general.architecture"); a.is_ok()) arch = std::string(*a);
  j["architecture"] = arch.empty() ? nlohmann::json(nullptr) : nlohmann::json(arch);
  if (auto n = f.get_string("general.name"); n.is_ok()) j["name"] = std::string(*n);

  nlohmann::json hparams = nlohmann::json::object();
  nlohmann::json metadata = nlohmann::json::object();
  const std::string arch_prefix = arch + ".";
  for (const auto& kv : f.metadata()) {
    const nlohmann::json v = value_to_json(kv.value, kMaxArrayItems);
    if (!arch.empty() && kv.key.starts_with(arch_prefix)) {
      hparams[std::string(kv.key.substr(arch_prefix.size()))] = v;
    } else {
      metadata[std::string(kv.key)] = v;
    }
  }
  j["hyperparameters"] = hparams;
  j["tokenizer"] = tokenizer_summary(f);
  j["metadata"] = metadata;

  nlohmann::json tensors = nlohmann::json::array();
  std::map<std::string, TypeTotal> totals;
  uint64_t total_bytes = 0;
  uint64_t total_elements = 0;
  for (const auto& t : model.tensors()) {
    nlohmann::json shape = nlohmann::json::array();
    for (uint32_t d = 0; d < t.n_dims; ++d) shape.push_back(t.ne[d]);
    nlohmann::json row = {{"name", std::string(t.name)}, {"type", ggml_type_name(t.type)}, {"shape", shape},
                          {"bytes", t.size_bytes}, {"offset", t.file_offset}};
    if (model.files().size() > 1) row["file_index"] = t.file_index;
    tensors.push_back(std::move(row));
    auto& tot = totals[std::string(ggml_type_name(t.type))];
    tot.count++;
    tot.bytes += t.size_bytes;
    tot.elements += t.n_elements();
    total_bytes += t.size_bytes;
    total_elements += t.n_elements();
  }
  j["tensors"] = tensors;
  nlohmann::json by_type = nlohmann::json::array();
  for (const auto& [type, tot] : totals) {
    by_type.push_back({{"type", type}, {"count", tot.count}, {"bytes", tot.bytes}, {"elements", tot.elements}});
  }
  j["totals_by_type"] = by_type;
  j["tensor_count"] = model.tensors().size();
  j["total_tensor_bytes"] = total_bytes;
  j["total_parameters"] = total_elements;
  return j;
}

void print_text(const GgufModel& model, const nlohmann::json& j) {
  const GgufFile& f = model.meta();
  auto out = [](const std::string& s) { std::fputs(s.c_str(), stdout); };
  out(fmt::format("file:          {}\n", f.name()));
  out(fmt::format("format:        GGUF v{}, {} metadata keys, {} tensors, alignment {}, data at byte {}\n",
                  f.version(), f.metadata().size(), model.tensors().size(), f.alignment(), f.data_offset()));
  if (model.files().size() > 1) out(fmt::format("split:         {} files\n", model.files().size()));
  out(fmt::format("size:          {} ({} bytes)\n", human_bytes(model.total_size_bytes()), model.total_size_bytes()));
  out(fmt::format("architecture:  {}\n", j["architecture"].is_null() ? "(none)" : j["architecture"].get<std::string>()));
  if (j.contains("name")) out(fmt::format("name:          {}\n", j["name"].get<std::string>()));

  const std::string arch = j["architecture"].is_null() ? "" : j["architecture"].get<std::string>();
  out("\nhyperparameters:\n");
  for (const auto& kv : f.metadata()) {
    if (!arch.empty() && kv.key.starts_with(arch + ".")) {
      out(fmt::format("  {:<40} {}\n", kv.key.substr(arch.size() + 1), kv.value.to_display_string(kMaxArrayItems)));
    }
  }
  out("\ntokenizer:\n");
  for (const auto& [k, v] : j["tokenizer"].items()) out(fmt::format("  {:<40} {}\n", k, v.dump()));
  out("\nmetadata:\n");
  for (const auto& kv : f.metadata()) {
    if (!arch.empty() && kv.key.starts_with(arch + ".")) continue;
    out(fmt::format("  {:<40} {:<8} {}\n", kv.key,
                    kv.value.is_array() ? fmt::format("{}[]", gguf_value_type_name(kv.value.array_type()))
                                        : std::string(gguf_value_type_name(kv.value.type())),
                    kv.value.to_display_string(kMaxArrayItems)));
  }
  out(fmt::format("\ntensors ({}):\n", model.tensors().size()));
  out(fmt::format("  {:<36} {:<8} {:<24} {:>14} {:>14}\n", "name", "type", "shape", "bytes", "offset"));
  for (const auto& t : model.tensors()) {
    out(fmt::format("  {:<36} {:<8} {:<24} {:>14} {:>14}\n", t.name, ggml_type_name(t.type), t.shape_string(),
                    t.size_bytes, t.file_offset));
  }
  out("\ntotals by type:\n");
  for (const auto& row : j["totals_by_type"]) {
    out(fmt::format("  {:<8} {:>5} tensors {:>14} elements {:>12}\n", row["type"].get<std::string>(),
                    row["count"].get<uint64_t>(), row["elements"].get<uint64_t>(),
                    human_bytes(row["bytes"].get<uint64_t>())));
  }
  out(fmt::format("  total    {:>5} tensors {:>14} elements {:>12}\n", model.tensors().size(),
                  j["total_parameters"].get<uint64_t>(), human_bytes(j["total_tensor_bytes"].get<uint64_t>())));
}

}  // namespace

void register_inspect(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("inspect", "Show a GGUF file's metadata, tokenizer and tensors (reads no tensor data)");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("file", *path, "GGUF file (any part of a split model)")->required();
  cmd->add_flag("--json", *json, "Print JSON instead of text");
  cmd->callback([path, json, &exit_code] {
    auto model = GgufModel::open(*path);
    if (!model.is_ok()) {
      std::fprintf(stderr, "laneway inspect: %s\n", model.status().to_string().c_str());
      exit_code = kExitBadInput;
      return;
    }
    const nlohmann::json j = inspect_json(*model);
    if (*json) {
      std::fputs(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str(), stdout);
      std::fputc('\n', stdout);
    } else {
      print_text(*model, j);
    }
    exit_code = kExitOk;
  });
}

}  // namespace laneway::cli
