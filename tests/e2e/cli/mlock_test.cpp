// Black-box tests of `laneway run --mlock` under a real RLIMIT_MEMLOCK and
// without CAP_IPC_LOCK: the child lowers its limit and drops the capability
// (effective, permitted, inheritable, ambient and bounding sets) before it
// execs laneway, so the kernel enforces the limit even when the tests run as
// root. Refused: exit 2, the numbers and the fix, nothing loaded. Allowed:
// the process's VmLck (printed by --stats as locked_bytes) matches the
// planner's pinned bill (weights + KV).
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "plan/memory_plan.h"
#include "plan/pinning.h"
#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway {
namespace {

constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB;
constexpr int kCannotArrange = 97;  // the child could not drop CAP_IPC_LOCK

bool has(const std::string& s, std::string_view needle) { return s.find(needle) != std::string::npos; }

struct Child {
  int exit_code = -1;
  std::string out, err;
  uint64_t max_rss_bytes = 0;
};

// In the child, after fork: only async-signal-safe calls.
[[noreturn]] void fail_child(const char* what) {
  const char* why = std::strerror(errno);
  (void)!write(2, "cannot drop CAP_IPC_LOCK: ", 26);
  (void)!write(2, what, std::strlen(what));
  (void)!write(2, ": ", 2);
  (void)!write(2, why, std::strlen(why));
  (void)!write(2, "\n", 1);
  _exit(kCannotArrange);
}

void drop_cap_ipc_lock() {
  // Bounding set first (needs CAP_SETPCAP, which root has): after exec a
  // root process gets permitted = inheritable | bounding.
  if (prctl(PR_CAPBSET_READ, CAP_IPC_LOCK, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, CAP_IPC_LOCK, 0, 0, 0) != 0 &&
      geteuid() == 0) {
    fail_child("PR_CAPBSET_DROP");
  }
  (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);  // absent on old kernels: nothing to clear
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) fail_child("capget");
  const unsigned bit = 1u << CAP_IPC_LOCK;  // CAP_IPC_LOCK < 32: word 0
  data[0].effective &= ~bit;
  data[0].permitted &= ~bit;
  data[0].inheritable &= ~bit;
  if (syscall(SYS_capset, &header, data) != 0) fail_child("capset");
}

// Runs laneway with RLIMIT_MEMLOCK = memlock_bytes (soft and hard) and
// without CAP_IPC_LOCK; nullopt when the limit cannot be set that high
// (the hard limit is lower and raising it needs CAP_SYS_RESOURCE).
std::optional<Child> run_pinned(const std::vector<std::string>& args, uint64_t memlock_bytes) {
  rlimit current{};
  getrlimit(RLIMIT_MEMLOCK, &current);
  if (current.rlim_max != RLIM_INFINITY && current.rlim_max < memlock_bytes) return std::nullopt;
  static int counter = 0;
  const auto dir = test::scratch_dir("mlock_run_" + std::to_string(counter++));
  const std::string out_path = (dir / "stdout").string(), err_path = (dir / "stderr").string();
  std::vector<std::string> all = test::laneway_argv0();
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    const int in = open("/dev/null", O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    const rlimit lim{memlock_bytes, memlock_bytes};
    if (setrlimit(RLIMIT_MEMLOCK, &lim) != 0) fail_child("setrlimit");
    drop_cap_ipc_lock();
    execv(argv[0], argv.data());
    _exit(127);
  }
  Child c;
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  c.max_rss_bytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
  c.out = test::read_file(out_path);
  c.err = test::read_file(err_path);
  return c;
}

// "locked_bytes: N" from --stats.
std::optional<uint64_t> stat_value(const std::string& err, const std::string& key) {
  const size_t at = err.find(key + ": ");
  if (at == std::string::npos) return std::nullopt;
  return std::stoull(err.substr(at + key.size() + 2));
}

// The planner's pinned bill (weights + KV) for `model` at ctx tokens, one slot.
uint64_t planned_pin_bytes(const std::string& model, int64_t ctx) {
  auto gguf = GgufModel::open(model);
  EXPECT_TRUE(gguf.is_ok()) << gguf.status().to_string();
  auto pm = plan_model_from_gguf(*gguf);
  EXPECT_TRUE(pm.is_ok()) << pm.status().to_string();
  PlanSettings s;
  s.n_ctx = ctx;
  s.mlock = true;
  auto bill = plan_memory(*pm, s);
  EXPECT_TRUE(bill.is_ok()) << bill.status().to_string();
  return pinned_bytes(*bill);
}

std::vector<std::string> run_args(const std::string& model, int64_t ctx, bool mlock) {
  std::vector<std::string> a{"run", "-m", model, "--ctx", std::to_string(ctx), "--gpu-layers", "0", "-t", "2",
                             "--temp", "0", "-n", "4", "-p", "Once upon a time", "--stats"};
  if (mlock) a.push_back("--mlock");
  return a;
}

#define SKIP_IF_NOT_ARRANGED(child)                                                                      \
  do {                                                                                                   \
    if ((child).exit_code == kCannotArrange) GTEST_SKIP() << "cannot run without CAP_IPC_LOCK here: " << (child).err; \
  } while (0)

