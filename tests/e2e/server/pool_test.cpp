// The model pool through `laneway serve`: two on_demand lanes that do not fit
// together in --memory-budget take turns under alternating traffic from
// several clients (every request gets the answer it gets alone; none fails),
// the server's RSS falls by the lane's bill when it unloads, keep_alive and
// the unload/reload routes, and lanes that cannot load (a missing or corrupt
// file) fail alone while the others serve.
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <future>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

// 128k tokens of f16 KV on stories260K: 80 MiB per lane, committed at load.
std::string on_demand_lane(const std::string& name, const std::string& keep_alive, const std::string& context = "128k") {
  return "  - name: " + name + "\n    model: " + stories_model_path() + "\n    context: " + context +
         "\n    load: on_demand\n    keep_alive: " + keep_alive + "\n    slots: 1\n    queue: 16\n";
}

json lane_info(int port, const std::string& name) {
  const json lanes = json::parse(http_get(port, "/v1/lanes").body, nullptr, false);
  for (const auto& l : lanes["data"]) {
    if (l["name"] == name) return l;
  }
  return json();
}

bool wait_lane_state(int port, const std::string& name, const std::string& state, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (lane_info(port, name)["state"] == state) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

uint64_t rss_of(pid_t pid) { return proc_status_bytes(pid, "VmRSS"); }

HttpResponse complete(int port, const std::string& lane, const std::string& prompt) {
  const json body = {{"model", lane}, {"prompt", prompt}, {"max_tokens", 12}, {"temperature", 0}};
  return http_post(port, "/v1/completions", body.dump());
}

std::string text_of(const HttpResponse& r) {
  const json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("choices")) return "<" + r.body + ">";
  return j["choices"][0]["text"].get<std::string>();
}

TEST(ServerPool, TwoLanesThatDoNotFitTogetherTakeTurnsAndLoseNothing) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_pool_swap");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << "lanes:\n" + on_demand_lane("a", "10m") + on_demand_lane("b", "10m");
  ServerProcess server({"--config", config, "--port", "0", "--memory-budget", "130MiB"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();

  json a = lane_info(port, "a");
  EXPECT_EQ(a["state"], "unloaded");
  EXPECT_EQ(a["load"], "on_demand");
  const uint64_t bill = a["pool"]["bill_bytes"].get<uint64_t>();
  const json lanes = json::parse(http_get(port, "/v1/lanes").body);
  const uint64_t budget = lanes["pool"]["budget_bytes"].get<uint64_t>();
  ASSERT_GE(budget, bill);
  ASSERT_LT(budget, 2 * bill) << "the two lanes must not fit together for this test to mean anything";

  // What each prompt gets alone, on each lane.
  const std::vector<std::string> prompts = {"Once upon a time", "The little dog", "Lily wanted to", "One day, a bird"};
  std::map<std::pair<std::string, std::string>, std::string> alone;
  for (const auto& lane : {"a", "b"}) {
    for (const auto& p : prompts) {
      HttpResponse r = complete(port, lane, p);
      ASSERT_EQ(r.status, 200) << r.body;
      alone[{lane, p}] = text_of(r);
    }
  }
  EXPECT_GE(lane_info(port, "a")["pool"]["unloads"].get<int>(), 1) << "b needed a's room";

  // Several clients, alternating lanes.
  constexpr int kClients = 4, kRequests = 6;
  std::vector<std::string> failures[kClients];
  std::vector<std::thread> clients;
  const auto t0 = std::chrono::steady_clock::now();
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < kRequests; ++i) {
        const std::string lane = (c + i) % 2 == 0 ? "a" : "b";
        const std::string& p = prompts[static_cast<size_t>(c + i) % prompts.size()];
        HttpResponse r = complete(port, lane, p);
        if (r.status != 200) failures[c].push_back(lane + " " + std::to_string(r.status) + " " + r.body);
        else if (text_of(r) != alone[{lane, p}]) failures[c].push_back(lane + " answered '" + text_of(r) + "'");
      }
    });
  }
  for (auto& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int c = 0; c < kClients; ++c) EXPECT_TRUE(failures[c].empty()) << "client " << c << ": " << failures[c].front();

  a = lane_info(port, "a");
  const json b = lane_info(port, "b");
  const int swaps = a["pool"]["unloads"].get<int>() + b["pool"]["unloads"].get<int>();
  EXPECT_GE(swaps, 2);
  EXPECT_LE(json::parse(http_get(port, "/v1/lanes").body)["pool"]["resident_bytes"].get<uint64_t>(), budget);
  std::printf("pool: %d requests over 2 lanes in %.2f s, %d unloads; last load a %.3f s b %.3f s, last unload a %.3f s b %.3f s\n",
              kClients * kRequests, seconds, swaps, a["pool"]["last_load_seconds"].get<double>(),
              b["pool"]["last_load_seconds"].get<double>(), a["pool"]["last_unload_seconds"].get<double>(),
              b["pool"]["last_unload_seconds"].get<double>());

  // Memory really returns: unload both, load one, unload it.
  ASSERT_EQ(http_post(port, "/v1/lanes/a/unload", "").status, 202);
  ASSERT_EQ(http_post(port, "/v1/lanes/b/unload", "").status, 202);
  ASSERT_TRUE(wait_lane_state(port, "a", "unloaded", 10s));
  ASSERT_TRUE(wait_lane_state(port, "b", "unloaded", 10s));
  const uint64_t empty = rss_of(server.pid());
  ASSERT_EQ(complete(port, "a", prompts[0]).status, 200);
  const uint64_t loaded = rss_of(server.pid());
  ASSERT_EQ(http_post(port, "/v1/lanes/a/unload", "").status, 202);
  ASSERT_TRUE(wait_lane_state(port, "a", "unloaded", 10s));
  const uint64_t after = rss_of(server.pid());
  EXPECT_GE(loaded, empty + bill * 8 / 10);
  EXPECT_GE(loaded - std::min(loaded, after), bill * 9 / 10)
      << "RSS " << empty << " -> " << loaded << " -> " << after << " for a bill of " << bill;
  std::printf("pool: RSS %.1f MiB unloaded, %.1f MiB with lane a (bill %.1f MiB), %.1f MiB after unloading it\n",
              empty / 1048576.0, loaded / 1048576.0, bill / 1048576.0, after / 1048576.0);

  // /metrics counts the swaps.
  const std::string metrics = http_get(port, "/metrics").body;
  EXPECT_NE(metrics.find("laneway_lane_state{lane=\"a\",state=\"unloaded\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("laneway_lane_unloads_total{lane=\"a\"}"), std::string::npos);
  EXPECT_EQ(server.stop(SIGTERM, 10s), 0);
}

