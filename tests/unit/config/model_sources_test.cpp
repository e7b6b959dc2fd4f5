#include "config/model_sources.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "support/testdata.h"

namespace laneway {
namespace {

namespace fs = std::filesystem;

void touch(const fs::path& p, const std::string& text = "GGUF") {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::vector<std::string> lane_names(const std::vector<ModelSource>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) out.push_back(s.lane_name);
  return out;
}

// An Ollama store: manifests/<registry>/<ns>/<model>/<tag> -> blobs/sha256-<hex>.
struct FakeStore {
  fs::path root;
  int next = 0;
  std::string add_blob(const fs::path& from_file) {
    const std::string hex = fmt::format("{:064x}", ++next);
    fs::create_directories(root / "blobs");
    fs::create_symlink(from_file, root / "blobs" / ("sha256-" + hex));
    return "sha256:" + hex;
  }
  std::string add_text_blob(const std::string& text) {
    const std::string hex = fmt::format("{:064x}", ++next);
    touch(root / "blobs" / ("sha256-" + hex), text);
    return "sha256:" + hex;
  }
  void add_manifest(const std::string& registry, const std::string& ns, const std::string& model,
                    const std::string& tag, const std::string& body) {
    touch(root / "manifests" / registry / ns / model / tag, body);
  }
  void add_model(const std::string& registry, const std::string& ns, const std::string& model, const std::string& tag,
                 const fs::path& gguf) {
    const std::string m = add_blob(gguf);
    const std::string t = add_text_blob("{{ .Prompt }}");
    const std::string p = add_text_blob(R"({"stop": ["</s>"]})");
    add_manifest(registry, ns, model, tag,
                 R"({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                     "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": "sha256:00", "size": 1},
                     "layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": ")" + m + R"(", "size": 1},
                                {"mediaType": "application/vnd.ollama.image.template", "digest": ")" + t + R"(", "size": 1},
                                {"mediaType": "application/vnd.ollama.image.params", "digest": ")" + p + R"(", "size": 1}]})");
  }
};

TEST(ModelSources, LaneNamesFromFileNames) {
  EXPECT_EQ(lane_name_from("Llama-3.2-3B.Q4_K_M"), "llama-3-2-3b-q4_k_m");
  EXPECT_EQ(lane_name_from("llama3.2:3b"), "llama3-2-3b");
  EXPECT_EQ(lane_name_from("stories260K"), "stories260k");
  EXPECT_EQ(lane_name_from("hf.co/org/Model:Q8_0"), "hf-co-org-model-q8_0");
  EXPECT_EQ(lane_name_from(""), "model");
  EXPECT_EQ(lane_name_from("auto"), "model");
  EXPECT_EQ(lane_name_from("Ünï"), "--n--");  // each byte outside [a-z0-9_-] becomes one '-'
}

TEST(ModelSources, ScanFindsGgufsAndSplitModelsAsOne) {
  const fs::path dir = test::scratch_dir("model_sources_scan");
  touch(dir / "Stories260K.gguf");
  touch(dir / "sub" / "Qwen2.5-7B-Instruct-00001-of-00003.gguf");
  touch(dir / "sub" / "Qwen2.5-7B-Instruct-00002-of-00003.gguf");
  touch(dir / "sub" / "Qwen2.5-7B-Instruct-00003-of-00003.gguf");
  touch(dir / "sub" / "mmproj-model-f16.gguf");  // a vision projector, not a model
  touch(dir / "notes.txt");
  touch(dir / "deep" / "er" / "tiny.GGUF");
  auto found = scan_models_dir(dir.string());
  ASSERT_TRUE(found.is_ok()) << found.status().to_string();
  std::map<std::string, ModelSource> by_name;
  for (const auto& s : *found) by_name[s.lane_name] = s;
  ASSERT_EQ(by_name.size(), 3u) << ::testing::PrintToString(lane_names(*found));
  EXPECT_EQ(by_name["stories260k"].original_name, "Stories260K");
  EXPECT_EQ(by_name["stories260k"].path, (dir / "Stories260K.gguf").string());
  const ModelSource& split = by_name["qwen2-5-7b-instruct"];
  EXPECT_EQ(split.original_name, "Qwen2.5-7B-Instruct");
  EXPECT_EQ(split.split_count, 3u);
  EXPECT_EQ(split.path, (dir / "sub" / "Qwen2.5-7B-Instruct-00001-of-00003.gguf").string());
  EXPECT_EQ(by_name["tiny"].original_name, "tiny");

  // The lane keeps the original name as its alias (only when it differs).
  const LaneConfig lane = lane_config_for(split);
  EXPECT_EQ(lane.name, "qwen2-5-7b-instruct");
  EXPECT_EQ(lane.aliases, std::vector<std::string>{"Qwen2.5-7B-Instruct"});
  EXPECT_TRUE(lane.embedded());
  EXPECT_EQ(lane.model_path, split.path);
  EXPECT_TRUE(lane_config_for(by_name["tiny"]).aliases.empty());
}

