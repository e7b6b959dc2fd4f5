// lanes.yaml parser: the LANES.md contract, the shipped examples, and errors
// that name the file, the line and the key.
#include "config/lane_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace laneway {
namespace {

std::string example(const char* name) { return std::string(LANEWAY_SOURCE_DIR) + "/examples/" + name; }

// Parses text expected to fail; returns the message.
std::string parse_error(const std::string& yaml) {
  auto r = parse_lanes_config(yaml, "lanes.yaml");
  EXPECT_FALSE(r.is_ok()) << "expected an error for:\n" << yaml;
  return r.is_ok() ? "" : r.status().message();
}

TEST(LaneConfig, MinimalExampleLoads) {
  auto c = load_lanes_config(example("lanes-minimal.yaml"));
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  ASSERT_EQ(c->lanes.size(), 1u);
  const auto& lane = c->lanes[0];
  EXPECT_EQ(lane.name, "stories");
  EXPECT_TRUE(lane.embedded());
  EXPECT_TRUE(lane.is_default);
  EXPECT_EQ(lane.context_tokens, 512);
  EXPECT_EQ(c->server.port, 8080);
  EXPECT_EQ(c->server.host, "127.0.0.1");
  EXPECT_EQ(c->server.max_body_bytes, kDefaultMaxBodyBytes);
}

// `sleep`: the wake may be several calls (vLLM after a level-2 sleep); the
// sleep call asks for level 2 when `frees: all` and the path names no level.
TEST(LaneConfig, ServiceSleepCallsAndLevel) {
  auto c = parse_lanes_config(
      "services:\n"
      "  - name: s\n"
      "    url: http://x/v1\n"
      "    memory_budget: 1GiB\n"
      "    sleep:\n"
      "      path: /sleep\n"
      "      wake: [ \"/wake_up?tags=weights\", { path: /collective_rpc, body: '{\"method\": \"reload_weights\"}' }, "
      "\"/wake_up?tags=kv_cache\" ]\n"
      "      frees: all\n"
      "lanes:\n  - name: a\n    service: s\n",
      "lanes.yaml");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  const ServiceSleep& sleep = *c->services[0].sleep;
  ASSERT_EQ(sleep.wake.size(), 3u);
  EXPECT_EQ(sleep.wake[0].path, "/wake_up?tags=weights");
  EXPECT_EQ(sleep.wake[1].path, "/collective_rpc");
  EXPECT_EQ(sleep.wake[1].body, "{\"method\": \"reload_weights\"}");
  EXPECT_TRUE(sleep.wake[2].body.empty());
  EXPECT_EQ(sleep.sleep_target(), "/sleep?level=2");
  ServiceSleep s2 = sleep;
  s2.path = "/sleep?level=1";
  EXPECT_EQ(s2.sleep_target(), "/sleep?level=1") << "a level written is kept";
  s2.path = "/sleep?x=1";
  EXPECT_EQ(s2.sleep_target(), "/sleep?x=1&level=2");
  s2.path = "/sleep?xlevel=1";
  EXPECT_EQ(s2.sleep_target(), "/sleep?xlevel=1&level=2");
  s2.frees = "none";
  s2.path = "/sleep";
  EXPECT_EQ(s2.sleep_target(), "/sleep");
}

TEST(LaneConfig, StrixHaloExampleLoads) {
  auto c = load_lanes_config(example("lanes-strix-halo-128g.yaml"));
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  ASSERT_EQ(c->lanes.size(), 5u);
  ASSERT_EQ(c->services.size(), 1u);
  EXPECT_EQ(c->services[0].name, "vllm_fast");
  EXPECT_EQ(c->services[0].memory_budget_bytes, 48ull << 30);
  ASSERT_TRUE(c->services[0].sleep.has_value());
  EXPECT_EQ(c->services[0].sleep->frees, "all");
  EXPECT_EQ(c->services[0].api_key, "env:VLLM_KEY");  // resolved at start, not while parsing

  const LaneConfig* orch = c->find_lane("orchestrator");
  const LaneConfig* coder = c->find_lane("coder");
  ASSERT_TRUE(orch && coder);
  EXPECT_FALSE(orch->embedded());
  EXPECT_EQ(orch->service, coder->service);
  EXPECT_NE(orch->upstream_model, coder->upstream_model);
  EXPECT_EQ(orch->fallback, "fast_rag");

  const LaneConfig* reader = c->find_lane("super_reader");
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->context_tokens, 1 << 20);
  EXPECT_EQ(reader->burst_context_tokens, 2 << 20);
  EXPECT_EQ(reader->cache_type_k, "q8_0");
  EXPECT_EQ(reader->min_prompt_tokens, 100000);
  EXPECT_EQ(c->max_body_bytes_for(*reader), 256ull << 20);
  EXPECT_EQ(reader->gpu_layers, "all");
  EXPECT_EQ(reader->shape, "llama-3.1-8b");  // what `laneway plan --lanes` plans without the file
  EXPECT_EQ(reader->shape_type, "Q4_K_M");
  EXPECT_EQ(c->find_lane("fast_rag")->shape_type, "Q4_K_M");  // the default
  EXPECT_TRUE(c->find_lane("fast_rag")->is_default);
  EXPECT_EQ(c->find_lane("fast_rag")->context_tokens, 32 * 1024);
  EXPECT_EQ(c->max_body_bytes_for(*c->find_lane("governance")), 64ull << 20);
  ASSERT_TRUE(c->machine.has_value());
  EXPECT_EQ(c->machine->reserve_os_bytes, 16ull << 30);
  EXPECT_EQ(c->server.api_keys, std::vector<std::string>{"sk-local-1"});
}

