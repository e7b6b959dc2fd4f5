// The pinning check (plan/pinning.h) with injected limits: refused with the
// numbers and the fix for each place a process runs, accepted with
// CAP_IPC_LOCK, an unlimited or a large enough limit; the admission check
// wired to it through a fixture machine's /proc.
#include <gtest/gtest.h>

#include "hw/root_fs.h"
#include "plan/admission.h"
#include "plan/pinning.h"
#include "support/testdata.h"
#include "unit/hw/machine_fixtures.h"

namespace laneway {
namespace {

using hw::format_bytes;
constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB;

bool has(const std::string& s, std::string_view needle) { return s.find(needle) != std::string::npos; }

// A small model's bill: tinyllama-1.1b Q4_0 at 2048 tokens (about 600 MiB of weights, 44 MiB of KV).
MemoryBill tinyllama_bill() {
  auto shape = find_model_shape("tinyllama-1.1b");
  EXPECT_TRUE(shape.has_value());
  auto model = plan_model_from_shape(*shape, "Q4_0");
  EXPECT_TRUE(model.is_ok()) << model.status().to_string();
  PlanSettings s;
  s.n_ctx = 2048;
  s.mlock = true;
  auto bill = plan_memory(*model, s);
  EXPECT_TRUE(bill.is_ok()) << bill.status().to_string();
  return *bill;
}

PinLimits low_limit(PinHost host) {
  PinLimits l;
  l.memlock_soft_bytes = 64 * kKiB;
  l.memlock_hard_bytes = 64 * kKiB;
  l.cap_ipc_lock = false;
  l.host = host;
  return l;
}

std::string refusal(PinHost host, const std::string& unit = "") {
  PinLimits l = low_limit(host);
  l.unit = unit;
  const Status st = check_pin_fits("tinyllama", tinyllama_bill(), l);
  EXPECT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), StatusCode::resource_exhausted);
  return st.message();
}

TEST(Pinning, PinnedBytesAreWeightsAndHostKv) {
  const MemoryBill bill = tinyllama_bill();
  EXPECT_GT(bill.kv_bytes, 0u);
  EXPECT_GT(bill.compute_bytes, 0u);
  EXPECT_EQ(pinned_bytes(bill), bill.weights_bytes + bill.kv_bytes);  // compute and overhead are not pinned
  MemoryBill gpu = bill;
  gpu.device.kv_bytes = bill.kv_bytes / 2;  // half the blocks' KV on a device
  EXPECT_EQ(pinned_bytes(gpu), bill.weights_bytes + bill.kv_bytes - bill.kv_bytes / 2);
}

TEST(Pinning, LowLimitInAShellIsRefusedWithTheNumbersAndUlimit) {
  const MemoryBill bill = tinyllama_bill();
  const std::string msg = refusal(PinHost::shell);
  EXPECT_TRUE(has(msg, "cannot pin tinyllama in RAM")) << msg;
  EXPECT_TRUE(has(msg, fmt::format("it needs {} locked (weights {} + KV cache {})", format_bytes(pinned_bytes(bill)),
                                   format_bytes(bill.weights_bytes), format_bytes(bill.kv_bytes))))
      << msg;
  EXPECT_TRUE(has(msg, "the memlock limit (RLIMIT_MEMLOCK) is 64 KiB (hard limit 64 KiB)")) << msg;
  EXPECT_TRUE(has(msg, "CAP_IPC_LOCK is not effective")) << msg;
  EXPECT_TRUE(has(msg, "Nothing was loaded")) << msg;
  EXPECT_TRUE(has(msg, "Fix (shell): run `ulimit -l ")) << msg;
  EXPECT_TRUE(has(msg, "`ulimit -l unlimited`")) << msg;
  // The hard limit is below the need: an unprivileged ulimit cannot raise it.
  EXPECT_TRUE(has(msg, "the hard limit is 64 KiB, so raise it first as root")) << msg;
  EXPECT_TRUE(has(msg, "/etc/security/limits.conf")) << msg;
  EXPECT_TRUE(has(msg, "setcap cap_ipc_lock=ep")) << msg;
  EXPECT_TRUE(has(msg, "no --mlock; `mlock: false` on the lane")) << msg;
  EXPECT_FALSE(has(msg, "LimitMEMLOCK")) << msg;
  EXPECT_FALSE(has(msg, "--ulimit")) << msg;
}

TEST(Pinning, ShellUlimitIsInWholeMiBOfKiB) {
  PinLimits l = low_limit(PinHost::shell);
  l.memlock_hard_bytes = hw::kUnlimitedBytes;  // a user can raise the soft limit alone
  const PinCheck c = check_pin_limits(3 * kMiB + 1, l);
  ASSERT_FALSE(c.fits);
  EXPECT_TRUE(has(c.fix, "run `ulimit -l 4096` (KiB)")) << c.fix;
  EXPECT_FALSE(has(c.fix, "hard limit is")) << c.fix;
  EXPECT_TRUE(has(c.reason, "(hard limit unlimited)")) << c.reason;
}