TEST(ModelSources, CollisionsNameBothFiles) {
  const fs::path dir = test::scratch_dir("model_sources_collide");
  touch(dir / "a" / "My.Model.gguf");
  touch(dir / "b" / "my-model.gguf");
  auto found = scan_models_dir(dir.string());
  ASSERT_FALSE(found.is_ok());
  const std::string msg = found.status().message();
  EXPECT_NE(msg.find((dir / "a" / "My.Model.gguf").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find((dir / "b" / "my-model.gguf").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("my-model"), std::string::npos) << msg;
}

TEST(ModelSources, SplitWithoutFirstPartAndMissingFolder) {
  const fs::path dir = test::scratch_dir("model_sources_split_missing");
  touch(dir / "big-00002-of-00002.gguf");
  auto found = scan_models_dir(dir.string());
  ASSERT_FALSE(found.is_ok());
  EXPECT_NE(found.status().message().find("big-00001-of-00002.gguf"), std::string::npos) << found.status().message();
  auto none = scan_models_dir((dir / "nope").string());
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), StatusCode::not_found);
}

TEST(ModelSources, ReadsAnOllamaStore) {
  const std::string gguf = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(gguf);
  FakeStore store{test::scratch_dir("model_sources_ollama")};
  store.add_model("registry.ollama.ai", "library", "stories", "260k", gguf);
  store.add_model("registry.ollama.ai", "someone", "tales", "latest", gguf);
  store.add_model("hf.co", "org", "Tiny-GGUF", "Q8_0", gguf);
  auto found = read_ollama_store(store.root.string());
  ASSERT_TRUE(found.is_ok()) << found.status().to_string();
  ASSERT_EQ(found->size(), 3u);
  std::map<std::string, ModelSource> by_name;
  for (const auto& s : *found) by_name[s.original_name] = s;
  ASSERT_TRUE(by_name.count("stories:260k"));
  ASSERT_TRUE(by_name.count("someone/tales:latest"));
  ASSERT_TRUE(by_name.count("hf.co/org/Tiny-GGUF:Q8_0"));
  const ModelSource& s = by_name["stories:260k"];
  EXPECT_EQ(s.lane_name, "stories-260k");
  EXPECT_EQ(fs::path(s.path).parent_path(), store.root / "blobs");
  EXPECT_EQ(fs::file_size(s.path), fs::file_size(gguf));  // the blob is the GGUF
  ASSERT_EQ(s.ollama_layers.size(), 2u);
  EXPECT_EQ(s.ollama_layers[0].first, "template");
  EXPECT_EQ(s.ollama_layers[1].first, "params");
  EXPECT_EQ(lane_config_for(s).aliases, std::vector<std::string>{"stories:260k"});
}

TEST(ModelSources, BrokenOllamaManifests) {
  FakeStore store{test::scratch_dir("model_sources_ollama_broken")};
  store.add_manifest("registry.ollama.ai", "library", "bad", "latest", "{not json");
  auto r = read_ollama_store(store.root.string());
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("bad"), std::string::npos) << r.status().message();

  FakeStore missing{test::scratch_dir("model_sources_ollama_noblob")};
  missing.add_manifest("registry.ollama.ai", "library", "gone", "latest",
                       R"({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:)" +
                           std::string(64, 'f') + R"("}]})");
  r = read_ollama_store(missing.root.string());
  ASSERT_FALSE(r.is_ok());
  EXPECT_NE(r.status().message().find("missing"), std::string::npos) << r.status().message();

  FakeStore escape{test::scratch_dir("model_sources_ollama_escape")};
  escape.add_manifest("registry.ollama.ai", "library", "evil", "latest",
                      R"({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:../../etc/passwd"}]})");
  EXPECT_FALSE(read_ollama_store(escape.root.string()).is_ok());
  EXPECT_EQ(read_ollama_store(test::scratch_dir("model_sources_not_a_store").string()).status().code(),
            StatusCode::not_found);
}