TEST(LaneConfig, LanesMdExampleParses) {
  // The example block of LANES.md, verbatim apart from comments.
  const char* yaml = R"(
server:
  host: 127.0.0.1
  port: 8080
  api_keys: [ "sk-local-1" ]
  max_body_bytes: 64MiB
machine:
  profile: this-machine
  reserve_os: 16GiB
  reserve_other: 4GiB
services:
  - name: vllm_fast
    url: http://127.0.0.1:8000/v1
    api_key: env:VLLM_KEY
    memory_budget: 48GiB
    sleep: { path: /sleep, wake: /wake_up, frees: all }
lanes:
  - name: orchestrator
    aliases: [ "deepseek-r1-32b" ]
    service: vllm_fast
    upstream_model: deepseek-r1-distill-qwen-32b-awq
    priority: 10
    fallback: fast_rag
  - name: coder
    service: vllm_fast
    upstream_model: qwen2.5-coder-32b-awq
    priority: 10
  - name: super_reader
    model: /models/nemotron-8b-ultralong.Q4_K_M.gguf
    context: 1M
    burst_context: 2M
    cache_type_k: q8_0
    cache_type_v: q8_0
    slots: 1
    queue: 4
    min_prompt_tokens: 100000
    max_body_bytes: 256MiB
    priority: 1
    gpu_layers: 0
    mlock: false
  - name: fast_rag
    model: /models/llama-3.2-3b.Q4_K_M.gguf
    context: 32k
    slots: 4
    queue: 16
    default: true
    gpu_layers: auto
    device: llvmpipe
)";
  auto c = parse_lanes_config(yaml, "lanes.yaml");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->lanes.size(), 4u);
  EXPECT_EQ(c->find_lane("super_reader")->gpu_layers, "0");
  EXPECT_EQ(c->find_lane("super_reader")->device, "auto");  // the default
  EXPECT_EQ(c->find_lane("fast_rag")->gpu_layers, "auto");
  EXPECT_EQ(c->find_lane("fast_rag")->device, "llvmpipe");
  EXPECT_EQ(c->find_lane("super_reader")->queue, 4);
}

TEST(LaneConfig, Sizes) {
  EXPECT_EQ(*parse_size_bytes("64MiB"), 64ull << 20);
  EXPECT_EQ(*parse_size_bytes("1KiB"), 1024u);
  EXPECT_EQ(*parse_size_bytes("2TiB"), 2ull << 40);
  EXPECT_EQ(*parse_size_bytes("1GB"), 1000000000u);
  EXPECT_EQ(*parse_size_bytes("5KB"), 5000u);
  EXPECT_EQ(*parse_size_bytes("3MB"), 3000000u);
  EXPECT_EQ(*parse_size_bytes("4096"), 4096u);
  EXPECT_EQ(*parse_size_bytes("4096B"), 4096u);
  EXPECT_EQ(*parse_size_bytes("1.5GiB"), 3ull << 29);
  EXPECT_FALSE(parse_size_bytes("12 parsecs").is_ok());
  EXPECT_FALSE(parse_size_bytes("MiB").is_ok());
  EXPECT_FALSE(parse_size_bytes("-1MiB").is_ok());
  EXPECT_FALSE(parse_size_bytes("64mib").is_ok());  // units are case-sensitive, as LANES.md writes them
  EXPECT_FALSE(parse_size_bytes("0.3B").is_ok());
}

