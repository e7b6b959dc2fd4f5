// Per-lane api_keys (LANES.md "Who needs a key"): a lane's keys open that
// lane's routes (by model name, /lanes/NAME/v1, its own port, Ollama's chat
// for it) besides server.api_keys; never another lane or the server-wide
// routes. Listings show a lane key only its own lanes. With keys on lanes
// alone, lanes without keys stay open.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using json = nlohmann::json;
using Headers = std::map<std::string, std::string>;

std::string lane(const std::string& name, const std::string& extra) {
  return "  - name: " + name + "\n    model: " + stories_model_path() + "\n    context: 128\n" + extra;
}

Headers with_key(const std::string& key) {
  Headers h{{"Content-Type", "application/json"}};
  if (!key.empty()) h["Authorization"] = "Bearer " + key;
  return h;
}

std::string chat_body(const std::string& model) {
  return R"({"model": ")" + model + R"(", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2})";
}

struct Probe {
  std::string name;
  int port;
  std::string method, target, body;
};

TEST(ServerLaneKeys, WhoOpensWhat) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_lane_keys");
  const std::string config = (dir / "lanes.yaml").string();
  const int lane_a_port = free_port();
  std::ofstream(config) << "server:\n  api_keys: [ sk-server ]\nlanes:\n" +
                               lane("a", "    api_keys: [ sk-a ]\n    aliases: [ alias-a ]\n    listen: " +
                                             std::to_string(lane_a_port) + "\n    default: true\n") +
                               lane("b", "    api_keys: [ sk-b ]\n") + lane("c", "");
  ServerProcess server({"--config", config, "--port", "0", "--ollama-port", "0"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  const int ollama = server.ollama_port();
  ASSERT_GT(ollama, 0) << server.output();

  const std::string ollama_chat_a =
      R"({"model": "a", "messages": [{"role": "user", "content": "Hi"}], "stream": false, "options": {"num_predict": 2}})";
  const std::vector<Probe> probes = {
      {"chat lane a", port, "POST", "/v1/chat/completions", chat_body("a")},
      {"chat alias of a", port, "POST", "/v1/chat/completions", chat_body("alias-a")},
      {"chat lane b", port, "POST", "/v1/chat/completions", chat_body("b")},
      {"chat lane c (no keys)", port, "POST", "/v1/chat/completions", chat_body("c")},
      {"chat model auto (default lane a)", port, "POST", "/v1/chat/completions", chat_body("auto")},
      {"/lanes/a/v1 chat", port, "POST", "/lanes/a/v1/chat/completions", chat_body("x")},
      {"/lanes/b/v1 chat", port, "POST", "/lanes/b/v1/chat/completions", chat_body("x")},
      {"/lanes/a/health", port, "GET", "/lanes/a/health", ""},
      {"lane a's port", lane_a_port, "POST", "/v1/chat/completions", chat_body("x")},
      {"/v1/lanes", port, "GET", "/v1/lanes", ""},
      {"/metrics", port, "GET", "/metrics", ""},
      {"ollama /api/chat a (shared port)", port, "POST", "/api/chat", ollama_chat_a},
      {"ollama /api/chat a (ollama port)", ollama, "POST", "/api/chat", ollama_chat_a},
  };
  // Expected status per key: none, server, lane a's, lane b's, a wrong one.
  const std::vector<std::string> keys = {"", "sk-server", "sk-a", "sk-b", "sk-wrong"};
  const std::map<std::string, std::vector<int>> expected = {
      {"chat lane a", {401, 200, 200, 401, 401}},
      {"chat alias of a", {401, 200, 200, 401, 401}},
      {"chat lane b", {401, 200, 401, 200, 401}},
      {"chat lane c (no keys)", {401, 200, 401, 401, 401}},
      {"chat model auto (default lane a)", {401, 200, 200, 401, 401}},
      {"/lanes/a/v1 chat", {401, 200, 200, 401, 401}},
      {"/lanes/b/v1 chat", {401, 200, 401, 200, 401}},
      {"/lanes/a/health", {401, 200, 200, 401, 401}},
      {"lane a's port", {401, 200, 200, 401, 401}},
      {"/v1/lanes", {401, 200, 401, 401, 401}},
      {"/metrics", {401, 200, 401, 401, 401}},
      {"ollama /api/chat a (shared port)", {401, 200, 200, 401, 401}},
      {"ollama /api/chat a (ollama port)", {401, 200, 200, 401, 401}},
  };
  for (const Probe& p : probes) {
    for (size_t k = 0; k < keys.size(); ++k) {
      HttpResponse r = http_request(p.port, p.method, p.target, p.body, with_key(keys[k]));
      EXPECT_EQ(r.status, expected.at(p.name)[k]) << p.name << " with key '" << keys[k] << "': " << r.body << r.error;
      if (r.status == 401 && p.target.rfind("/api/", 0) != 0) {
        // The refusal is today's OpenAI-shaped 401, and names no lane.
        const json e = json::parse(r.body, nullptr, false);
        EXPECT_EQ(e["error"]["code"], "invalid_api_key") << r.body;
        EXPECT_EQ(r.body.find("\"a\""), std::string::npos) << r.body;
      }
    }
  }
  // A model that names no lane: refused like a lane without keys (no name
  // leaks to a lane key), 404 for a server key.
  EXPECT_EQ(http_request(port, "POST", "/v1/chat/completions", chat_body("nope"), with_key("sk-a")).status, 401);
  EXPECT_EQ(http_request(port, "POST", "/v1/chat/completions", chat_body("nope"), with_key("sk-server")).status, 404);
  EXPECT_EQ(http_request(port, "GET", "/lanes/nope/health", "", with_key("sk-a")).status, 401);
  EXPECT_EQ(http_request(port, "GET", "/lanes/nope/health", "", with_key("sk-server")).status, 404);

  // Listings: a lane key sees its own lane (and alias), a server key all.
  auto ids = [&](const std::string& key) {
    HttpResponse r = http_request(port, "GET", "/v1/models", "", with_key(key));
    EXPECT_EQ(r.status, 200) << key << ": " << r.body;
    std::vector<std::string> out;
    const json j = json::parse(r.body, nullptr, false);
    if (j.is_object()) {
      for (const auto& m : j["data"]) out.push_back(m["id"]);
    }
    return out;
  };
  EXPECT_EQ(ids("sk-a"), (std::vector<std::string>{"a", "alias-a"}));
  EXPECT_EQ(ids("sk-b"), (std::vector<std::string>{"b"}));
  EXPECT_EQ(ids("sk-server"), (std::vector<std::string>{"a", "alias-a", "b", "c"}));
  EXPECT_EQ(http_request(port, "GET", "/v1/models", "", with_key("")).status, 401);
  HttpResponse tags = http_request(ollama, "GET", "/api/tags", "", with_key("sk-b"));
  ASSERT_EQ(tags.status, 200) << tags.body;
  const json t = json::parse(tags.body, nullptr, false);
  ASSERT_EQ(t["models"].size(), 1u) << tags.body;
  EXPECT_EQ(t["models"][0]["name"], "b:latest") << tags.body;
  // Lane control is server-wide: a lane key does not reload its own lane.
  for (const std::string key : {"", "sk-a", "sk-b", "sk-wrong"}) {
    EXPECT_EQ(http_request(port, "POST", "/v1/lanes/a/reload", "", with_key(key)).status, 401) << key;
  }
  EXPECT_NE(http_request(port, "POST", "/v1/lanes/a/reload", "", with_key("sk-server")).status, 401);
  // Liveness needs no key, ever.
  EXPECT_EQ(http_request(port, "GET", "/health", "", with_key("")).status, 200);
}

TEST(ServerLaneKeys, OnlyLanesHaveKeys) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_lane_keys_only");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << "lanes:\n" + lane("a", "    api_keys: [ sk-a ]\n") + lane("b", "");
  ServerProcess server({"--config", config, "--port", "0"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  // Lane b stays open, lane a needs its key; server-wide routes stay as open
  // as server.api_keys (unset) leaves them.
  EXPECT_EQ(http_request(port, "POST", "/v1/chat/completions", chat_body("b"), with_key("")).status, 200);
  EXPECT_EQ(http_request(port, "POST", "/lanes/b/v1/chat/completions", chat_body("b"), with_key("")).status, 200);
  EXPECT_EQ(http_request(port, "POST", "/v1/chat/completions", chat_body("a"), with_key("")).status, 401);
  EXPECT_EQ(http_request(port, "POST", "/v1/chat/completions", chat_body("a"), with_key("sk-wrong")).status, 401);
  EXPECT_EQ(http_request(port, "POST", "/v1/chat/completions", chat_body("a"), with_key("sk-a")).status, 200);
  EXPECT_EQ(http_request(port, "POST", "/lanes/a/v1/chat/completions", chat_body("a"), with_key("")).status, 401);
  EXPECT_EQ(http_request(port, "POST", "/lanes/a/v1/chat/completions", chat_body("a"), with_key("sk-a")).status, 200);
  EXPECT_EQ(http_request(port, "POST", "/api/chat",
                         R"({"model": "a", "messages": [{"role": "user", "content": "Hi"}], "stream": false})", with_key(""))
                .status,
            401);
  EXPECT_EQ(http_request(port, "GET", "/v1/lanes", "", with_key("")).status, 200);
  EXPECT_EQ(http_request(port, "GET", "/metrics", "", with_key("")).status, 200);
  EXPECT_EQ(http_request(port, "POST", "/v1/chat/completions", chat_body("nope"), with_key("")).status, 404);
  // Keyless clients list the open lanes only; lane a's key lists both.
  HttpResponse anon = http_request(port, "GET", "/v1/models", "", with_key(""));
  ASSERT_EQ(anon.status, 200);
  EXPECT_EQ(json::parse(anon.body)["data"].size(), 1u) << anon.body;
  HttpResponse keyed = http_request(port, "GET", "/v1/models", "", with_key("sk-a"));
  EXPECT_EQ(json::parse(keyed.body)["data"].size(), 2u) << keyed.body;
}

// Keys written `env:NAME` (how a Kubernetes Secret arrives: deploy/k8s) are
// read from the server's environment at start; the text itself is no key. A
// variable that is not set stops the start, naming it.
TEST(ServerLaneKeys, KeysFromTheEnvironment) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_lane_keys_env");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << "server:\n  api_keys: [ \"env:LANEWAY_TEST_SERVER_KEY\" ]\nlanes:\n" +
                               lane("a", "    api_keys: [ \"env:LANEWAY_TEST_LANE_KEY\" ]\n");
  ::setenv("LANEWAY_TEST_SERVER_KEY", "sk-server-from-env", 1);
  ::setenv("LANEWAY_TEST_LANE_KEY", "sk-lane-from-env", 1);
  {
    ServerProcess server({"--config", config, "--port", "0"});
    ASSERT_TRUE(server.started()) << server.output();
    const int port = server.port();
    EXPECT_EQ(http_request(port, "GET", "/v1/lanes", "", with_key("sk-server-from-env")).status, 200);
    EXPECT_EQ(http_request(port, "GET", "/v1/lanes", "", with_key("env:LANEWAY_TEST_SERVER_KEY")).status, 401);
    EXPECT_EQ(http_request(port, "GET", "/v1/lanes", "", with_key("")).status, 401);
    EXPECT_EQ(http_request(port, "POST", "/v1/chat/completions", chat_body("a"), with_key("sk-lane-from-env")).status, 200);
    EXPECT_EQ(http_request(port, "POST", "/v1/chat/completions", chat_body("a"), with_key("env:LANEWAY_TEST_LANE_KEY")).status,
              401);
  }
  ::unsetenv("LANEWAY_TEST_LANE_KEY");
  ServerProcess missing({"--config", config, "--port", "0"}, std::chrono::seconds(20));
  EXPECT_FALSE(missing.started());
  EXPECT_NE(missing.output().find("LANEWAY_TEST_LANE_KEY"), std::string::npos) << missing.output();
  ::unsetenv("LANEWAY_TEST_SERVER_KEY");
}

}  // namespace
}  // namespace laneway::test
