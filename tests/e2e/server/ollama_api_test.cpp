// Ollama's API on `laneway serve`, over raw HTTP: bad input on every route
// answered in Ollama's error shape {"error": "..."} while the server keeps
// serving; NDJSON streams; num_predict's negative values; models reached
// through --models-dir and through an Ollama store built from the test model.
#include <gtest/gtest.h>

#include <atomic>
#include <ctime>
#include <thread>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// sha256 of stories260K.gguf (../shared/testdata/PROVENANCE.md, section 1).
constexpr const char* kStoriesSha256 = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";

const std::map<std::string, std::string> kKey = {{"Authorization", "Bearer sk-test"}};

// Two embedded lanes (one with a small body limit) and an upstream lane.
std::string config_text(const std::string& model) {
  return "server:\n  api_keys: [ \"sk-test\" ]\n  max_body_bytes: 64KiB\n"
         "services:\n  - name: nowhere\n    url: http://127.0.0.1:9/v1\n"
         "lanes:\n"
         "  - name: stories\n    aliases: [ \"tiny:1b\" ]\n    model: " + model + "\n    context: 128\n    slots: 2\n    default: true\n"
         "  - name: small_body\n    model: " + model + "\n    context: 128\n    max_body_bytes: 1KiB\n"
         "  - name: remote\n    service: nowhere\n";
}

// The objects of an NDJSON body, one per line.
std::vector<json> ndjson(const std::string& body) {
  std::vector<json> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out.push_back(json::parse(line, nullptr, false));
  }
  return out;
}

