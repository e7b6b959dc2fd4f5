// Out-of-memory safety: `laneway run` plans the model before loading it and
// refuses, with the plan's message and exit code 2, what would not fit in the
// memory the hardware probe reports usable, instead of being OOM-killed.
//
// Two ways to limit memory:
//  - a real cgroup, when this test may create one: $LANEWAY_TEST_CGROUP_PARENT
//    (a writable v2 group with memory in cgroup.subtree_control, or a v1
//    memory cgroup directory), else this process's own v2 group when it is
//    delegated (writable, memory enabled for its children);
//  - otherwise an injected limit: $LANEWAY_PROBE_ROOT pointing at a fixture
//    tree whose cgroup has a small memory.max (the probe's injectable root).
// The model: stories260K at a 1M-token context, whose f16 KV cache alone is
// 5 layers x 32 x 2 x 2 bytes = 640 B/token x 1M = 640 MiB, far above 64 MiB.
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <sys/wait.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "unit/hw/machine_fixtures.h"
#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway {
namespace {

constexpr uint64_t kLimitBytes = 64ull << 20;
// Double quotes: run_in_cgroup passes the arguments inside sh -c '...'.
const std::string kTooBig = " --ctx 1048576 -p \"Once upon a time\" -n 4 --temp 0 --stats";
const std::string kFits = " --ctx 512 -p \"Once upon a time\" -n 4 --temp 0 --stats";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CgroupParent {
  std::filesystem::path dir;
  bool v2 = true;
};

// Where this test may create a memory-limited cgroup; nullopt and why not otherwise.
std::optional<CgroupParent> find_cgroup_parent(std::string& why_not) {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("LANEWAY_TEST_CGROUP_PARENT"); env && *env) {
    const fs::path dir = env;
    if (fs::exists(dir / "memory.limit_in_bytes")) return CgroupParent{dir, false};
    if (contains(read_text(dir / "cgroup.subtree_control"), "memory")) return CgroupParent{dir, true};
    why_not = std::string("LANEWAY_TEST_CGROUP_PARENT=") + env +
              " is neither a v1 memory cgroup nor a v2 group with memory in cgroup.subtree_control";
    return std::nullopt;
  }
  // This process's own group: a v2 group delegated to us, or a v1 memory
  // group we may write (root in a VM or a container of its own).
  std::string v2_path, v1_path;
  std::istringstream groups(read_text("/proc/self/cgroup"));
  for (std::string line; std::getline(groups, line);) {
    if (line.rfind("0::", 0) == 0) v2_path = line.substr(3);
    const auto colon = line.find(':');
    if (colon != std::string::npos && line.compare(colon, 8, ":memory:") == 0) v1_path = line.substr(colon + 8);
  }
  std::string mount, v1_mount;
  std::istringstream mounts(read_text("/proc/self/mountinfo"));
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, point;
    fields >> id >> parent >> dev >> root >> point;
    if (contains(line, " - cgroup2 ") && mount.empty()) mount = point;
    if (contains(line, " - cgroup ") && (contains(line, ",memory") || contains(line, " memory"))) v1_mount = point;
  }
  if (!v1_path.empty() && !v1_mount.empty()) {
    const fs::path dir = fs::path(v1_mount) / fs::path(v1_path).relative_path();
    if (fs::exists(dir / "memory.limit_in_bytes") && ::access(dir.c_str(), W_OK) == 0) return CgroupParent{dir, false};
  }
  if (v2_path.empty() || mount.empty()) {
    why_not = "no cgroup v2 group for this process and no writable v1 memory group (set "
              "LANEWAY_TEST_CGROUP_PARENT to a writable memory cgroup to run this test)";
    return std::nullopt;
  }
  const fs::path dir = fs::path(mount) / fs::path(v2_path).relative_path();
  if (!contains(read_text(dir / "cgroup.subtree_control"), "memory") || ::access(dir.c_str(), W_OK) != 0) {
    why_not = "this process's cgroup v2 group " + dir.string() +
              " is not delegated (not writable, or memory is not in its cgroup.subtree_control); set "
              "LANEWAY_TEST_CGROUP_PARENT to a writable memory cgroup to run this test";
    return std::nullopt;
  }
  return CgroupParent{dir, true};
}

