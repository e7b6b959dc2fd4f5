// A lane that does not fit in memory fails to load with the plan's message
// while the other lanes keep serving; when no lane fits, serve exits 2.
// The memory limit is injected: LANEWAY_PROBE_ROOT points the hardware probe
// at a fixture tree whose cgroup allows 64 MiB (4 MiB in use).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "unit/hw/machine_fixtures.h"
#include "server_harness.h"
#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using json = nlohmann::json;

std::filesystem::path small_cgroup_fixture(const std::filesystem::path& dir) {
  hw::fixtures::FixtureTree t(dir);
  t.meminfo(64 * hw::fixtures::kGiB, 60 * hw::fixtures::kGiB);
  t.write("/proc/self/cgroup", "0::/laneway\n");
  t.write("/proc/self/mountinfo", "30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n");
  t.write("/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
  t.write("/sys/fs/cgroup/laneway/memory.max", std::to_string(64ull << 20) + "\n");
  t.write("/sys/fs/cgroup/laneway/memory.current", std::to_string(4ull << 20) + "\n");
  return dir;
}

// stories260K at 1M tokens needs 640 MiB of KV cache alone; at 256 a few MiB.
std::string lane(const std::string& name, const std::string& context, bool is_default) {
  return "  - name: " + name + "\n    model: " + stories_model_path() + "\n    context: " + context +
         (is_default ? "\n    default: true\n" : "\n");
}

// One meaning of --ctx with --slots: each slot gets --ctx tokens (lanes.yaml's
// `context` is per request). `plan` bills the KV cache `serve` allocates on
// the same flags, to the byte, and says ctx x slots tokens are held.
TEST(ServerLaneMemory, PlanAndServeAgreeOnContextAndSlots) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  for (int slots : {1, 3}) {
    SCOPED_TRACE("slots " + std::to_string(slots));
    const std::string flags = " --ctx 512 --slots " + std::to_string(slots);
    const CliResult plan = run_laneway("plan -m '" + stories_model_path() + "'" + flags + " --json");
    ASSERT_EQ(plan.exit_code, 0) << plan.err;
    const json p = json::parse(plan.out);
    EXPECT_EQ(p["context_tokens"], 512);
    EXPECT_EQ(p["n_ctx"], 512 * slots);
    ServerProcess server({"-m", stories_model_path(), "--port", "0", "--ctx", "512", "--slots", std::to_string(slots)});
    ASSERT_TRUE(server.started()) << server.output();
    const json lanes = json::parse(http_get(server.port(), "/v1/lanes").body);
    const json& lane = lanes["data"][0];
    EXPECT_EQ(lane["context_tokens"], 512);
    ASSERT_TRUE(lane.contains("memory")) << lane.dump();
    EXPECT_EQ(lane["memory"]["kv_bytes"].get<uint64_t>(), p["kv_bytes"].get<uint64_t>()) << lane.dump();
    EXPECT_EQ(lane["memory"]["kv_cells_total"], 512 * slots);
    const CliResult text = run_laneway("plan -m '" + stories_model_path() + "'" + flags);
    if (slots > 1) {
      EXPECT_NE(text.out.find("512 tokens per slot x 3 slots"), std::string::npos) << text.out;
    }
  }
}

TEST(ServerLaneMemory, LaneThatDoesNotFitFailsAndTheRestServes) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_lane_memory");
  const auto root = small_cgroup_fixture(dir / "machine");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << "lanes:\n" + lane("small", "256", true) + lane("huge", "1M", false);
  ::setenv("LANEWAY_PROBE_ROOT", root.c_str(), 1);
  ServerProcess server({"--config", config, "--port", "0"});
  ::unsetenv("LANEWAY_PROBE_ROOT");
  ASSERT_TRUE(server.started()) << server.output();
  EXPECT_NE(server.output().find("lane huge not loaded: "), std::string::npos) << server.output();

  HttpResponse h = http_get(server.port(), "/lanes/huge/health");
  EXPECT_EQ(h.status, 503);
  const json health = json::parse(h.body, nullptr, false);
  EXPECT_EQ(health["state"], "failed") << h.body;
  EXPECT_NE(health["error"].get<std::string>().find("does not fit in memory"), std::string::npos) << h.body;
  EXPECT_NE(health["error"].get<std::string>().find("60 MiB is usable"), std::string::npos) << h.body;
  EXPECT_EQ(http_get(server.port(), "/lanes/small/health").status, 200);
  EXPECT_EQ(http_get(server.port(), "/health").status, 200);  // liveness stays up

  const json body = {{"model", "small"}, {"prompt", "Once upon a time"}, {"max_tokens", 4}, {"temperature", 0}};
  EXPECT_EQ(http_post(server.port(), "/v1/completions", body.dump()).status, 200);
  json to_huge = body;
  to_huge["model"] = "huge";
  HttpResponse r = http_post(server.port(), "/v1/completions", to_huge.dump());
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("does not fit in memory"), std::string::npos) << r.body;

  const json lanes = json::parse(http_get(server.port(), "/v1/lanes").body, nullptr, false);
  bool listed = false;
  for (const auto& l : lanes["data"]) {
    if (l["name"] != "huge") continue;
    listed = true;
    EXPECT_EQ(l["state"], "failed");
    EXPECT_NE(l["last_error"].get<std::string>().find("does not fit"), std::string::npos);
  }
  EXPECT_TRUE(listed);
  EXPECT_EQ(server.stop(SIGTERM, std::chrono::seconds(10)), 0);
}