TEST(MlockCli, LowLimitIsRefusedWithTheFixAndNothingLoaded) {
  const std::string model = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(model);
  auto r = run_pinned(run_args(model, 256, true), 64 * kKiB);
  ASSERT_TRUE(r.has_value());
  SKIP_IF_NOT_ARRANGED(*r);
  EXPECT_EQ(r->exit_code, 2) << r->err;
  EXPECT_TRUE(has(r->err, "laneway run: ")) << r->err;
  EXPECT_TRUE(has(r->err, "cannot pin ")) << r->err;
  EXPECT_TRUE(has(r->err, "the memlock limit (RLIMIT_MEMLOCK) is 64 KiB (hard limit 64 KiB)")) << r->err;
  EXPECT_TRUE(has(r->err, "CAP_IPC_LOCK is not effective")) << r->err;
  EXPECT_TRUE(has(r->err, "Nothing was loaded")) << r->err;
  // The fix for wherever this test runs: a shell, a systemd unit or a container.
  EXPECT_TRUE(has(r->err, "Fix (")) << r->err;
  EXPECT_TRUE(has(r->err, "ulimit -l") || has(r->err, "LimitMEMLOCK=infinity") ||
              has(r->err, "--ulimit memlock=-1:-1") || has(r->err, "securityContext.capabilities.add"))
      << r->err;
  // Nothing generated, no load figures.
  EXPECT_EQ(r->out, "");
  EXPECT_FALSE(has(r->err, "generation:")) << r->err;
  EXPECT_FALSE(stat_value(r->err, "locked_bytes").has_value());
}

// The same refusal on a model big enough that loading would show in the
// peak RSS: a 48 MiB synthetic F16 model is refused with a peak far below
// what loading it without --mlock takes.
TEST(MlockCli, RefusalLoadsNoWeights) {
  const auto dir = test::scratch_dir("mlock_synth");
  const std::string model = (dir / "wide-f16.gguf").string();
  auto synth = test::run_laneway("synth --shape tiny --type F16 --layers 8 --embd 512 --ff 1408 --seed 3 -o " + model);
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  const uint64_t file_bytes = std::filesystem::file_size(model);
  ASSERT_GT(file_bytes, 40 * kMiB);

  auto refused = run_pinned(run_args(model, 256, true), 64 * kKiB);
  ASSERT_TRUE(refused.has_value());
  SKIP_IF_NOT_ARRANGED(*refused);
  EXPECT_EQ(refused->exit_code, 2) << refused->err;
  EXPECT_TRUE(has(refused->err, "cannot pin ")) << refused->err;

  auto loaded = test::run_laneway("run -m " + model + " --ctx 256 --gpu-layers 0 -t 2 --temp 0 -n 1 -p 'Hi' --stats");
  ASSERT_EQ(loaded.exit_code, 0) << loaded.err;
  const auto loaded_peak = stat_value(loaded.err, "peak_rss_bytes");
  ASSERT_TRUE(loaded_peak.has_value()) << loaded.err;
  EXPECT_GT(*loaded_peak, file_bytes);
  EXPECT_LT(refused->max_rss_bytes + file_bytes / 2, *loaded_peak)
      << "refused peak " << refused->max_rss_bytes << ", loaded peak " << *loaded_peak;
  std::printf("%llu-byte model: refused run's peak RSS %llu bytes, a run that loads it %llu bytes\n",
              static_cast<unsigned long long>(file_bytes), static_cast<unsigned long long>(refused->max_rss_bytes),
              static_cast<unsigned long long>(*loaded_peak));
}

// Enough limit, still no CAP_IPC_LOCK: weights + KV are pinned. VmLck
// counts whole pages of the tensor data (the file's header and vocabulary
// are in the bill but not locked) plus the KV rows, so it matches the bill
// within 2% + 64 KiB.
void expect_pinned_matches_bill(const std::string& model, int64_t ctx) {
  const uint64_t bill = planned_pin_bytes(model, ctx);
  const uint64_t limit = (bill + 2 * kMiB) / kKiB * kKiB;
  auto r = run_pinned(run_args(model, ctx, true), limit);
  if (!r) GTEST_SKIP() << "the hard memlock limit is below " << limit << " bytes and raising it needs CAP_SYS_RESOURCE";
  SKIP_IF_NOT_ARRANGED(*r);
  ASSERT_EQ(r->exit_code, 0) << r->err;
  const auto locked = stat_value(r->err, "locked_bytes");
  ASSERT_TRUE(locked.has_value()) << r->err;
  const auto kv = stat_value(r->err, "kv_bytes");
  ASSERT_TRUE(kv.has_value()) << r->err;
  EXPECT_GE(*locked, *kv);  // the KV rows are pinned, not only the weights
  const double tolerance = 0.02 * double(bill) + double(64 * kKiB);
  EXPECT_NEAR(double(*locked), double(bill), tolerance) << "VmLck " << *locked << " vs bill " << bill << "\n" << r->err;
  std::printf("%s at %lld tokens: pinned bill %llu bytes, VmLck %llu bytes (%+.2f%%), limit %llu\n", model.c_str(),
              static_cast<long long>(ctx), static_cast<unsigned long long>(bill),
              static_cast<unsigned long long>(*locked), 100.0 * (double(*locked) - double(bill)) / double(bill),
              static_cast<unsigned long long>(limit));

  // The same run without --mlock pins nothing.
  auto plain = run_pinned(run_args(model, ctx, false), limit);
  ASSERT_TRUE(plain.has_value());
  ASSERT_EQ(plain->exit_code, 0) << plain->err;
  EXPECT_EQ(stat_value(plain->err, "locked_bytes"), 0u);
}

TEST(MlockCli, EnoughLimitPinsWeightsAndKvStories) {
  const std::string model = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(model);
  expect_pinned_matches_bill(model, 2048);  // f32 weights: locked in the file's mapping
}

TEST(MlockCli, EnoughLimitPinsWeightsAndKvTiled) {
  const std::string model = test::testdata_path("models/synthetic/tiny-Q8_0.gguf");
  LANEWAY_REQUIRE_FILE(model);
  expect_pinned_matches_bill(model, 512);  // Q8_0 matrices: locked as tiles in anonymous memory
}

}  // namespace
}  // namespace laneway