TEST(LaneConfig, TokenCounts) {
  EXPECT_EQ(*parse_token_count("32k"), 32768);
  EXPECT_EQ(*parse_token_count("1M"), 1048576);
  EXPECT_EQ(*parse_token_count("4096"), 4096);
  EXPECT_EQ(*parse_token_count("0.5k"), 512);
  EXPECT_FALSE(parse_token_count("1G").is_ok());
  EXPECT_FALSE(parse_token_count("lots").is_ok());
}

TEST(LaneConfig, ErrorsNameFileLineAndKey) {
  std::string msg = parse_error("lanes:\n  - name: a\n    model: a.gguf\n    cache_type_k: q5_1\n");
  EXPECT_NE(msg.find("lanes.yaml:4:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lanes[0].cache_type_k"), std::string::npos) << msg;
  EXPECT_NE(msg.find("q5_1"), std::string::npos) << msg;

  msg = parse_error("server:\n  port: 8080\n  colour: blue\nlanes:\n  - name: a\n    model: a.gguf\n");
  EXPECT_NE(msg.find("lanes.yaml:3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("server.colour"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown key"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("did you mean"), std::string::npos) << msg;  // nothing near "colour"

  msg = parse_error("lanes:\n  - name: a\n    model: a.gguf\n    contxt: 4096\n");
  EXPECT_NE(msg.find("lanes[0].contxt: unknown key; did you mean 'context'? (expected one of: "), std::string::npos)
      << msg;

  msg = parse_error("lanes:\n  - name: a\n    model: a.gguf\n    slots: many\n");
  EXPECT_NE(msg.find("lanes.yaml:4: lanes[0].slots: expected an integer"), std::string::npos) << msg;

  msg = parse_error("lanes:\n  - name: a\n    model: a.gguf\n    max_body_bytes: 12 parsecs\n");
  EXPECT_NE(msg.find("lanes.yaml:4: lanes[0].max_body_bytes"), std::string::npos) << msg;
}

TEST(LaneConfig, RejectsImpossibleConfigs) {
  const std::string svc = "services:\n  - name: s\n    url: http://127.0.0.1:1/v1\n";
  struct Case {
    std::string yaml;
    std::string expect;  // part of the message
  } cases[] = {
      {"lanes: []\n", "non-empty list"},
      {"server: {}\n", "lanes: missing"},
      {"lanes:\n  - name: a\n", "needs `model`"},
      {svc + "lanes:\n  - name: a\n    model: a.gguf\n    service: s\n", "exactly one of"},
      {"lanes:\n  - name: A\n    model: a.gguf\n", "[a-z0-9_-]+"},
      {"lanes:\n  - name: a\n    model: a.gguf\n  - name: a\n    model: b.gguf\n", "already a lane name"},
      {"lanes:\n  - name: a\n    model: a.gguf\n    aliases: [x]\n  - name: b\n    model: b.gguf\n    aliases: [x]\n",
       "already a lane name"},
      {"lanes:\n  - name: a\n    service: nope\n", "no service named 'nope'"},
      {"lanes:\n  - name: a\n    model: a.gguf\n    fallback: b\n", "no lane named 'b'"},
      {"lanes:\n  - name: a\n    model: a.gguf\n    fallback: a\n", "itself"},
      {"lanes:\n  - name: a\n    model: a.gguf\n    default: true\n  - name: b\n    model: b.gguf\n    default: true\n",
       "only one lane may be the default"},
      {svc + "lanes:\n  - name: a\n    service: s\n    slots: 2\n", "applies only to embedded lanes"},
      {"lanes:\n  - name: a\n    model: a.gguf\n    upstream_model: x\n", "applies only to upstream lanes"},
      {"lanes:\n  - name: a\n    model: a.gguf\n    context: 1M\n    burst_context: 32k\n", "must not be smaller"},
      {"lanes:\n  - name: a\n    model: a.gguf\n    slots: 0\n", "between 1 and"},
      {"lanes:\n  - name: a\n    model: a.gguf\n    mlock: maybe\n", "true or false"},
      {"lanes:\n  - name: a\n    model: a.gguf\n    gpu_layers: some\n", "expected an integer"},
      {svc + "lanes:\n  - name: a\n    service: s\n    device: llvmpipe\n", "applies only to embedded lanes"},
      {"services:\n  - name: s\n    url: ftp://x/v1\nlanes:\n  - name: a\n    service: s\n", "http://"},
      {"services:\n  - name: s\n    url: http://x/v1\n    sleep: { path: /sleep, wake: /wake_up, frees: most }\n"
       "lanes:\n  - name: a\n    service: s\n",
       "frees"},
      {"services:\n  - name: s\n    url: http://x/v1\n    sleep: { path: /sleep, wake: [], frees: all }\n"
       "lanes:\n  - name: a\n    service: s\n",
       "sleep.wake: expected at least one call"},
      {"services:\n  - name: s\n    url: http://x/v1\n    sleep: { path: /sleep, wake: [ /a, {body: x} ], frees: all }\n"
       "lanes:\n  - name: a\n    service: s\n",
       "sleep.wake[1].path: missing"},
      {"services:\n  - name: s\n    url: http://x/v1\n    sleep: { path: /sleep, wake: [ wake_up ], frees: all }\n"
       "lanes:\n  - name: a\n    service: s\n",
       "starting with '/'"},
      {"machine:\n  profile: toaster\nlanes:\n  - name: a\n    model: a.gguf\n", "strix-halo-128g"},
      {"lanes:\n  - name: auto\n    model: a.gguf\n", "reserved"},
      {"lanes:\n  - name: a\n    model: a.gguf\n    listen: 8080\n", "already used"},
      {"lanes: [ {name: a, model: a.gguf\n", "not valid YAML"},
      {"lanes:\n  - name: a\n    model: a.gguf\n    name: b\n", "appears twice"},
      {"just a string\n", "expected a mapping"},
      {svc + "lanes:\n  - name: a\n    service: s\n    shape: llama-3.1-8b\n", "applies only to embedded lanes"},
      {"lanes:\n  - name: a\n    model: a.gguf\n    shape_type: Q4_0\n", "needs `shape`"},
      {"lanes:\n  - name: a\n    model: a.gguf\n    shape: \"\"\n", "must name a shape"},
  };
  for (const auto& c : cases) {
    const std::string msg = parse_error(c.yaml);
    EXPECT_NE(msg.find(c.expect), std::string::npos) << "message: " << msg << "\nfor:\n" << c.yaml;
    EXPECT_EQ(msg.rfind("lanes.yaml", 0), 0u) << "message should start with the file name: " << msg;
  }
}

TEST(LaneConfig, ServiceReplicas) {
  // The replica keys as LANES.md writes them ("Keys added since the first version").
  const std::string ca = std::string(LANEWAY_SOURCE_DIR) + "/CMakeLists.txt";  // any readable file: parsing checks it exists
  const std::string lane = "lanes:\n  - name: a\n    service: s\n";
  auto c = parse_lanes_config("services:\n  - name: s\n"
                              "    urls: [ \"http://vllm-0.vllm:8000/v1\", \"https://vllm-1.vllm:8443/v1\" ]\n"
                              "    balance: least_busy\n    affinity: prefix\n    ca_file: " + ca + "\n" + lane,
                              "lanes.yaml");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  ASSERT_EQ(c->services[0].urls.size(), 2u);
  EXPECT_EQ(c->services[0].urls[1], "https://vllm-1.vllm:8443/v1");
  EXPECT_EQ(c->services[0].balance, ServiceBalance::least_busy);
  EXPECT_EQ(c->services[0].affinity, ServiceAffinity::prefix);
  EXPECT_EQ(c->services[0].ca_file, ca);
  // `url` stays valid: one replica, no affinity by default.
  c = parse_lanes_config("services:\n  - name: s\n    url: http://x:1/v1\n" + lane, "lanes.yaml");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->services[0].urls, std::vector<std::string>{"http://x:1/v1"});
  EXPECT_EQ(c->services[0].affinity, ServiceAffinity::none);

  struct Case {
    std::string yaml;
    std::string expect;
  } cases[] = {
      {"services:\n  - name: s\n    url: http://x/v1\n    urls: [ \"http://y/v1\" ]\n" + lane,
       "lanes.yaml:4: services[0].urls: a service has `url` (one server) or `urls` (replicas), not both"},
      {"services:\n  - name: s\n    urls: []\n" + lane, "services[0].urls: expected a non-empty list of URLs"},
      {"services:\n  - name: s\n    urls: http://x/v1\n" + lane, "services[0].urls: expected a non-empty list"},
      {"services:\n  - name: s\n    urls: [ \"http://x/v1\", \"ftp://y/v1\" ]\n" + lane,
       "services[0].urls[1]: expected an http:// or https:// URL"},
      {"services:\n  - name: s\n    urls: [ \"http://x/v1\", \"http://x/v1\" ]\n" + lane, "listed twice"},
      {"services:\n  - name: s\n    balance: least_busy\n" + lane, "services[0].url: missing"},
      {"services:\n  - name: s\n    url: http://x/v1\n    balance: round_robin\n" + lane,
       "services[0].balance: expected one of least_busy, got 'round_robin'"},
      {"services:\n  - name: s\n    url: http://x/v1\n    affinity: session\n" + lane,
       "services[0].affinity: expected one of prefix, none, got 'session'"},
      {"services:\n  - name: s\n    url: https://x/v1\n    ca_file: /surely/missing/ca.pem\n" + lane,
       "lanes.yaml:4: services[0].ca_file: '/surely/missing/ca.pem' is not a readable file"},
      {"services:\n  - name: s\n    url: https://x/v1\n    ca_file: \"\"\n" + lane, "services[0].ca_file: must name"},
      {"services:\n  - name: s\n    url: http://x/v1\n    ca_file: " + ca + "\n" + lane,
       "services[0].ca_file: applies only to https:// URLs"},
      {"services:\n  - name: s\n    url: http://x/v1\n    afinity: prefix\n" + lane, "did you mean 'affinity'"},
  };
  for (const auto& k : cases) {
    const std::string msg = parse_error(k.yaml);
    EXPECT_NE(msg.find(k.expect), std::string::npos) << "message: " << msg << "\nfor:\n" << k.yaml;
  }
  // A config built in code is checked too.
  LanesConfig built;
  built.source = "code";
  built.services.push_back(ServiceConfig{.name = "s"});
  EXPECT_FALSE(validate_lanes_config(built).is_ok());
}