TEST(ServerLaneMemory, NoLaneFitsExitsTwo) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const auto dir = scratch_dir("server_lane_memory_none");
  const auto root = small_cgroup_fixture(dir / "machine");
  const std::string cmd = "LANEWAY_PROBE_ROOT=" + root.string() + " " + laneway_binary().string() + " serve -m " +
                          stories_model_path() + " --ctx 1048576 --port 0 </dev/null 2>" + (dir / "err").string();
  const int status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status;
  const std::string err = read_file(dir / "err");
  EXPECT_NE(err.find("no lane could be loaded"), std::string::npos) << err;
  EXPECT_NE(err.find("does not fit in memory"), std::string::npos) << err;
}

// `laneway plan --lanes` predicts what a `laneway serve` of the same lanes
// holds at its peak (VmHWM, after a request on every lane) within 3%: the
// serve process's base once, each lane's weights, KV, compute, tokenizer and
// share. Two-lane configs (the constants were measured on one- and
// three-lane serves, memory_plan.h).

TEST(ServerLaneMemory, TwoLaneServePeakWithinThreePercentOfThePlan) {
  const std::string synthetic = testdata_path("models/synthetic/");
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {stories_model_path(), synthetic + "tiny-Q4_K_M.gguf"},
      {synthetic + "tiny-f16.gguf", synthetic + "arch-qwen2-f16.gguf"}};
  for (const auto& [first, second] : pairs) {
    LANEWAY_REQUIRE_FILE(first);
    LANEWAY_REQUIRE_FILE(second);
    SCOPED_TRACE(first + " + " + second);
    const auto dir = scratch_dir("serve_plan_two_lanes");
    const std::string config = (dir / "lanes.yaml").string();
    std::ofstream(config) << "lanes:\n  - name: a\n    model: " << first << "\n    context: 2048\n    default: true\n"
                          << "  - name: b\n    model: " << second << "\n    context: 2048\n";
    const CliResult plan = run_laneway("plan --lanes '" + config + "' --json");
    ASSERT_EQ(plan.exit_code, 0) << plan.err;
    const json map = json::parse(plan.out);
    ASSERT_EQ(map["reserves"]["os_bytes"], 0u);
    ASSERT_EQ(map["reserves"]["other_bytes"], 0u);
    const uint64_t predicted = map["total_bytes"].get<uint64_t>();
    ServerProcess server({"--config", config, "--port", "0", "-t", "2"});
    ASSERT_TRUE(server.started()) << server.output();
    for (const char* lane : {"a", "b"}) {
      HttpResponse r = http_post(server.port(), "/v1/completions",
                                 json{{"model", lane}, {"prompt", "Once upon a time"}, {"max_tokens", 8}}.dump());
      ASSERT_EQ(r.status, 200) << r.body;
    }
    const uint64_t measured = proc_status_bytes(server.pid(), "VmHWM");
    ASSERT_GT(measured, 0u);
    const double off = (double(predicted) - double(measured)) / double(measured);
    std::printf("two-lane serve: predicted %llu measured %llu (%+.2f%%)\n", (unsigned long long)predicted,
                (unsigned long long)measured, 100.0 * off);
    EXPECT_LE(std::fabs(off), 0.03);
  }
}

}  // namespace
}  // namespace laneway::test