TEST(Pinning, SystemdServiceGetsLimitMemlock) {
  const std::string msg = refusal(PinHost::systemd, "laneway.service");
  EXPECT_TRUE(has(msg, "Fix (systemd): add `LimitMEMLOCK=infinity` to the [Service] section of laneway.service "
                       "(`systemctl edit laneway.service`), then `systemctl restart laneway.service`"))
      << msg;
  EXPECT_FALSE(has(msg, "ulimit -l")) << msg;
  const std::string no_unit = refusal(PinHost::systemd);
  EXPECT_TRUE(has(no_unit, "the service's unit (`systemctl edit <unit>`)")) << no_unit;
}

TEST(Pinning, DockerAndPodmanGetUlimitCapAddAndCompose) {
  for (PinHost host : {PinHost::docker, PinHost::podman}) {
    const std::string tool(pin_host_name(host));
    const std::string msg = refusal(host);
    EXPECT_TRUE(has(msg, "Fix (" + tool + "): start the container with `" + tool + " run --ulimit memlock=-1:-1`"))
        << msg;
    EXPECT_TRUE(has(msg, "--cap-add IPC_LOCK")) << msg;
    EXPECT_TRUE(has(msg, "`ulimits: memlock: -1`")) << msg;
    EXPECT_FALSE(has(msg, "LimitMEMLOCK")) << msg;
  }
}

TEST(Pinning, KubernetesNeedsTheCapability) {
  const std::string msg = refusal(PinHost::kubernetes);
  EXPECT_TRUE(has(msg, "Fix (kubernetes): Kubernetes has no memlock setting: add IPC_LOCK to the container's "
                       "`securityContext.capabilities.add`"))
      << msg;
  EXPECT_FALSE(has(msg, "ulimit -l")) << msg;
}

TEST(Pinning, OtherContainersGetBothWays) {
  const std::string msg = refusal(PinHost::container);
  EXPECT_TRUE(has(msg, "--ulimit memlock=-1:-1")) << msg;
  EXPECT_TRUE(has(msg, "ulimits: memlock: -1")) << msg;
  EXPECT_TRUE(has(msg, "--cap-add IPC_LOCK")) << msg;
  EXPECT_TRUE(has(msg, "securityContext.capabilities.add")) << msg;
}

TEST(Pinning, CapIpcLockIgnoresTheLimit) {
  PinLimits l = low_limit(PinHost::docker);
  l.cap_ipc_lock = true;
  EXPECT_TRUE(check_pin_fits("tinyllama", tinyllama_bill(), l).is_ok());
  EXPECT_TRUE(has(check_pin_limits(1ull << 40, l).reason, "CAP_IPC_LOCK is effective"));
}

TEST(Pinning, UnlimitedFits) {
  PinLimits l = low_limit(PinHost::shell);
  l.memlock_soft_bytes = l.memlock_hard_bytes = hw::kUnlimitedBytes;
  EXPECT_TRUE(check_pin_fits("tinyllama", tinyllama_bill(), l).is_ok());
}

TEST(Pinning, UnknownLimitLeavesItToTheKernel) {
  PinLimits l;  // nothing known
  const PinCheck c = check_pin_limits(1ull << 40, l);
  EXPECT_TRUE(c.fits);
  EXPECT_TRUE(has(c.reason, "unknown")) << c.reason;
}

TEST(Pinning, TheLimitMustCoverTheBillAndWhatIsPinnedAlready) {
  const MemoryBill bill = tinyllama_bill();
  const uint64_t pin = pinned_bytes(bill);
  PinLimits l = low_limit(PinHost::shell);
  l.memlock_soft_bytes = pin;
  EXPECT_TRUE(check_pin_fits("m", bill, l).is_ok());
  l.memlock_soft_bytes = pin - 1;
  EXPECT_FALSE(check_pin_fits("m", bill, l).is_ok());
  // Another lane of this process pinned 2 MiB already: the same limit no longer covers this one.
  l.memlock_soft_bytes = pin + kMiB;
  l.memlock_hard_bytes = hw::kUnlimitedBytes;
  l.locked_bytes = 2 * kMiB;
  const Status st = check_pin_fits("m", bill, l);
  ASSERT_FALSE(st.is_ok());
  EXPECT_TRUE(has(st.message(), "2 MiB of it pinned already by this process")) << st.message();
}