TEST(LaneConfig, ResolvesEnvSecrets) {
  ::setenv("LANEWAY_TEST_SECRET_KEY", "sk-123", 1);
  EXPECT_EQ(*resolve_secret("env:LANEWAY_TEST_SECRET_KEY"), "sk-123");
  EXPECT_EQ(*resolve_secret("sk-literal"), "sk-literal");
  ::unsetenv("LANEWAY_TEST_SECRET_KEY_MISSING");
  auto missing = resolve_secret("env:LANEWAY_TEST_SECRET_KEY_MISSING");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("LANEWAY_TEST_SECRET_KEY_MISSING"), std::string::npos);
}

TEST(LaneConfig, MissingFileIsIoError) {
  auto r = load_lanes_config("/nonexistent/lanes.yaml");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::io_error);
  EXPECT_NE(r.status().message().find("/nonexistent/lanes.yaml"), std::string::npos);
}

TEST(LaneConfig, ModelsDirOllamaModelsAndOllamaPort) {
  // LANES.md "Keys added since the first version": lanes from files, so `lanes` may go.
  auto c = parse_lanes_config("models_dir: /models\nollama_models: ~/.ollama/models\nserver:\n  ollama_port: 11434\n",
                              "lanes.yaml");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->models_dir, "/models");
  EXPECT_EQ(c->ollama_models, "~/.ollama/models");
  EXPECT_EQ(c->server.ollama_port, 11434);
  EXPECT_TRUE(c->lanes.empty());
  auto only_store = parse_lanes_config("ollama_models: /store\nlanes: []\n", "lanes.yaml");
  ASSERT_TRUE(only_store.is_ok()) << only_store.status().to_string();
  EXPECT_FALSE(parse_lanes_config("server:\n  port: 8080\n", "lanes.yaml").is_ok());  // still needs some lane
  EXPECT_NE(parse_error("models_dir: [a, b]\n").find("models_dir"), std::string::npos);
  EXPECT_NE(parse_error("models_dir: \"\"\n").find("models_dir"), std::string::npos);
  EXPECT_NE(parse_error("models_dir: /m\nserver:\n  ollama_port: 70000\n").find("server.ollama_port"), std::string::npos);
}

}  // namespace
}  // namespace laneway