struct CgroupRun {
  test::CliResult result;
  uint64_t peak_bytes = 0;  // the group's peak charge: memory.peak (v2) or memory.max_usage_in_bytes (v1)
  uint64_t limit_hits = 0;  // times the charge reached the limit: memory.events "max" (v2) or memory.failcnt (v1)
};

uint64_t read_u64(const std::filesystem::path& p) {
  std::ifstream in(p);
  uint64_t v = 0;
  in >> v;
  return v;
}

// Runs `laneway <args>` inside a fresh child cgroup of `parent` limited to limit_bytes.
CgroupRun run_in_cgroup_measured(const CgroupParent& parent, uint64_t limit_bytes, const std::string& args) {
  namespace fs = std::filesystem;
  const fs::path group = parent.dir / ("laneway-oom-test-" + std::to_string(::getpid()));
  fs::create_directory(group);
  std::ofstream(group / (parent.v2 ? "memory.max" : "memory.limit_in_bytes")) << limit_bytes;
  if (parent.v2 && fs::exists(group / "memory.swap.max")) std::ofstream(group / "memory.swap.max") << 0;
  const auto dir = test::scratch_dir("oom_cgroup");
  const std::string cmd = "sh -c 'echo $$ > " + (group / "cgroup.procs").string() + " && exec " +
                          test::laneway_command() + " " + args + "' 2>" + (dir / "stderr").string() +
                          " </dev/null";
  CgroupRun run;
  test::CliResult& r = run.result;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  r.err = read_text(dir / "stderr");
  if (parent.v2) {
    run.peak_bytes = read_u64(group / "memory.peak");  // Linux 5.19+; 0 before
    std::istringstream events(read_text(group / "memory.events"));
    for (std::string key; events >> key;) {
      uint64_t v = 0;
      events >> v;
      if (key == "max") run.limit_hits = v;
    }
  } else {
    run.peak_bytes = read_u64(group / "memory.max_usage_in_bytes");
    run.limit_hits = read_u64(group / "memory.failcnt");
  }
  std::error_code ec;
  fs::remove(group, ec);  // empty again once the process has exited
  return run;
}

test::CliResult run_in_cgroup(const CgroupParent& parent, uint64_t limit_bytes, const std::string& args) {
  return run_in_cgroup_measured(parent, limit_bytes, args).result;
}