TEST(Pinning, HostFromContainerEvidenceAndCgroupPath) {
  auto membership = [](std::string path) {
    hw::CgroupMembership m;
    m.path = std::move(path);
    return std::vector<hw::CgroupMembership>{m};
  };
  hw::ContainerInfo none;
  std::string unit;
  EXPECT_EQ(detect_pin_host(none, membership("/system.slice/laneway.service"), &unit), PinHost::systemd);
  EXPECT_EQ(unit, "laneway.service");
  EXPECT_EQ(detect_pin_host(none, membership("/user.slice/user-1000.slice/session-3.scope")), PinHost::shell);
  // A terminal under the user's systemd instance is still a shell.
  EXPECT_EQ(detect_pin_host(none, membership("/user.slice/user-1000.slice/user@1000.service/app.slice/vte-spawn.scope")),
            PinHost::shell);
  EXPECT_EQ(detect_pin_host(none, membership("/")), PinHost::shell);

  hw::ContainerInfo docker{true, "docker", {"/.dockerenv exists"}};
  EXPECT_EQ(detect_pin_host(docker, membership("/system.slice/docker-3f2a.scope")), PinHost::docker);
  hw::ContainerInfo podman{true, "podman", {"/run/.containerenv exists"}};
  EXPECT_EQ(detect_pin_host(podman, {}), PinHost::podman);
  hw::ContainerInfo pod{true, "containerd", {"cgroup path /kubepods/burstable/pod1/abc"}};
  EXPECT_EQ(detect_pin_host(pod, {}), PinHost::kubernetes);
  hw::ContainerInfo lxc{true, "lxc", {"PID 1 has container=lxc"}};
  EXPECT_EQ(detect_pin_host(lxc, {}), PinHost::container);
}

TEST(Pinning, LanesWithMlockArePinnedTogether) {
  LanesConfig config;
  config.source = "lanes.yaml";
  LaneConfig a;
  a.name = "coder";
  a.mlock = true;
  a.context_tokens = 2048;
  LaneConfig b = a;
  b.name = "reader";
  b.slots = 2;
  LaneConfig c = a;
  c.name = "unpinned";
  c.mlock = false;
  LaneConfig d = a;
  d.name = "missing";
  config.lanes = {a, b, c, d};
  auto shape = find_model_shape("tinyllama-1.1b");
  ASSERT_TRUE(shape.has_value());
  auto model = plan_model_from_shape(*shape, "Q4_0");
  ASSERT_TRUE(model.is_ok());
  std::map<std::string, LaneModel> models;
  for (const char* name : {"coder", "reader", "unpinned"}) models[name] = LaneModel{*model, "shape"};
  std::map<std::string, std::string> errors{{"missing", "lane missing: model x.gguf not found"}};

  PinLimits l = low_limit(PinHost::docker);
  const LanesPinCheck pin = check_lanes_pinning(config, models, errors, 4, l);
  ASSERT_EQ(pin.lanes.size(), 2u);
  EXPECT_EQ(pin.lanes[0].lane, "coder");
  EXPECT_EQ(pin.lanes[1].lane, "reader");
  // reader: two slots of 2048 tokens, twice coder's KV.
  const MemoryBill one = tinyllama_bill();
  EXPECT_EQ(pin.lanes[0].pin_bytes, pinned_bytes(one));
  EXPECT_EQ(pin.lanes[1].pin_bytes, one.weights_bytes + 2 * one.kv_bytes);
  EXPECT_EQ(pin.total_bytes, pin.lanes[0].pin_bytes + pin.lanes[1].pin_bytes);
  ASSERT_EQ(pin.unplanned.size(), 1u);
  EXPECT_TRUE(has(pin.unplanned[0], "x.gguf not found"));
  EXPECT_FALSE(pin.check.fits);
  EXPECT_TRUE(has(pin.check.fix, "--ulimit memlock=-1:-1")) << pin.check.fix;

  // A limit that holds one lane but not both.
  l.memlock_soft_bytes = pin.total_bytes - 1;
  EXPECT_FALSE(check_lanes_pinning(config, models, errors, 4, l).check.fits);
  l.memlock_soft_bytes = pin.total_bytes;
  EXPECT_TRUE(check_lanes_pinning(config, models, errors, 4, l).check.fits);
}

// Admission with --mlock reads the limits through the probe root: a
// machine with a 64 KiB limit and no CAP_IPC_LOCK refuses stories260K.
TEST(Pinning, AdmissionRefusesOnAFixtureWith64KiB) {
  const std::string model = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(model);
  auto m = hw::fixtures::make_memlock_64k(test::scratch_dir("pinning_admission") / "root");
  hw::ProbeOptions probe;
  probe.root = m.root;
  PlanSettings s;
  s.n_ctx = 256;
  EXPECT_TRUE(check_model_fits_memory(model, s, probe).is_ok());  // fits in memory; no pinning asked
  s.mlock = true;
  const Status st = check_model_fits_memory(model, s, probe);
  ASSERT_FALSE(st.is_ok());
  EXPECT_EQ(st.code(), StatusCode::resource_exhausted);
  EXPECT_TRUE(has(st.message(), "memlock limit (RLIMIT_MEMLOCK) is 64 KiB")) << st.message();
  EXPECT_TRUE(has(st.message(), "Fix (shell)")) << st.message();  // a host, not a container
}

}  // namespace
}  // namespace laneway