TEST(ServerPool, KeepAliveUnloadsAnIdleLaneAndReadinessStaysUp) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_pool_keep_alive");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << "lanes:\n" + on_demand_lane("c", "300ms", "256");
  ServerProcess server({"--config", config, "--port", "0"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  EXPECT_EQ(http_get(port, "/lanes/c/health").status, 200) << "unloaded is ready: a request loads it";
  ASSERT_EQ(complete(port, "c", "Once upon a time").status, 200);
  ASSERT_TRUE(wait_lane_state(port, "c", "unloaded", 10s));
  EXPECT_EQ(lane_info(port, "c")["pool"]["loads"], 1);
  EXPECT_EQ(http_get(port, "/lanes/c/health").status, 200);
  ASSERT_EQ(complete(port, "c", "Once upon a time").status, 200);
  EXPECT_EQ(lane_info(port, "c")["pool"]["loads"], 2);
  EXPECT_EQ(server.stop(SIGTERM, 10s), 0);
}

TEST(ServerPool, ALaneThatCannotLoadFailsAloneAndServeKeepsServing) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_pool_failed");
  const std::string corrupt = (dir / "corrupt.gguf").string();
  std::ofstream(corrupt) << "GGUF this is not a model";
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << "lanes:\n"
                           "  - name: good\n    model: " + stories_model_path() + "\n    context: 256\n    default: true\n"
                           "  - name: missing\n    model: " + (dir / "nowhere.gguf").string() + "\n"
                           "  - name: broken\n    model: " + corrupt + "\n";
  ServerProcess server({"--config", config, "--port", "0"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  for (const std::string lane : {"missing", "broken"}) {
    HttpResponse h = http_get(port, "/lanes/" + lane + "/health");
    EXPECT_EQ(h.status, 503) << lane;
    const json j = json::parse(h.body, nullptr, false);
    EXPECT_EQ(j["state"], "failed") << h.body;
    EXPECT_FALSE(j.value("error", "").empty()) << h.body;
    HttpResponse r = complete(port, lane, "Once");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(r.body.find(lane), std::string::npos) << r.body;
  }
  EXPECT_NE(lane_info(port, "missing")["last_error"].get<std::string>().find("nowhere.gguf"), std::string::npos);
  EXPECT_EQ(complete(port, "good", "Once upon a time").status, 200);
  EXPECT_NE(http_get(port, "/metrics").body.find("laneway_lane_state{lane=\"broken\",state=\"failed\"} 1"),
            std::string::npos);

  // The file is fixed: a reload brings the lane up.
  std::filesystem::copy_file(stories_model_path(), corrupt, std::filesystem::copy_options::overwrite_existing);
  ASSERT_EQ(http_post(port, "/v1/lanes/broken/reload", "").status, 202);
  ASSERT_TRUE(wait_lane_state(port, "broken", "ready", 10s)) << lane_info(port, "broken").dump();
  EXPECT_EQ(complete(port, "broken", "Once upon a time").status, 200);
  EXPECT_EQ(server.stop(SIGTERM, 10s), 0);
}

TEST(ServerPool, StrictRefusesToStartWithAFailedLane) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_pool_strict");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << "lanes:\n"
                           "  - name: good\n    model: " + stories_model_path() + "\n    context: 256\n"
                           "  - name: missing\n    model: " + (dir / "nowhere.gguf").string() + "\n";
  ServerProcess server({"--config", config, "--port", "0", "--strict"}, 20s);
  EXPECT_FALSE(server.started());
  EXPECT_NE(server.output().find("missing"), std::string::npos) << server.output();
}

}  // namespace
}  // namespace laneway::test