TEST(ServerOllamaApi, BadInputGetsOllamaShapedErrorsAndTheServerKeepsServing) {
  const std::string model = stories_model_path();
  LANEWAY_REQUIRE_FILE(model);
  const auto dir = scratch_dir("server_ollama_bad_input");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << config_text(model);
  ServerProcess server({"--config", config, "--port", "0", "--health-interval-ms", "100000"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();

  struct Case {
    std::string name, method, target, body;
    int status;
    std::string needle;  // must appear in the error message
    std::map<std::string, std::string> headers = kKey;
  };
  const std::string gen = "/api/generate";
  const std::string chat = "/api/chat";
  std::string long_prompt;
  for (int i = 0; i < 100; ++i) long_prompt += "Once upon a time there was a cat. ";
  const std::vector<Case> cases = {
      {"malformed json", "POST", gen, R"({"model":)", 400, "not valid JSON"},
      {"empty body", "POST", chat, "", 400, "empty"},
      {"body is an array", "POST", gen, "[1]", 400, "JSON object"},
      {"model missing", "POST", gen, R"({"prompt":"hi"})", 400, "model is required"},
      {"model wrong type", "POST", chat, R"({"model":5,"messages":[]})", 400, "'model'"},
      {"unknown model", "POST", gen, R"({"model":"llama3.2","prompt":"hi"})", 404, "not found"},
      {"unknown tag", "POST", gen, R"({"model":"stories:7b","prompt":"hi"})", 404, "not found"},
      {"upstream lane", "POST", gen, R"({"model":"remote","prompt":"hi"})", 400, "upstream lane"},
      {"prompt wrong type", "POST", gen, R"({"model":"stories","prompt":["hi"]})", 400, "'prompt'"},
      {"stream wrong type", "POST", gen, R"({"model":"stories","prompt":"hi","stream":"no"})", 400, "'stream'"},
      {"options not an object", "POST", gen, R"({"model":"stories","prompt":"hi","options":[1]})", 400, "'options'"},
      {"temperature string", "POST", gen, R"({"model":"stories","prompt":"hi","options":{"temperature":"hot"}})", 400,
       "options.temperature"},
      {"temperature negative", "POST", gen, R"({"model":"stories","prompt":"hi","options":{"temperature":-1}})", 400,
       "temperature"},
      {"num_predict string", "POST", gen, R"({"model":"stories","prompt":"hi","options":{"num_predict":"5"}})", 400,
       "options.num_predict"},
      {"num_predict fraction", "POST", gen, R"({"model":"stories","prompt":"hi","options":{"num_predict":2.5}})", 400,
       "options.num_predict"},
      {"num_ctx zero", "POST", gen, R"({"model":"stories","prompt":"hi","options":{"num_ctx":0}})", 400, "options.num_ctx"},
      {"top_k negative", "POST", chat, R"({"model":"stories","messages":[],"options":{"top_k":-2}})", 400, "options.top_k"},
      {"stop not an array", "POST", gen, R"({"model":"stories","prompt":"hi","options":{"stop":"x"}})", 400, "options.stop"},
      {"seed boolean", "POST", gen, R"({"model":"stories","prompt":"hi","options":{"seed":true}})", 400, "options.seed"},
      {"keep_alive bad string", "POST", gen, R"({"model":"stories","prompt":"hi","keep_alive":"later"})", 400, "keep_alive"},
      {"keep_alive number without unit", "POST", gen, R"({"model":"stories","prompt":"hi","keep_alive":"10"})", 400,
       "keep_alive"},
      {"keep_alive object", "POST", chat, R"({"model":"stories","messages":[],"keep_alive":{}})", 400, "keep_alive"},
      {"format json", "POST", gen, R"({"model":"stories","prompt":"hi","format":"json"})", 400, "'format'"},
      {"format schema", "POST", chat, R"({"model":"stories","messages":[],"format":{"type":"object"}})", 400, "'format'"},
      {"images", "POST", gen, R"({"model":"stories","prompt":"hi","images":["aGk="]})", 400, "'images'"},
      {"tools", "POST", chat, R"({"model":"stories","messages":[],"tools":[{"type":"function"}]})", 400, "'tools'"},
      {"template", "POST", gen, R"({"model":"stories","prompt":"hi","template":"{{ .Prompt }}"})", 400, "'template'"},
      {"messages not an array", "POST", chat, R"({"model":"stories","messages":"hi"})", 400, "'messages'"},
      {"message role unknown", "POST", chat, R"({"model":"stories","messages":[{"role":"cat","content":"x"}]})", 400,
       "messages[0].role"},
      {"message content number", "POST", chat, R"({"model":"stories","messages":[{"role":"user","content":1}]})", 400,
       "messages[0].content"},
      {"context outside the vocabulary", "POST", gen, R"({"model":"stories","prompt":"hi","context":[1,99999]})", 400,
       "vocabulary"},
      {"prompt longer than the context", "POST", gen, R"({"model":"stories","prompt":")" + long_prompt + R"("})", 400,
       "context"},
      {"prompt longer than num_ctx", "POST", gen,
       R"({"model":"stories","prompt":"Once upon a time there was","options":{"num_ctx":3}})", 400, "num_ctx"},
      {"body over the lane's limit", "POST", gen,
       R"({"model":"small_body","prompt":")" + std::string(2000, 'x') + R"("})", 413, "limit"},
      {"embed", "POST", "/api/embed", R"({"model":"stories","input":"hi"})", 501, "embedding"},
      {"embeddings", "POST", "/api/embeddings", R"({"model":"stories","prompt":"hi"})", 501, "embedding"},
      {"pull", "POST", "/api/pull", R"({"model":"llama3.2"})", 501, "configured paths"},
      {"delete", "DELETE", "/api/delete", R"({"model":"stories"})", 501, "configured paths"},
      {"create", "POST", "/api/create", R"({"model":"x"})", 501, "configured paths"},
      {"copy", "POST", "/api/copy", R"({"source":"stories","destination":"x"})", 501, "configured paths"},
      {"push", "POST", "/api/push", R"({"model":"stories"})", 501, "configured paths"},
      {"unknown api route", "GET", "/api/frobnicate", "", 404, "unknown route"},
      {"show without model", "POST", "/api/show", "{}", 400, "model is required"},
      {"show unknown model", "POST", "/api/show", R"({"model":"nope"})", 404, "not found"},
      {"wrong method on generate", "GET", gen, "", 405, "POST"},
      {"wrong method on tags", "POST", "/api/tags", "{}", 405, "GET"},
      {"missing key", "GET", "/api/tags", "", 401, "unauthorized", {}},
      {"wrong key", "POST", gen, R"({"model":"stories","prompt":"hi"})", 401, "unauthorized",
       {{"Authorization", "Bearer sk-nope"}}},
  };
  ASSERT_GE(cases.size(), 20u);
  for (const auto& c : cases) {
    auto headers = c.headers;
    if (c.method == "POST") headers.emplace("Content-Type", "application/json");
    HttpResponse r = http_request(port, c.method, c.target, c.body, headers);
    EXPECT_EQ(r.status, c.status) << c.name << ": " << r.body << r.error;
    const json j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << c.name << ": body is not a JSON object: " << r.body;
    // Ollama's shape: one string field, "error".
    ASSERT_EQ(j.size(), 1u) << c.name << ": " << r.body;
    ASSERT_TRUE(j.contains("error") && j["error"].is_string()) << c.name << ": " << r.body;
    EXPECT_NE(j["error"].get<std::string>().find(c.needle), std::string::npos) << c.name << ": " << r.body;
    ASSERT_TRUE(server.alive()) << "server died on: " << c.name << "\n" << server.output();
  }

  // Still serving, on both APIs; "/" answers as Ollama does, without a key.
  HttpResponse root = http_get(port, "/");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, "Ollama is running");
  EXPECT_EQ(http_request(port, "HEAD", "/").status, 200);
  HttpResponse version = http_request(port, "GET", "/api/version", "", kKey);
  EXPECT_EQ(version.status, 200);
  EXPECT_TRUE(json::parse(version.body)["version"].is_string()) << version.body;
  HttpResponse ok = http_post(port, gen, R"({"model":"stories","prompt":"Once","stream":false,"options":{"num_predict":3}})", kKey);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(http_post(port, "/v1/completions", R"({"prompt":"Once","max_tokens":2})", kKey).status, 200);

  // Every request above is counted under a fixed route label.
  HttpResponse metrics = http_request(port, "GET", "/metrics", "", kKey);
  EXPECT_NE(metrics.body.find("route=\"/api/generate\""), std::string::npos);
  EXPECT_NE(metrics.body.find("route=\"/api/*\""), std::string::npos);
  EXPECT_EQ(metrics.body.find("frobnicate"), std::string::npos);
  EXPECT_TRUE(server.alive());
}

TEST(ServerOllamaApi, NdjsonStreamsAndNumPredictSemantics) {
  const std::string model = stories_model_path();
  LANEWAY_REQUIRE_FILE(model);
  ServerProcess server({"-m", model, "--port", "0", "--ctx", "64"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();

  // Streamed by default: NDJSON, done:false chunks, then the final object.
  HttpResponse s = http_post(port, "/api/generate", R"({"model":"stories260k","prompt":"Once upon a time","options":{"temperature":0,"num_predict":12}})");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(s.headers["content-type"], "application/x-ndjson");
  const auto lines = ndjson(s.body);
  ASSERT_GE(lines.size(), 2u) << s.body;
  std::string text;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    ASSERT_FALSE(lines[i].is_discarded());
    EXPECT_EQ(lines[i]["done"], false);
    EXPECT_EQ(lines[i]["model"], "stories260k");
    text += lines[i]["response"].get<std::string>();
  }
  const json& fin = lines.back();
  EXPECT_EQ(fin["done"], true);
  EXPECT_EQ(fin["done_reason"], "length");
  EXPECT_EQ(fin["eval_count"], 12);
  EXPECT_GT(fin["prompt_eval_count"].get<int64_t>(), 0);
  EXPECT_GT(fin["total_duration"].get<int64_t>(), 0);
  EXPECT_GE(fin["total_duration"].get<int64_t>(), fin["eval_duration"].get<int64_t>());
  EXPECT_TRUE(fin["created_at"].is_string() && fin["created_at"].get<std::string>().back() == 'Z') << fin.dump();
  // context = prompt tokens + generated tokens.
  EXPECT_EQ(fin["context"].size(), fin["prompt_eval_count"].get<size_t>() + 12);

  // Not streamed: the same text in one object.
  HttpResponse whole = http_post(port, "/api/generate", R"({"model":"stories260k","prompt":"Once upon a time","stream":false,"options":{"temperature":0,"num_predict":12}})");
  ASSERT_EQ(whole.status, 200) << whole.body;
  EXPECT_EQ(json::parse(whole.body)["response"], text);

  // The context of an answer continues it.
  const json ctx = fin["context"];
  HttpResponse cont = http_post(port, "/api/generate", json{{"model", "stories260k"}, {"prompt", " The end."},
                                                            {"context", ctx}, {"stream", false},
                                                            {"options", {{"temperature", 0}, {"num_predict", 2}}}}.dump());
  ASSERT_EQ(cont.status, 200) << cont.body;
  EXPECT_GT(json::parse(cont.body)["prompt_eval_count"].get<size_t>(), ctx.size());

  // num_predict -1 ("infinite") and -2 ("fill the context") end at the
  // context (64 tokens) unless the model stops first; 0 generates nothing.
  for (int n : {-1, -2}) {
    HttpResponse r = http_post(port, "/api/generate", json{{"model", "stories260k"}, {"prompt", "Once upon a time"},
                                                           {"stream", false},
                                                           {"options", {{"temperature", 0}, {"num_predict", n}}}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    const json j = json::parse(r.body);
    EXPECT_LE(j["prompt_eval_count"].get<int64_t>() + j["eval_count"].get<int64_t>(), 64) << n;
    if (j["done_reason"] == "length") {
      EXPECT_EQ(j["prompt_eval_count"].get<int64_t>() + j["eval_count"].get<int64_t>(), 64) << n;
    }
  }
  HttpResponse zero = http_post(port, "/api/generate", R"({"model":"stories260k","prompt":"Once","stream":false,"options":{"num_predict":0}})");
  ASSERT_EQ(zero.status, 200) << zero.body;
  EXPECT_EQ(json::parse(zero.body)["eval_count"], 0);
  EXPECT_EQ(json::parse(zero.body)["response"], "");

  // No prompt: the model is loaded, done at once (Ollama's "load").
  HttpResponse load = http_post(port, "/api/generate", R"({"model":"stories260k","keep_alive":"10m"})");
  ASSERT_EQ(load.status, 200) << load.body;
  EXPECT_EQ(json::parse(load.body)["done_reason"], "load");
  HttpResponse chat_load = http_post(port, "/api/chat", R"({"model":"stories260k","messages":[]})");
  ASSERT_EQ(chat_load.status, 200) << chat_load.body;
  EXPECT_EQ(json::parse(chat_load.body)["done_reason"], "load");

  // Chat streams message chunks.
  HttpResponse c = http_post(port, "/api/chat", R"({"model":"stories260k:latest","messages":[{"role":"user","content":"Hi"}],"options":{"temperature":0,"num_predict":5}})");
  ASSERT_EQ(c.status, 200) << c.body;
  const auto chat_lines = ndjson(c.body);
  ASSERT_GE(chat_lines.size(), 2u);
  EXPECT_EQ(chat_lines.front()["message"]["role"], "assistant");
  EXPECT_EQ(chat_lines.back()["done"], true);
  EXPECT_EQ(chat_lines.back()["eval_count"], 5);
}

// A tiny Ollama store from the test model: the blob named by its sha256.
fs::path make_ollama_store(const std::string& gguf, const std::string& name) {
  const fs::path root = scratch_dir(name);
  fs::create_directories(root / "blobs");
  const std::string blob = std::string("sha256-") + kStoriesSha256;
  fs::create_symlink(gguf, root / "blobs" / blob);
  std::ofstream(root / "blobs" / ("sha256-" + std::string(64, '1'))) << "{{ .Prompt }}";
  const fs::path manifest = root / "manifests/registry.ollama.ai/library/stories/260k";
  fs::create_directories(manifest.parent_path());
  std::ofstream(manifest) << json{{"schemaVersion", 2},
                                  {"layers",
                                   {{{"mediaType", "application/vnd.ollama.image.model"},
                                     {"digest", std::string("sha256:") + kStoriesSha256}},
                                    {{"mediaType", "application/vnd.ollama.image.template"},
                                     {"digest", "sha256:" + std::string(64, '1')}}}}}
                                 .dump();
  return root;
}

TEST(ServerOllamaApi, ModelsFromAnOllamaStoreAndAModelsDir) {
  const std::string model = stories_model_path();
  LANEWAY_REQUIRE_FILE(model);
  const fs::path store = make_ollama_store(model, "server_ollama_store");
  const fs::path models = scratch_dir("server_ollama_models_dir");
  fs::copy_file(model, models / "stories260K.gguf");
  fs::create_directories(models / "more");
  fs::copy_file(model, models / "more" / "Tiny Tales.gguf");
  ServerProcess server({"--ollama-models", store.string(), "--models-dir", models.string(), "--port", "0", "--ctx", "128",
                        "--no-discover"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  // Lanes made from files load on demand: nothing is resident yet.
  EXPECT_EQ(json::parse(http_get(port, "/api/ps").body)["models"].size(), 0u);

  HttpResponse tags = http_get(port, "/api/tags");
  ASSERT_EQ(tags.status, 200) << tags.body;
  std::map<std::string, json> by_name;
  const json tag_list = json::parse(tags.body);
  for (const auto& m : tag_list["models"]) by_name[m["name"].get<std::string>()] = m;
  ASSERT_EQ(by_name.size(), 3u) << tags.body;
  ASSERT_TRUE(by_name.count("stories:260k")) << tags.body;       // as Ollama names it
  ASSERT_TRUE(by_name.count("stories260k:latest")) << tags.body;  // from the models dir
  ASSERT_TRUE(by_name.count("tiny-tales:latest")) << tags.body;
  for (const auto& [name, m] : by_name) {
    EXPECT_EQ(m["digest"], kStoriesSha256) << name;  // computed for the copies, read from the blob name in the store
    EXPECT_EQ(m["size"], fs::file_size(model)) << name;
    EXPECT_EQ(m["details"]["format"], "gguf");
    EXPECT_EQ(m["details"]["family"], "llama");
    EXPECT_EQ(m["details"]["quantization_level"], "F32");
    EXPECT_EQ(m["details"]["parameter_size"], "293K");
  }
  // Each answers by its Ollama name, its alias (the file stem) and its lane name.
  for (const char* name : {"stories:260k", "stories-260k", "Tiny Tales", "tiny-tales", "stories260K"}) {
    HttpResponse r = http_post(port, "/api/generate", json{{"model", name}, {"prompt", "Once"}, {"stream", false},
                                                           {"options", {{"temperature", 0}, {"num_predict", 4}}}}.dump());
    EXPECT_EQ(r.status, 200) << name << ": " << r.body;
    if (r.status == 200) {
      EXPECT_EQ(json::parse(r.body)["model"], name);
    }
  }
  HttpResponse show = http_post(port, "/api/show", R"({"model":"stories:260k"})");
  ASSERT_EQ(show.status, 200) << show.body;
  EXPECT_EQ(json::parse(show.body)["model_info"]["general.architecture"], "llama");
  HttpResponse ps = http_get(port, "/api/ps");
  ASSERT_EQ(ps.status, 200) << ps.body;
  const json ps_list = json::parse(ps.body);
  EXPECT_EQ(ps_list["models"].size(), 3u) << ps.body;
  for (const auto& m : ps_list["models"]) {
    EXPECT_GT(m["size"].get<int64_t>(), 0);
    EXPECT_EQ(m["size_vram"], 0);  // CPU lanes
    // Lanes made from files unload after keep_alive (5 minutes by default): a real expiry.
    EXPECT_NE(m["expires_at"], "9999-12-31T23:59:59Z") << m.dump();
  }
  // keep_alive 0 with no prompt unloads the model (Ollama's way to unload), as /api/ps then shows.
  HttpResponse unload = http_post(port, "/api/generate", R"({"model":"tiny-tales","keep_alive":0})");
  ASSERT_EQ(unload.status, 200) << unload.body;
  EXPECT_EQ(json::parse(unload.body)["done_reason"], "unload") << unload.body;
  size_t resident = 3;
  for (int i = 0; i < 100 && resident != 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    resident = json::parse(http_get(port, "/api/ps").body)["models"].size();
  }
  EXPECT_EQ(resident, 2u);
  // (Parsed first: a range-for over a member of a temporary would dangle.)
  const json after_unload = json::parse(http_get(port, "/api/ps").body);
  ASSERT_EQ(after_unload["models"].size(), 2u);
  for (const auto& m : after_unload["models"]) EXPECT_NE(m["name"], "tiny-tales:latest");
  // The next request loads it again, and says how long that took.
  HttpResponse again = http_post(port, "/api/generate", json{{"model", "tiny-tales"}, {"prompt", "Once"}, {"stream", false},
                                                             {"options", {{"num_predict", 2}}}}.dump());
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_GT(json::parse(again.body)["load_duration"].get<int64_t>(), 0);
  EXPECT_EQ(json::parse(http_get(port, "/api/ps").body)["models"].size(), 3u);
}

// lanes.yaml with models_dir (relative to the file) and ollama_models and no
// lanes of its own; server.ollama_port opens Ollama's port.
// The models folder is rescanned while the server runs: a file added is a
// model at once (asked for by name, on either API, or listed), a file removed
// is gone from the lists and answers 404, and is back when the file is; a
// corrupt file added gets a clear error, and the others keep serving.
TEST(ServerOllamaApi, ModelsAddedToAndRemovedFromTheFolderShowWithoutARestart) {
  const std::string model = stories_model_path();
  LANEWAY_REQUIRE_FILE(model);
  const fs::path models = scratch_dir("server_ollama_rescan");
  fs::copy_file(model, models / "first.gguf");
  ServerProcess server({"--models-dir", models.string(), "--port", "0", "--ctx", "128", "--no-discover"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  auto tag_names = [&] {
    std::set<std::string> names;
    HttpResponse r = http_get(port, "/api/tags");
    EXPECT_EQ(r.status, 200) << r.body;
    const json list = json::parse(r.body);  // (a range-for over a temporary's member would dangle)
    for (const auto& m : list["models"]) names.insert(m["name"].get<std::string>());
    return names;
  };
  auto model_ids = [&] {
    std::set<std::string> ids;
    HttpResponse r = http_get(port, "/v1/models");
    EXPECT_EQ(r.status, 200) << r.body;
    const json list = json::parse(r.body);
    for (const auto& m : list["data"]) ids.insert(m["id"].get<std::string>());
    return ids;
  };
  auto generate = [&](const std::string& name) {
    return http_post(port, "/api/generate", json{{"model", name}, {"prompt", "Once"}, {"stream", false},
                                                 {"options", {{"temperature", 0}, {"num_predict", 4}}}}.dump());
  };
  // Listings rescan at most once a second.
  auto after_a_second = [] { std::this_thread::sleep_for(std::chrono::milliseconds(1100)); };
  EXPECT_EQ(tag_names(), (std::set<std::string>{"first:latest"}));
  HttpResponse first = generate("first");
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string first_text = json::parse(first.body)["response"];

  // Added: asked for by name at once (Ollama's API), then listed.
  fs::copy_file(model, models / "second.gguf");
  HttpResponse second = generate("second");
  ASSERT_EQ(second.status, 200) << second.body << server.output();
  EXPECT_EQ(json::parse(second.body)["response"], first_text) << "the same file gives the same greedy text";
  after_a_second();
  EXPECT_EQ(tag_names(), (std::set<std::string>{"first:latest", "second:latest"}));
  // Added and asked for on the OpenAI API.
  fs::create_directories(models / "sub");
  fs::copy_file(model, models / "sub" / "Third One.gguf");
  HttpResponse third = http_post(port, "/v1/chat/completions",
                                 json{{"model", "Third One"}, {"max_tokens", 2}, {"temperature", 0},
                                      {"messages", {{{"role", "user"}, {"content", "Hi"}}}}}.dump());
  ASSERT_EQ(third.status, 200) << third.body;
  EXPECT_EQ(json::parse(third.body)["model"], "Third One");
  after_a_second();
  EXPECT_EQ(model_ids(), (std::set<std::string>{"first", "second", "third-one", "Third One"}));

  // A corrupt file: a clear error for it, nothing else changes.
  std::ofstream(models / "broken.gguf") << "GGUF but not really";
  HttpResponse broken = generate("broken");
  EXPECT_GE(broken.status, 400) << broken.body;
  EXPECT_NE(broken.body.find("error"), std::string::npos) << broken.body;
  EXPECT_EQ(generate("second").status, 200);

  // Removed: gone from the lists, 404 by name; the others serve.
  fs::remove(models / "second.gguf");
  after_a_second();
  const auto names = tag_names();
  EXPECT_EQ(names.count("second:latest"), 0u) << "still listed";
  EXPECT_EQ(names.count("first:latest"), 1u);
  EXPECT_EQ(model_ids().count("second"), 0u);
  HttpResponse gone = generate("second");
  EXPECT_EQ(gone.status, 404) << gone.body;
  EXPECT_EQ(json::parse(gone.body)["error"], "model 'second' not found") << gone.body;
  EXPECT_EQ(http_post(port, "/v1/completions", json{{"model", "second"}, {"prompt", "Once"}, {"max_tokens", 2}}.dump())
                .status,
            404);
  EXPECT_EQ(generate("first").status, 200);
  // Back.
  fs::copy_file(model, models / "second.gguf");
  HttpResponse back = generate("second");
  EXPECT_EQ(back.status, 200) << back.body;
  EXPECT_NE(server.output().find("second: "), std::string::npos) << server.output();
}

// The sha256 digest /api/tags reports is computed off the HTTP threads: with
// a single HTTP thread, /health answers while /api/tags hashes a 2 GiB file
// (the test model with a sparse tail; hashing it takes seconds anywhere).
TEST(ServerOllamaApi, HashingALargeFileDoesNotHoldTheHttpThread) {
  const std::string model = stories_model_path();
  LANEWAY_REQUIRE_FILE(model);
  const fs::path models = scratch_dir("server_ollama_hash");
  fs::copy_file(model, models / "big.gguf");
  fs::resize_file(models / "big.gguf", uint64_t{2} << 30);
  ServerProcess server({"--models-dir", models.string(), "--port", "0", "--ctx", "128", "--no-discover",
                        "--http-threads", "1"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  std::atomic<bool> tags_done{false};
  HttpResponse tags;
  std::thread lister([&] {
    tags = http_get(port, "/api/tags");
    tags_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the hash is under way
  const bool done_before = tags_done;
  HttpResponse health = http_get(port, "/health");
  const bool done_after = tags_done;
  lister.join();
  EXPECT_FALSE(done_before) << "2 GiB hashed in 200 ms?";
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_FALSE(done_after) << "/health waited for the hash";
  ASSERT_EQ(tags.status, 200) << tags.body;
  const json list = json::parse(tags.body);
  ASSERT_EQ(list["models"].size(), 1u) << tags.body;
  EXPECT_EQ(list["models"][0]["size"], uint64_t{2} << 30);
  EXPECT_EQ(list["models"][0]["digest"].get<std::string>().size(), 64u);
}

TEST(ServerOllamaApi, ConfigModelsDirAndOllamaModels) {
  const std::string model = stories_model_path();
  LANEWAY_REQUIRE_FILE(model);
  const fs::path dir = scratch_dir("server_ollama_config_sources");
  fs::create_directories(dir / "models");
  fs::copy_file(model, dir / "models" / "Fable.gguf");
  const fs::path store = make_ollama_store(model, "server_ollama_config_store");
  std::ofstream(dir / "lanes.yaml") << "models_dir: models\nollama_models: " << store.string()
                                    << "\nserver:\n  ollama_port: 0\n";
  ServerProcess server({"--config", (dir / "lanes.yaml").string(), "--port", "0", "--ctx", "128"});
  ASSERT_TRUE(server.started()) << server.output();
  EXPECT_NE(server.output().find("Ollama API also on"), std::string::npos) << server.output();
  HttpResponse tags = http_get(server.port(), "/api/tags");
  ASSERT_EQ(tags.status, 200) << tags.body;
  std::set<std::string> names;
  const json list = json::parse(tags.body);
  for (const auto& m : list["models"]) names.insert(m["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"fable:latest", "stories:260k"})) << tags.body;
}

// --ollama-port: Ollama's routes on a port of their own as well (only them).
TEST(ServerOllamaApi, OllamaPortServesOllamaRoutesOnly) {
  const std::string model = stories_model_path();
  LANEWAY_REQUIRE_FILE(model);
  ServerProcess server({"-m", model, "--port", "0", "--ollama-port", "0", "--ctx", "64", "--api-key", "sk-test"});
  ASSERT_TRUE(server.started()) << server.output();
  const std::string out = server.output();
  const std::string marker = "Ollama API also on http://127.0.0.1:";
  const size_t at = out.find(marker);
  ASSERT_NE(at, std::string::npos) << out;
  const int port = std::stoi(out.substr(at + marker.size()));
  ASSERT_GT(port, 0);
  ASSERT_NE(port, server.port());
  HttpResponse root = http_get(port, "/");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, "Ollama is running");
  EXPECT_EQ(http_get(port, "/api/tags").status, 401);  // keys apply on every port
  HttpResponse tags = http_request(port, "GET", "/api/tags", "", kKey);
  ASSERT_EQ(tags.status, 200) << tags.body;
  EXPECT_EQ(json::parse(tags.body)["models"][0]["name"], "stories260k:latest");
  HttpResponse gen = http_post(port, "/api/generate", R"({"model":"stories260k","prompt":"Once","stream":false,"options":{"num_predict":2}})", kKey);
  EXPECT_EQ(gen.status, 200) << gen.body;
  // The OpenAI routes stay on the main port.
  HttpResponse v1 = http_request(port, "GET", "/v1/models", "", kKey);
  EXPECT_EQ(v1.status, 404);
  EXPECT_TRUE(json::parse(v1.body, nullptr, false)["error"].is_string()) << v1.body;
  EXPECT_EQ(http_request(server.port(), "GET", "/v1/models", "", kKey).status, 200);
}

// Sets environment variables for the servers a test starts; restores them after.
class ScopedEnv {
 public:
  void set(const std::string& name, const std::optional<std::string>& value) {
    const char* old = std::getenv(name.c_str());
    saved_.emplace_back(name, old ? std::optional<std::string>(old) : std::nullopt);
    if (value) setenv(name.c_str(), value->c_str(), 1);
    else unsetenv(name.c_str());
  }
  ~ScopedEnv() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) setenv(it->first.c_str(), it->second->c_str(), 1);
      else unsetenv(it->first.c_str());
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// `laneway serve` with no model: what it discovers in the usual places (an
// Ollama store under $HOME here), else the repository's demo model.
TEST(ServerOllamaApi, ServeWithNoModelDiscoversStoresElseServesTheDemoModel) {
  const std::string model = stories_model_path();
  LANEWAY_REQUIRE_FILE(model);
  if (fs::exists("/usr/share/ollama/.ollama/models")) GTEST_SKIP() << "this machine has a system Ollama store";
  const fs::path home = scratch_dir("server_discover_home");
  const fs::path store = make_ollama_store(model, "server_discover_store");
  fs::create_directories(home / ".ollama");
  fs::create_symlink(store, home / ".ollama" / "models");
  ScopedEnv env;
  env.set("HOME", home.string());
  env.set("LANEWAY_MODELS", std::nullopt);
  env.set("OLLAMA_MODELS", std::nullopt);
  {
    ServerProcess server({"--port", "0", "--ctx", "128"});
    ASSERT_TRUE(server.started()) << server.output();
    HttpResponse tags = http_get(server.port(), "/api/tags");
    ASSERT_EQ(tags.status, 200) << tags.body;
    const json list = json::parse(tags.body);
    ASSERT_EQ(list["models"].size(), 1u) << tags.body;
    EXPECT_EQ(list["models"][0]["name"], "stories:260k");
    EXPECT_NE(server.output().find("~/.ollama/models"), std::string::npos) << server.output();  // says where
  }
  // --no-discover, or nothing to find: the demo model of the repository.
  for (bool no_discover : {true, false}) {
    if (!no_discover) env.set("HOME", scratch_dir("server_discover_empty_home").string());
    std::vector<std::string> args = {"--port", "0"};
    if (no_discover) args.push_back("--no-discover");
    ServerProcess server(args);
    ASSERT_TRUE(server.started()) << server.output();
    EXPECT_NE(server.output().find("models/demo/stories260K.gguf"), std::string::npos) << server.output();
    HttpResponse tags = http_get(server.port(), "/api/tags");
    ASSERT_EQ(tags.status, 200) << tags.body;
    const json list = json::parse(tags.body);
    ASSERT_EQ(list["models"].size(), 1u) << tags.body;
    EXPECT_EQ(list["models"][0]["name"], "stories260k:latest");
    EXPECT_EQ(list["models"][0]["digest"], kStoriesSha256);  // the repository's copy is the test model
  }
}

}  // namespace
}  // namespace laneway::test
