// Pinning (--mlock, a lane's `mlock: true`): the weights and the KV cache
// are locked in RAM (mlock), so the kernel never pages them out. A process
// without CAP_IPC_LOCK may lock at most RLIMIT_MEMLOCK bytes, and the
// default limit (8 MiB on most distributions, 64 KiB in older containers) is
// far below any model. This check runs before anything is loaded, so a
// refusal names the numbers and the fix for where the process runs instead of
// failing half-way through a load.
//
// Pure: a bill and the limits in, a verdict out (tests inject the limits;
// pin_limits_from reads them from the hardware probe).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "hw/probe.h"
#include "plan/lane_map.h"
#include "plan/memory_plan.h"

namespace laneway {

// Where the process runs, which decides how its memlock limit is raised.
enum class PinHost {
  shell,       // started from a shell (or anything not recognised below): ulimit -l
  systemd,     // a systemd service: LimitMEMLOCK= in its unit
  docker,      // docker run / docker compose: --ulimit memlock, ulimits: memlock
  podman,      // podman run / podman compose: the same flags
  kubernetes,  // a pod: no memlock setting, only the IPC_LOCK capability
  container,   // another container runtime (lxc, containerd, nspawn): the generic advice
};
std::string_view pin_host_name(PinHost host);  // "shell", "systemd", "docker", ...

// What limits pinning, as this process sees it.
struct PinLimits {
  // RLIMIT_MEMLOCK in bytes; hw::kUnlimitedBytes for unlimited; nullopt = unknown.
  std::optional<uint64_t> memlock_soft_bytes;
  std::optional<uint64_t> memlock_hard_bytes;
  std::optional<bool> cap_ipc_lock;  // effective: the limit does not apply; nullopt = unknown (taken as no)
  uint64_t locked_bytes = 0;         // pinned already by this process (VmLck: lanes loaded before)
  PinHost host = PinHost::shell;
  std::string unit;  // systemd: the service's unit name ("laneway.service"); "" when unknown
};

// The host from the probe's container evidence and this process's cgroup
// path (a systemd service runs in a group named after its unit, "*.service").
PinHost detect_pin_host(const hw::ContainerInfo& container, const std::vector<hw::CgroupMembership>& memberships,
                        std::string* unit = nullptr);
// Limits, VmLck, capability and host from a probe of this process.
PinLimits pin_limits_from(const hw::HardwareInventory& inv);

// Bytes pinning locks for a bill: the weights (the whole mapped file, as
// the bill counts them) and the host's KV rows (KV of GPU layers lives on
// the device). Compute buffers and the process's own memory are not pinned.
uint64_t pinned_bytes(const MemoryBill& bill);

struct PinCheck {
  bool fits = true;
  std::string reason;  // why it fits ("CAP_IPC_LOCK is effective") or why not (the numbers)
  std::string fix;     // what to change where the process runs; "" when it fits
};

// Whether pin_bytes more can be locked: CAP_IPC_LOCK or an unlimited limit
// always fit; a known limit must cover pin_bytes + limits.locked_bytes. An
// unknown limit fits (the kernel decides at load, and its error names the limit).
PinCheck check_pin_limits(uint64_t pin_bytes, const PinLimits& limits);

// The admission check for one model with settings.mlock: ok when pinning
// `bill` fits the limits; otherwise resource_exhausted: "cannot pin <what>
// in RAM: it needs N (weights W + KV cache K) locked but the memlock limit
// is L ... Fix (<host>): ..." (what: the model's or the lane's name).
Status check_pin_fits(std::string_view what, const MemoryBill& bill, const PinLimits& limits);

// `laneway doctor --config`: the embedded lanes with `mlock: true`, each at
// its settings as loaded (lane_plan_settings), pinned together in one process.
struct LanePin {
  std::string lane;
  uint64_t pin_bytes = 0;  // pinned_bytes of its bill
};
struct LanesPinCheck {
  std::vector<LanePin> lanes;           // in config order
  std::vector<std::string> unplanned;  // "lane x: model ... not found" (not counted)
  uint64_t total_bytes = 0;             // sum over `lanes`
  PinCheck check;                       // total_bytes against the limits
};
// models: the lanes' models by lane name (plan_model_for_lane); a lane with
// mlock missing from it is listed as unplanned with errors[lane] when given.
LanesPinCheck check_lanes_pinning(const LanesConfig& config, const std::map<std::string, LaneModel>& models,
                                  const std::map<std::string, std::string>& errors, int threads,
                                  const PinLimits& limits);

}  // namespace laneway