// A machine with plenty of RAM whose cgroup allows only kLimitBytes (4 MiB in use).
std::filesystem::path small_cgroup_fixture() {
  const auto dir = test::scratch_dir("oom_fixture");
  hw::fixtures::FixtureTree t(dir);
  t.meminfo(64 * hw::fixtures::kGiB, 60 * hw::fixtures::kGiB);
  t.write("/proc/self/cgroup", "0::/laneway\n");
  t.write("/proc/self/mountinfo", "30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n");
  t.write("/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
  t.write("/sys/fs/cgroup/laneway/memory.max", std::to_string(kLimitBytes) + "\n");
  t.write("/sys/fs/cgroup/laneway/memory.current", std::to_string(4ull << 20) + "\n");
  return dir;
}

void expect_refused(const test::CliResult& r) {
  EXPECT_EQ(r.exit_code, 2) << r.err;  // refused at load, not killed (-1)
  EXPECT_TRUE(contains(r.err, "laneway run: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "does not fit in memory: it needs")) << r.err;
  EXPECT_TRUE(contains(r.err, "for 1048576 tokens")) << r.err;
  EXPECT_TRUE(contains(r.err, "cgroup limit")) << r.err;
  EXPECT_TRUE(contains(r.err, "Use a context of at most")) << r.err;
  EXPECT_FALSE(contains(r.err, "peak_rss_bytes")) << r.err;  // it never ran
}

TEST(OomRefusal, RealCgroup) {
  const std::string model = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(model);
  std::string why_not;
  const auto parent = find_cgroup_parent(why_not);
  if (!parent) GTEST_SKIP() << "no real cgroup here (OomRefusal.InjectedLimit covers the check): " << why_not;
  std::printf("real cgroup under %s (%s), limit %llu bytes\n", parent->dir.c_str(), parent->v2 ? "v2" : "v1",
              (unsigned long long)kLimitBytes);
  expect_refused(run_in_cgroup(*parent, kLimitBytes, "run -m " + model + kTooBig));
  const auto ok = run_in_cgroup(*parent, kLimitBytes, "run -m " + model + kFits);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(contains(ok.err, "peak_rss_bytes")) << ok.err;
}

// The plan over the cgroup figure: a model runs to the end (no OOM kill, no
// refusal) in a fresh cgroup whose limit is the plan's predicted peak plus 3%
// and the few MiB the process has charged before it plans (its own start-up
// pages: the probe counts them in use and the plan bills them as overhead
// again). The group's peak charge is not compared with the plan within 3%:
// it counts the page cache of every file the process read (the whole model
// file stays charged after the tiled weights leave its mapping, so a fresh
// read peaks near twice the weights), which the kernel reclaims at the limit
// instead of killing; the limit hits say how often it did.
TEST(OomRefusal, RealCgroupAtThePlannedPeakRuns) {
  std::string why_not;
  const auto parent = find_cgroup_parent(why_not);
  for (const char* name : {"models/stories260K.gguf", "models/synthetic/tiny-Q4_K_M.gguf",
                           "models/synthetic/arch-moe-f16.gguf"}) {
    const std::string model = test::testdata_path(name);
    LANEWAY_REQUIRE_FILE(model);
    if (!parent) GTEST_SKIP() << "no real cgroup here: " << why_not;
    const std::string args = "-m " + model + " --ctx 2048 -t 2";
    const auto plan = test::run_laneway("plan " + args + " --json --usable 100000000000");
    ASSERT_EQ(plan.exit_code, 0) << plan.err;
    const uint64_t predicted = nlohmann::json::parse(plan.out)["total_bytes"].get<uint64_t>();
    const uint64_t limit = predicted + predicted * 3 / 100 + (4ull << 20);
    EXPECT_TRUE(test::drop_from_page_cache(model));
    const CgroupRun run = run_in_cgroup_measured(*parent, limit, "run " + args + " -p \"Once upon a time\" -n 16 --temp 0 --stats");
    EXPECT_EQ(run.result.exit_code, 0) << name << " did not run under a limit of its plan (+3% +4 MiB): " << run.result.err;
    const auto at = run.result.err.find("peak_rss_bytes: ");
    const uint64_t rss = at == std::string::npos ? 0 : std::stoull(run.result.err.substr(at + 16));
    std::printf("%s: plan %llu bytes, limit %llu; peak RSS %llu, the group's peak charge %llu, limit reached %llu times\n",
                name, (unsigned long long)predicted, (unsigned long long)limit, (unsigned long long)rss,
                (unsigned long long)run.peak_bytes, (unsigned long long)run.limit_hits);
  }
}

TEST(OomRefusal, InjectedLimit) {
  const std::string model = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(model);
  const auto root = small_cgroup_fixture();
  std::printf("injected limit: LANEWAY_PROBE_ROOT=%s (memory.max %llu bytes)\n", root.c_str(),
              (unsigned long long)kLimitBytes);
  // run_laneway puts the binary first; the variable goes through the environment.
  ::setenv("LANEWAY_PROBE_ROOT", root.c_str(), 1);
  const auto refused = test::run_laneway("run -m " + model + kTooBig);
  const auto ok = test::run_laneway("run -m " + model + kFits);
  ::unsetenv("LANEWAY_PROBE_ROOT");
  expect_refused(refused);
  EXPECT_TRUE(contains(refused.err, "60 MiB is usable")) << refused.err;  // 64 MiB limit - 4 MiB in use
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(contains(ok.err, "peak_rss_bytes")) << ok.err;
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace laneway