TEST(ModelSources, DiscoverySearchesTheUsualPlacesOnce) {
  const std::string gguf = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(gguf);
  const fs::path home = test::scratch_dir("model_sources_discover_home");
  const fs::path root = test::scratch_dir("model_sources_discover_root");
  const fs::path own = test::scratch_dir("model_sources_discover_own");
  touch(own / "Mine.gguf");
  touch(home / ".local/share/laneway/models/local.gguf");
  FakeStore ollama{home / ".ollama/models"};
  ollama.add_model("registry.ollama.ai", "library", "stories", "260k", gguf);
  ollama.add_manifest("registry.ollama.ai", "library", "broken", "latest", "{");
  FakeStore system_store{root / "usr/share/ollama/.ollama/models"};
  system_store.add_model("registry.ollama.ai", "library", "sys", "latest", gguf);
  touch(home / ".cache/huggingface/hub/models--org--repo/snapshots/abc/Repo-Q4_K_M.gguf");
  touch(home / ".cache/huggingface/hub/models--org--repo/snapshots/def/Repo-Q4_K_M.gguf", "other");
  touch(home / ".cache/llama.cpp/org_repo_model.gguf");
  touch(home / ".lmstudio/models/pub/repo/lm.gguf");
  touch(home / ".cache/lm-studio/models/pub/repo/lm2.gguf");

  DiscoveryEnv env;
  env.home = home.string();
  env.root = root.string();
  std::map<std::string, std::string> vars = {{"LANEWAY_MODELS", own.string()},
                                             {"OLLAMA_MODELS", (home / ".ollama/models").string()}};
  env.getenv = [&](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  const auto stores = discover_model_stores(env);
  std::vector<std::string> labels;
  std::map<std::string, const DiscoveredStore*> by_label;
  for (const auto& s : stores) {
    labels.push_back(s.label);
    by_label[s.label] = &s;
  }
  // $OLLAMA_MODELS names ~/.ollama/models: searched once, under the variable.
  EXPECT_EQ(labels, (std::vector<std::string>{"$LANEWAY_MODELS", "~/.local/share/laneway/models", "$OLLAMA_MODELS",
                                              "/usr/share/ollama/.ollama/models", "~/.cache/huggingface/hub",
                                              "~/.cache/llama.cpp", "~/.lmstudio/models", "~/.cache/lm-studio/models"}));
  ASSERT_EQ(by_label["$LANEWAY_MODELS"]->models.size(), 1u);
  EXPECT_EQ(by_label["$LANEWAY_MODELS"]->models[0].lane_name, "mine");
  const DiscoveredStore& o = *by_label["$OLLAMA_MODELS"];
  EXPECT_EQ(o.kind, StoreKind::ollama_store);
  ASSERT_EQ(o.models.size(), 1u);
  EXPECT_EQ(o.models[0].original_name, "stories:260k");
  ASSERT_EQ(o.notes.size(), 1u);  // the broken manifest is reported, not fatal
  EXPECT_NE(o.notes[0].find("broken"), std::string::npos) << o.notes[0];
  ASSERT_EQ(by_label["/usr/share/ollama/.ollama/models"]->models.size(), 1u);
  // Two snapshots of one repo give one name: the first is kept, the other noted with both files.
  const DiscoveredStore& hf = *by_label["~/.cache/huggingface/hub"];
  ASSERT_EQ(hf.models.size(), 1u);
  EXPECT_EQ(hf.models[0].lane_name, "repo-q4_k_m");
  ASSERT_EQ(hf.notes.size(), 1u);
  EXPECT_NE(hf.notes[0].find("snapshots/def/Repo-Q4_K_M.gguf"), std::string::npos) << hf.notes[0];
  EXPECT_NE(hf.notes[0].find("snapshots/abc/Repo-Q4_K_M.gguf"), std::string::npos) << hf.notes[0];
  EXPECT_EQ(by_label["~/.lmstudio/models"]->models.at(0).lane_name, "lm");

  // Nothing there: nothing found, no error.
  DiscoveryEnv empty;
  empty.home = test::scratch_dir("model_sources_discover_empty").string();
  empty.root = empty.home;
  EXPECT_TRUE(discover_model_stores(empty).empty());
}

}  // namespace
}  // namespace laneway