namespace laneway {
namespace {

using std::chrono::milliseconds;

TEST(LaneConfig, Durations) {
  EXPECT_EQ(*parse_duration("5m"), milliseconds(300'000));
  EXPECT_EQ(*parse_duration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(*parse_duration("300ms"), milliseconds(300));
  EXPECT_EQ(*parse_duration("2.5s"), milliseconds(2'500));
  EXPECT_EQ(*parse_duration("30"), milliseconds(30'000));  // bare: seconds
  EXPECT_EQ(*parse_duration("0"), milliseconds(0));
  EXPECT_LT(parse_duration("-1")->count(), 0);
  EXPECT_LT(parse_duration("-5m")->count(), 0);
  for (const char* bad : {"", "m", "5x", "5m3", "five", "1e3s", "--1", "5 m s"}) {
    EXPECT_FALSE(parse_duration(bad).is_ok()) << bad;
  }
}

TEST(LaneConfig, PoolKeys) {
  auto c = parse_lanes_config(
      "server:\n  open_routes: [ readiness, metrics ]\n"
      "lanes:\n"
      "  - name: a\n    model: /m/a.gguf\n    load: on_demand\n    keep_alive: 90s\n    pausable: false\n"
      "    on_pause: preempt\n    memory_budget: 2GiB\n"
      "  - name: b\n    model: /m/b.gguf\n"
      "  - name: c\n    model: /m/c.gguf\n    load: on_demand\n",
      "lanes.yaml");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->server.open_routes, (std::vector<std::string>{"readiness", "metrics"}));
  const LaneConfig& a = c->lanes[0];
  EXPECT_EQ(a.load, LaneLoad::on_demand);
  EXPECT_EQ(a.idle_unload_after(), milliseconds(90'000));
  EXPECT_FALSE(a.pausable);
  EXPECT_EQ(a.on_pause, OnPause::preempt);
  EXPECT_EQ(a.memory_budget_bytes, 2ull << 30);
  const LaneConfig& b = c->lanes[1];
  EXPECT_EQ(b.load, LaneLoad::eager);
  EXPECT_LT(b.idle_unload_after().count(), 0) << "eager lanes stay by default";
  EXPECT_TRUE(b.pausable);
  EXPECT_EQ(c->lanes[2].idle_unload_after(), kDefaultKeepAlive);
}

TEST(LaneConfig, PoolKeyErrors) {
  const std::string lane = "lanes:\n  - name: a\n    model: /m/a.gguf\n";
  EXPECT_NE(parse_error(lane + "    load: lazy\n").find("lanes[0].load"), std::string::npos);
  EXPECT_NE(parse_error(lane + "    keep_alive: soon\n").find("lanes[0].keep_alive"), std::string::npos);
  EXPECT_NE(parse_error(lane + "    on_pause: kill\n").find("lanes[0].on_pause"), std::string::npos);
  EXPECT_NE(parse_error(lane + "    memory_budget: 0\n").find("lanes[0].memory_budget"), std::string::npos);
  EXPECT_NE(parse_error(lane + "    pausable: maybe\n").find("lanes[0].pausable"), std::string::npos);
  EXPECT_NE(parse_error("server:\n  open_routes: [ chat ]\n" + lane).find("server.open_routes"), std::string::npos);
  EXPECT_NE(parse_error("services:\n  - name: s\n    url: http://x/v1\nlanes:\n  - name: a\n    service: s\n    load: on_demand\n")
                .find("applies only to embedded lanes"),
            std::string::npos);
}

}  // namespace
}  // namespace laneway

namespace laneway {
namespace {

TEST(LaneConfig, CorsOrigins) {
  const std::string lane = "lanes:\n  - name: a\n    model: /m/a.gguf\n";
  auto c = parse_lanes_config("server:\n  cors_origins: [ \"http://localhost:3000\", \"https://ui.example:8443\" ]\n" + lane,
                              "lanes.yaml");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->server.cors_origins.size(), 2u);
  for (const char* bad : {"localhost:3000", "http://localhost:3000/app", "ftp://x", "http://"}) {
    EXPECT_NE(parse_error(std::string("server:\n  cors_origins: [ \"") + bad + "\" ]\n" + lane).find("server.cors_origins"),
              std::string::npos)
        << bad;
  }
}

TEST(LaneConfig, TlsFiles) {
  const std::string lane = "lanes:\n  - name: a\n    model: /m/a.gguf\n";
  auto c = parse_lanes_config("server:\n  tls: { cert: /etc/l/cert.pem, key: key.pem }\n" + lane, "lanes.yaml");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  ASSERT_TRUE(c->server.tls.has_value());
  EXPECT_EQ(c->server.tls->cert, "/etc/l/cert.pem");
  EXPECT_EQ(c->server.tls->key, "key.pem");
  auto plain = parse_lanes_config(lane, "lanes.yaml");
  ASSERT_TRUE(plain.is_ok());
  EXPECT_FALSE(plain->server.tls.has_value()) << "no tls key: plain HTTP";
}

TEST(LaneConfig, TlsErrors) {
  const std::string lane = "lanes:\n  - name: a\n    model: /m/a.gguf\n";
  // A missing half names the key that is missing, with the line of the mapping.
  const std::string no_key = parse_error("server:\n  tls: { cert: cert.pem }\n" + lane);
  EXPECT_NE(no_key.find("lanes.yaml:2: server.tls.key: is missing"), std::string::npos) << no_key;
  const std::string no_cert = parse_error("server:\n  tls:\n    key: key.pem\n" + lane);
  EXPECT_NE(no_cert.find("server.tls.cert: is missing"), std::string::npos) << no_cert;
  EXPECT_NE(parse_error("server:\n  tls: { cert: c.pem, key: \"\" }\n" + lane).find("server.tls.key: must name a PEM file"),
            std::string::npos);
  EXPECT_NE(parse_error("server:\n  tls: { cert: c.pem, key: k.pem, ca: x }\n" + lane).find("server.tls.ca: unknown key"),
            std::string::npos);
  EXPECT_NE(parse_error("server:\n  tls: cert.pem\n" + lane).find("server.tls: expected a mapping"), std::string::npos);
  EXPECT_NE(parse_error("server:\n  tls: { cert: [a], key: k.pem }\n" + lane).find("server.tls.cert: expected a string"),
            std::string::npos);
}

TEST(LaneConfig, LaneApiKeys) {
  auto c = parse_lanes_config(
      "server:\n  api_keys: [ sk-server ]\n"
      "lanes:\n"
      "  - name: a\n    model: /m/a.gguf\n    api_keys: [ sk-a, sk-shared ]\n"
      "  - name: b\n    model: /m/b.gguf\n    api_keys:\n      - sk-b\n      - sk-shared\n"
      "  - name: c\n    model: /m/c.gguf\n    api_keys: []\n"
      "  - name: d\n    model: /m/d.gguf\n",
      "lanes.yaml");
  ASSERT_TRUE(c.is_ok()) << c.status().to_string();
  EXPECT_EQ(c->server.api_keys, std::vector<std::string>{"sk-server"});
  EXPECT_EQ(c->lanes[0].api_keys, (std::vector<std::string>{"sk-a", "sk-shared"}));
  EXPECT_EQ(c->lanes[1].api_keys, (std::vector<std::string>{"sk-b", "sk-shared"}));
  EXPECT_TRUE(c->lanes[2].api_keys.empty());
  EXPECT_TRUE(c->lanes[3].api_keys.empty());
  // Upstream lanes take keys as well.
  auto up = parse_lanes_config(
      "services:\n  - name: s\n    url: http://x/v1\nlanes:\n  - name: u\n    service: s\n    api_keys: [ sk-u ]\n",
      "lanes.yaml");
  ASSERT_TRUE(up.is_ok()) << up.status().to_string();
  EXPECT_EQ(up->lanes[0].api_keys, std::vector<std::string>{"sk-u"});
}

TEST(LaneConfig, LaneApiKeyErrors) {
  const std::string lane = "lanes:\n  - name: a\n    model: /m/a.gguf\n";
  EXPECT_NE(parse_error(lane + "    api_keys: sk-a\n").find("lanes[0].api_keys: expected a list of strings"),
            std::string::npos);
  EXPECT_NE(parse_error(lane + "    api_keys: [ \"\" ]\n").find("lanes[0].api_keys[0]: must not be empty"),
            std::string::npos);
  EXPECT_NE(parse_error(lane + "    api_keys: [ sk-a, { k: v } ]\n").find("lanes[0].api_keys[1]: expected a string"),
            std::string::npos);
  EXPECT_NE(parse_error(lane + "    api_key: [ sk-a ]\n").find("did you mean 'api_keys'"), std::string::npos);
}

}  // namespace
}  // namespace laneway