namespace laneway::test {
namespace {

TEST(ServerPool, ListensBeforeLanesLoadAndRequestsWaitForTheLoad) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--ctx", "256", "--port", "0", "--debug-load-delay-ms", "3000"},
                       std::chrono::seconds(60), /*wait_for_lanes=*/false);
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  EXPECT_EQ(http_get(port, "/health").status, 200) << "liveness answers during the load";
  HttpResponse h = http_get(port, "/lanes/stories260k/health");
  EXPECT_EQ(h.status, 503);
  EXPECT_NE(h.body.find("\"loading\""), std::string::npos) << h.body;
  const json l = lane_info(port, "stories260k");
  EXPECT_EQ(l["state"], "loading");
  EXPECT_GT(l["loading"]["bytes_total"].get<uint64_t>(), 0u) << l.dump();
  // A request sent now waits for the load instead of failing.
  HttpResponse r = complete(port, "stories260k", "Once upon a time");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(lane_info(port, "stories260k")["state"], "ready");
  const auto end = std::chrono::steady_clock::now() + 5s;  // printed within a poll tick of the load
  while (server.output().find("lanes settled:") == std::string::npos && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(server.output().find("lanes settled: stories260k ready"), std::string::npos) << server.output();
  EXPECT_EQ(server.stop(SIGTERM, std::chrono::seconds(10)), 0);
}

}  // namespace
}  // namespace laneway::test

namespace laneway::test {
namespace {

// Burst mode through serve: an on_demand lane of higher priority needs the
// room an eager lane holds; the eager lane is paused (its requests go to
// its fallback meanwhile), and comes back once the burst lane unloads.
TEST(ServerPool, BurstPausesAnEagerLaneAndRestoresIt) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_pool_burst");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << "lanes:\n"
                           "  - name: everyday\n    model: " + stories_model_path() + "\n    context: 128k\n    fallback: small\n"
                           "  - name: small\n    model: " + stories_model_path() + "\n    context: 256\n    pausable: false\n"
                           "  - name: ingest\n    model: " + stories_model_path() + "\n    context: 128k\n"
                           "    load: on_demand\n    keep_alive: 500ms\n    priority: 1\n";
  ServerProcess server({"--config", config, "--port", "0", "--memory-budget", "140MiB"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  ASSERT_EQ(lane_info(port, "everyday")["state"], "ready");
  ASSERT_EQ(lane_info(port, "small")["state"], "ready");
  const std::string alone = text_of(complete(port, "everyday", "Once upon a time"));

  // The burst: ingest needs everyday's room.
  ASSERT_EQ(complete(port, "ingest", "Once upon a time").status, 200);
  json everyday = lane_info(port, "everyday");
  EXPECT_EQ(everyday["state"], "paused") << everyday.dump();
  EXPECT_EQ(everyday["burst"]["paused_by"], "ingest") << everyday.dump();
  EXPECT_GT(everyday["burst"]["lent_bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(lane_info(port, "small")["state"], "ready") << "pausable: false is never paused";
  EXPECT_NE(http_get(port, "/metrics").body.find("laneway_lane_state{lane=\"everyday\",state=\"paused\"} 1"),
            std::string::npos);

  // Meanwhile everyday's requests go to its fallback.
  const int64_t small_before = lane_info(port, "small")["tokens"]["generated_total"].get<int64_t>();
  HttpResponse r = complete(port, "everyday", "Once upon a time");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_GT(lane_info(port, "small")["tokens"]["generated_total"].get<int64_t>(), small_before);

  // The burst ends (ingest unloads after keep_alive): everyday comes back by itself.
  ASSERT_TRUE(wait_lane_state(port, "ingest", "unloaded", 10s));
  ASSERT_TRUE(wait_lane_state(port, "everyday", "ready", 10s)) << lane_info(port, "everyday").dump();
  everyday = lane_info(port, "everyday");
  EXPECT_TRUE(everyday["burst"]["paused_by"].is_null());
  EXPECT_FALSE(everyday["burst"]["resumed_at_unix_s"].is_null());
  EXPECT_EQ(text_of(complete(port, "everyday", "Once upon a time")), alone);
  EXPECT_EQ(server.stop(SIGTERM, 10s), 0);
}

// on_pause: preempt through the server: a request queued behind a running
// one on a lane that pauses for a burst is handed back before it starts,
// waits for the lane to come back and then runs from scratch: its client
// gets the whole answer it gets alone, after the burst's (with drain it
// would run first). Both APIs: /v1/completions and Ollama's /api/generate.
TEST(ServerPool, PreemptedRequestsRunAgainAfterTheBurst) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_pool_preempt");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << "lanes:\n"
                           "  - name: everyday\n    model: " + stories_model_path() + "\n    context: 128k\n"
                           "    slots: 1\n    queue: 4\n    on_pause: preempt\n"
                           "  - name: ingest\n    model: " + stories_model_path() + "\n    context: 128k\n"
                           "    load: on_demand\n    keep_alive: 300ms\n    priority: 1\n";
  ServerProcess server({"--config", config, "--port", "0", "--memory-budget", "140MiB", "--debug-token-delay-ms", "25"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  const std::string alone = text_of(complete(port, "everyday", "The little dog"));
  const json ollama_body = {{"model", "everyday"}, {"prompt", "The little dog"}, {"raw", true}, {"stream", false},
                            {"options", {{"temperature", 0}, {"num_predict", 12}}}};
  const HttpResponse ollama_alone = http_post(port, "/api/generate", ollama_body.dump());
  ASSERT_EQ(ollama_alone.status, 200) << ollama_alone.body;
  const std::string ollama_alone_text = json::parse(ollama_alone.body)["response"];

  for (const bool ollama : {false, true}) {
    SCOPED_TRACE(ollama ? "/api/generate" : "/v1/completions");
    ASSERT_TRUE(wait_lane_state(port, "everyday", "ready", 10s));
    using Clock = std::chrono::steady_clock;
    const json long_body = {{"model", "everyday"}, {"prompt", "Once upon a time"}, {"max_tokens", 60},
                            {"temperature", 0}, {"ignore_eos", true}};
    auto running = std::async(std::launch::async, [&] { return http_post(port, "/v1/completions", long_body.dump()); });
    std::this_thread::sleep_for(300ms);  // running on everyday's one slot
    auto queued = std::async(std::launch::async, [&] {
      HttpResponse r = ollama ? http_post(port, "/api/generate", ollama_body.dump()) : complete(port, "everyday", "The little dog");
      return std::make_pair(r, Clock::now());
    });
    ASSERT_TRUE(wait_until([&] { return lane_info(port, "everyday")["queue_depth"] == 1; }, 2s))
        << lane_info(port, "everyday").dump();
    auto burst = std::async(std::launch::async, [&] {
      HttpResponse r = complete(port, "ingest", "Once upon a time");
      return std::make_pair(r, Clock::now());
    });
    EXPECT_EQ(running.get().status, 200);
    const auto [b, t_burst] = burst.get();
    EXPECT_EQ(b.status, 200) << b.body;
    const auto [q, t_queued] = queued.get();
    ASSERT_EQ(q.status, 200) << q.body;
    if (ollama) {
      EXPECT_EQ(json::parse(q.body)["response"], ollama_alone_text);
    } else {
      EXPECT_EQ(text_of(q), alone);
    }
    EXPECT_LT(t_burst, t_queued) << "handed back, it ran after the burst (drain would have run it first)";
  }
  EXPECT_EQ(lane_info(port, "everyday")["pool"]["loads"], 3);  // loaded, restored after each burst
  EXPECT_EQ(server.stop(SIGTERM, 10s), 0);
}

// burst_context: a prompt longer than the ingest lane's context (256) but
// within its burst_context (128k) runs on the lane's burst twin, whose load
// pauses the everyday lane (lower priority) as the burst rule says; the
// answer is the model's (everyday, the same model, gives the same text), and
// everyday comes back once the twin unloads. A short prompt stays on ingest
// and pauses nothing.
TEST(ServerPool, BurstContextPausesOthersForALongPromptAndRestoresThem) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_pool_burst_context");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << "lanes:\n"
                           "  - name: everyday\n    model: " + stories_model_path() + "\n    context: 128k\n"
                           "  - name: ingest\n    model: " + stories_model_path() + "\n    context: 256\n"
                           "    burst_context: 128k\n    priority: 1\n";
  ServerProcess server({"--config", config, "--port", "0", "--memory-budget", "140MiB"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  ASSERT_EQ(lane_info(port, "everyday")["state"], "ready");
  ASSERT_EQ(lane_info(port, "ingest")["state"], "ready");
  EXPECT_TRUE(lane_info(port, "ingest@burst").is_null()) << "the twin is not listed";

  // A short prompt: ingest itself, nothing paused.
  EXPECT_EQ(complete(port, "ingest", "Once upon a time").status, 200);
  EXPECT_EQ(lane_info(port, "everyday")["state"], "ready");

  std::string long_prompt;
  while (long_prompt.size() < 2000) long_prompt += "Once upon a time there was a little dog. ";
  const std::string reference = text_of(complete(port, "everyday", long_prompt));
  const HttpResponse r = complete(port, "ingest", long_prompt);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(text_of(r), reference);
  const json everyday = lane_info(port, "everyday");
  EXPECT_TRUE(everyday["state"] == "paused" || everyday["state"] == "restoring" || !everyday["burst"]["resumed_at_unix_s"].is_null())
      << everyday.dump();
  ASSERT_TRUE(wait_lane_state(port, "everyday", "ready", 10s)) << lane_info(port, "everyday").dump();
  EXPECT_FALSE(lane_info(port, "everyday")["burst"]["resumed_at_unix_s"].is_null());
  EXPECT_EQ(lane_info(port, "ingest")["state"], "ready") << "everyday's room was enough";
  EXPECT_NE(http_get(port, "/metrics").body.find("lane=\"ingest@burst\""), std::string::npos);
  // The same through Ollama's /api/generate.
  const json ollama = {{"model", "ingest"}, {"prompt", long_prompt}, {"raw", true}, {"stream", false},
                       {"options", {{"temperature", 0}, {"num_predict", 12}}}};
  const HttpResponse o = http_post(port, "/api/generate", ollama.dump());
  ASSERT_EQ(o.status, 200) << o.body;
  EXPECT_EQ(json::parse(o.body)["response"], reference);
  ASSERT_TRUE(wait_lane_state(port, "everyday", "ready", 10s)) << lane_info(port, "everyday").dump();

  // Beyond burst_context: the usual 400.
  std::string huge;
  while (huge.size() < 700000) huge += "Once upon a time there was a little dog. ";
  const HttpResponse too_long = complete(port, "ingest", huge);
  EXPECT_EQ(too_long.status, 400) << too_long.body.substr(0, 300);
  EXPECT_NE(too_long.body.find("131072"), std::string::npos) << too_long.body.substr(0, 300);
  EXPECT_EQ(server.stop(SIGTERM, 10s), 0);
}

// A fake vLLM (tests/e2e/server/fake_vllm.cpp) holding `mib` MiB in its own process.
std::unique_ptr<ServerProcess> start_fake_vllm(int mib, int delay_ms, bool asleep = false) {
  std::vector<std::string> argv = {LANEWAY_FAKE_VLLM, "--memory-mib", std::to_string(mib), "--delay-ms",
                                   std::to_string(delay_ms)};
  if (asleep) argv.push_back("--start-asleep");
  return std::make_unique<ServerProcess>(ServerProcess::Program{argv});
}

std::string sleepy_service(int port) {
  return "services:\n  - name: vllm\n    url: http://127.0.0.1:" + std::to_string(port) +
         "/v1\n    memory_budget: 100MiB\n    sleep: { path: /sleep, wake: /wake_up, frees: all }\n";
}

json fake_calls(int port) { return json::parse(http_get(port, "/debug/calls").body, nullptr, false)["calls"]; }

HttpResponse chat(int port, const std::string& lane) {
  const json body = {{"model", lane}, {"messages", {{{"role", "user"}, {"content", "Once upon a time"}}}}, {"max_tokens", 8},
                     {"temperature", 0}};
  return http_post(port, "/v1/chat/completions", body.dump());
}

std::string chat_text(const HttpResponse& r) {
  const json j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.contains("choices")) return "<" + r.body + ">";
  return j["choices"][0]["message"]["content"].get<std::string>();
}

// Burst mode with a vLLM service (LANES.md `sleep`, issue 16's must-show):
// the deep-ingest lane needs the service's memory; the request the service
// is answering finishes first, then /sleep?level=2 is called and the fake's
// memory really returns; meanwhile the service's lanes go to their fallback
// or wait (none lost, none answered by a sleeping service); once the ingest
// lane unloads the service is woken and answers again.
TEST(ServerPool, BurstPutsAVllmServiceToSleepAndWakesIt) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  auto vllm = start_fake_vllm(100, 400);
  ASSERT_TRUE(vllm->started()) << vllm->output();
  const int vport = vllm->port();
  const uint64_t rss_awake = rss_of(vllm->pid());
  ASSERT_GE(rss_awake, 100ull << 20);
  const auto dir = scratch_dir("server_pool_sleep");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << sleepy_service(vport) +
                               "lanes:\n"
                               "  - name: orchestrator\n    service: vllm\n    fallback: small\n"
                               "  - name: coder\n    service: vllm\n"
                               "  - name: small\n    model: " + stories_model_path() + "\n    context: 256\n    pausable: false\n"
                               "  - name: ingest\n    model: " + stories_model_path() + "\n    context: 128k\n"
                               "    load: on_demand\n    keep_alive: 500ms\n    priority: 1\n";
  // 140 MiB: the service's 100 and small fit; ingest (~85) fits only while the service sleeps.
  ServerProcess server({"--config", config, "--port", "0", "--memory-budget", "140MiB", "--health-interval-ms", "200"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  ASSERT_TRUE(wait_lane_state(port, "orchestrator", "ready", 10s)) << lane_info(port, "orchestrator").dump();
  EXPECT_EQ(lane_info(port, "orchestrator")["pool"]["bill_bytes"], 100u << 20);
  EXPECT_EQ(chat_text(chat(port, "orchestrator")), "fake vllm answer");
  EXPECT_TRUE(fake_calls(vport).empty()) << "an awake service is not woken";

  // A request the service is answering (400 ms), then the burst.
  auto running = std::async(std::launch::async, [&] { return chat(port, "coder"); });
  std::this_thread::sleep_for(100ms);
  const HttpResponse burst = complete(port, "ingest", "Once upon a time");
  ASSERT_EQ(burst.status, 200) << burst.body << server.output();
  const HttpResponse ran = running.get();
  EXPECT_EQ(ran.status, 200) << "the sleep waited for the running request: " << ran.body;
  EXPECT_EQ(chat_text(ran), "fake vllm answer");
  EXPECT_EQ(fake_calls(vport), json::array({"POST /sleep?level=2"}));
  EXPECT_EQ(json::parse(http_get(vport, "/is_sleeping").body)["is_sleeping"], true);
  const uint64_t rss_asleep = rss_of(vllm->pid());
  EXPECT_LE(rss_asleep + (90ull << 20), rss_awake) << "the service's memory really returned: " << rss_asleep << " of "
                                                   << rss_awake;
  json orch = lane_info(port, "orchestrator");
  EXPECT_EQ(orch["state"], "paused") << orch.dump();
  EXPECT_EQ(orch["burst"]["paused_by"], "ingest") << orch.dump();
  EXPECT_EQ(orch["burst"]["lent_bytes"], 100u << 20);
  EXPECT_EQ(lane_info(port, "small")["state"], "ready");
  const std::string metrics = http_get(port, "/metrics").body;
  EXPECT_NE(metrics.find("laneway_upstream_asleep{service=\"vllm\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("laneway_lane_state{lane=\"coder\",state=\"paused\"} 1"), std::string::npos);

  // While it sleeps: orchestrator's requests go to its fallback (small, an
  // embedded lane: not the fake's answer); coder's wait for the wake.
  const HttpResponse via_fallback = chat(port, "orchestrator");
  EXPECT_EQ(via_fallback.status, 200) << via_fallback.body;
  EXPECT_NE(chat_text(via_fallback), "fake vllm answer");
  const HttpResponse waited = chat(port, "coder");  // ingest unloads after 500 ms; then the wake
  EXPECT_EQ(waited.status, 200) << waited.body;
  EXPECT_EQ(chat_text(waited), "fake vllm answer");
  EXPECT_EQ(fake_calls(vport), json::array({"POST /sleep?level=2", "POST /wake_up"}));
  EXPECT_GE(rss_of(vllm->pid()), 100ull << 20);
  ASSERT_TRUE(wait_lane_state(port, "orchestrator", "ready", 10s)) << lane_info(port, "orchestrator").dump();
  orch = lane_info(port, "orchestrator");
  EXPECT_TRUE(orch["burst"]["paused_by"].is_null()) << orch.dump();
  EXPECT_FALSE(orch["burst"]["resumed_at_unix_s"].is_null()) << orch.dump();
  EXPECT_EQ(orch["pool"]["sleeps"], 1);
  EXPECT_EQ(chat_text(chat(port, "orchestrator")), "fake vllm answer");
  EXPECT_NE(http_get(port, "/metrics").body.find("laneway_upstream_sleeps_total{service=\"vllm\"} 1"), std::string::npos);
  EXPECT_EQ(server.stop(SIGTERM, 10s), 0);
  EXPECT_NE(server.output().find("lane=coder status=200"), std::string::npos) << "access lines name upstream lanes";
  EXPECT_NE(server.output().find("service vllm: asleep (POST /sleep?level=2"), std::string::npos) << server.output();
}

// A service an earlier run left asleep is woken when the server starts
// (vLLM's /is_sleeping says so); a sleep call that fails frees nothing and
// the burst waits rather than run beside a service that still holds its
// memory.
TEST(ServerPool, AServiceLeftAsleepIsWokenAtStartAndAFailedSleepFreesNothing) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  auto vllm = start_fake_vllm(100, 0, /*asleep=*/true);
  ASSERT_TRUE(vllm->started()) << vllm->output();
  const int vport = vllm->port();
  const auto dir = scratch_dir("server_pool_sleep_start");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << sleepy_service(vport) +
                               "lanes:\n"
                               "  - name: orchestrator\n    service: vllm\n"
                               "  - name: ingest\n    model: " + stories_model_path() + "\n    context: 128k\n"
                               "    load: on_demand\n    keep_alive: 500ms\n    priority: 1\n";
  ServerProcess server({"--config", config, "--port", "0", "--memory-budget", "140MiB", "--health-interval-ms", "200",
                        "--request-timeout-ms", "3000"});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  ASSERT_TRUE(wait_lane_state(port, "orchestrator", "ready", 10s)) << lane_info(port, "orchestrator").dump();
  EXPECT_EQ(fake_calls(vport), json::array({"POST /wake_up"}));
  EXPECT_EQ(chat_text(chat(port, "orchestrator")), "fake vllm answer");

  ASSERT_EQ(http_post(vport, "/debug/fail_sleep", "").status, 200);
  const HttpResponse burst = complete(port, "ingest", "Once upon a time");
  EXPECT_EQ(burst.status, 503) << "no room while the service holds its memory: " << burst.body;
  EXPECT_NE(burst.body.find("sleep call of vllm failed"), std::string::npos) << burst.body;
  EXPECT_EQ(lane_info(port, "orchestrator")["state"], "ready");
  EXPECT_EQ(chat_text(chat(port, "orchestrator")), "fake vllm answer") << "it serves on";
  EXPECT_NE(server.output().find("the sleep call failed, nothing freed"), std::string::npos) << server.output();
  EXPECT_EQ(server.stop(SIGTERM, 10s), 0);
}

// Pinned lanes load one by one, after start: each is checked against the
// memlock limit when it loads, with what the lanes before it pinned. Two
// `mlock` lanes of ~3.6 MiB each under a 6 MiB limit (no CAP_IPC_LOCK, via
// util-linux's prlimit and setpriv): the first is pinned, the second is
// refused with the planner's message and the fix, and the first serves on.
TEST(ServerPool, ASecondPinnedLaneBeyondTheMemlockLimitIsRefusedWithTheFix) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  if (::access("/usr/bin/prlimit", X_OK) != 0 || ::access("/usr/bin/setpriv", X_OK) != 0) {
    if (testdata_required()) FAIL() << "prlimit and setpriv (util-linux) are needed";
    GTEST_SKIP() << "prlimit and setpriv (util-linux) are needed";
  }
  constexpr uint64_t kLimit = 6 << 20;
  rlimit current{};
  ::getrlimit(RLIMIT_MEMLOCK, &current);
  if (current.rlim_max != RLIM_INFINITY && current.rlim_max < kLimit) {
    GTEST_SKIP() << "the hard memlock limit here (" << current.rlim_max << " bytes) is below the test's 6 MiB, and "
                 << "raising it needs CAP_SYS_RESOURCE";
  }
  const auto dir = scratch_dir("server_pool_mlock");
  const std::string config = (dir / "lanes.yaml").string();
  // 4k tokens of f16 KV on stories260K: 2.5 MiB, and 1.1 MiB of weights, per lane.
  std::ofstream(config) << "lanes:\n"
                           "  - name: first\n    model: " + stories_model_path() + "\n    context: 4k\n    mlock: true\n"
                           "  - name: second\n    model: " + stories_model_path() + "\n    context: 4k\n    mlock: true\n";
  const std::string limit = std::to_string(kLimit);
  std::vector<std::string> argv = {"/usr/bin/prlimit", "--memlock=" + limit + ":" + limit, "/usr/bin/setpriv",
                                   "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock"};
  for (const auto& a : laneway_argv0()) argv.push_back(a);
  for (const std::string& a : {std::string("serve"), std::string("--config"), config, std::string("--port"),
                               std::string("0"), std::string("--gpu-layers"), std::string("0")}) {
    argv.push_back(a);
  }
  ServerProcess server(ServerProcess::Program{argv});
  ASSERT_TRUE(server.started()) << server.output();
  const int port = server.port();
  ASSERT_TRUE(wait_lane_state(port, "first", "ready", 20s)) << lane_info(port, "first").dump() << server.output();
  ASSERT_TRUE(wait_lane_state(port, "second", "failed", 20s)) << lane_info(port, "second").dump() << server.output();
  const std::string why = lane_info(port, "second")["last_error"].get<std::string>();
  EXPECT_NE(why.find("cannot pin"), std::string::npos) << why;
  EXPECT_NE(why.find("memlock limit (RLIMIT_MEMLOCK) is 6 MiB"), std::string::npos) << why;
  EXPECT_NE(why.find("pinned already by this process"), std::string::npos) << why;
  EXPECT_NE(why.find("Fix ("), std::string::npos) << why;
  // The first lane's weights and KV are pinned (a lane's `mlock`, not only --mlock).
  EXPECT_GE(proc_status_bytes(server.pid(), "VmLck"), 3ull << 20);
  EXPECT_EQ(complete(port, "first", "Once upon a time").status, 200);
  EXPECT_EQ(server.stop(SIGTERM, 10s), 0);
}

}  // namespace
}  // namespace laneway::test
