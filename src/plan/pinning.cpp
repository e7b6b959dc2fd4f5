#include "plan/pinning.h"

#include <algorithm>

#include <fmt/format.h>

namespace laneway {
namespace {

using hw::format_bytes;

bool unlimited(const std::optional<uint64_t>& v) { return v && *v == hw::kUnlimitedBytes; }

std::string limit_text(const std::optional<uint64_t>& v) {
  if (!v) return "unknown";
  return unlimited(v) ? "unlimited" : format_bytes(*v);
}

// `ulimit -l` counts KiB; ask for whole MiB so the number reads easily.
uint64_t ulimit_kib(uint64_t bytes) {
  constexpr uint64_t kMiB = 1ull << 20;
  return (bytes + kMiB - 1) / kMiB * kMiB / 1024;
}

std::string last_path_component(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// How to raise the limit (or grant CAP_IPC_LOCK) where the process runs.
std::string fix_for(const PinLimits& l, uint64_t needed_bytes) {
  const std::string compose = "in a compose file: `ulimits: memlock: -1` under the service (or `cap_add: [IPC_LOCK]`)";
  std::string fix;
  switch (l.host) {
    case PinHost::shell: {
      fix = fmt::format("run `ulimit -l {}` (KiB) or `ulimit -l unlimited` in the shell that starts laneway",
                        ulimit_kib(needed_bytes));
      if (l.memlock_hard_bytes && !unlimited(l.memlock_hard_bytes) && *l.memlock_hard_bytes < needed_bytes) {
        fix += fmt::format("; the hard limit is {}, so raise it first as root (or for your user in "
                           "/etc/security/limits.conf: `<user> hard memlock unlimited`, then log in again)",
                           format_bytes(*l.memlock_hard_bytes));
      }
      fix += "; or grant the capability: `sudo setcap cap_ipc_lock=ep $(command -v laneway)`";
      break;
    }
    case PinHost::systemd: {
      const std::string unit = l.unit.empty() ? "<unit>" : l.unit;
      fix = fmt::format("add `LimitMEMLOCK=infinity` to the [Service] section of {} (`systemctl edit {}`), then "
                        "`systemctl restart {}` (or grant `AmbientCapabilities=CAP_IPC_LOCK`)",
                        l.unit.empty() ? "the service's unit" : unit, unit, unit);
      break;
    }
    case PinHost::docker:
    case PinHost::podman: {
      const std::string_view tool = l.host == PinHost::docker ? "docker" : "podman";
      fix = fmt::format("start the container with `{} run --ulimit memlock=-1:-1` (or `--cap-add IPC_LOCK`); {}", tool,
                        compose);
      break;
    }
    case PinHost::kubernetes:
      fix = "Kubernetes has no memlock setting: add IPC_LOCK to the container's "
            "`securityContext.capabilities.add` (the limit then does not apply)";
      break;
    case PinHost::container:
      fix = "give the container a memlock limit that covers it (docker/podman: `--ulimit memlock=-1:-1`; " + compose +
            ") or the IPC_LOCK capability (`--cap-add IPC_LOCK`; Kubernetes: `securityContext.capabilities.add: "
            "[IPC_LOCK]`)";
      break;
  }
  return fix + "; or do not pin (no --mlock; `mlock: false` on the lane)";
}

}  // namespace

std::string_view pin_host_name(PinHost host) {
  switch (host) {
    case PinHost::shell: return "shell";
    case PinHost::systemd: return "systemd";
    case PinHost::docker: return "docker";
    case PinHost::podman: return "podman";
    case PinHost::kubernetes: return "kubernetes";
    case PinHost::container: return "container";
  }
  return "shell";
}

PinHost detect_pin_host(const hw::ContainerInfo& container, const std::vector<hw::CgroupMembership>& memberships,
                        std::string* unit) {
  if (container.in_container) {
    // A pod's fix is Kubernetes' whatever runtime runs it.
    const bool pod = container.runtime == "kubernetes" ||
                     std::any_of(container.evidence.begin(), container.evidence.end(),
                                 [](const std::string& e) { return e.find("kubepods") != std::string::npos; });
    if (pod) return PinHost::kubernetes;
    if (container.runtime == "docker") return PinHost::docker;
    if (container.runtime == "podman") return PinHost::podman;
    return PinHost::container;
  }
  for (const hw::CgroupMembership& m : memberships) {
    const std::string leaf = last_path_component(m.path);
    if (leaf.size() > 8 && leaf.ends_with(".service")) {
      if (unit != nullptr) *unit = leaf;
      return PinHost::systemd;
    }
  }
  return PinHost::shell;
}

PinLimits pin_limits_from(const hw::HardwareInventory& inv) {
  PinLimits l;
  l.memlock_soft_bytes = inv.limits.memlock_soft_bytes;
  l.memlock_hard_bytes = inv.limits.memlock_hard_bytes;
  l.cap_ipc_lock = inv.limits.cap_ipc_lock();
  l.locked_bytes = inv.limits.locked_bytes.value_or(0);
  l.host = detect_pin_host(inv.container, inv.cgroups.memberships, &l.unit);
  return l;
}

uint64_t pinned_bytes(const MemoryBill& bill) {
  return bill.weights_bytes + (bill.kv_bytes - std::min(bill.kv_bytes, bill.device.kv_bytes));
}

PinCheck check_pin_limits(uint64_t pin_bytes, const PinLimits& l) {
  PinCheck c;
  if (l.cap_ipc_lock.value_or(false)) {
    c.reason = "CAP_IPC_LOCK is effective: the memlock limit does not apply";
    return c;
  }
  if (!l.memlock_soft_bytes) {
    c.reason = "the memlock limit is unknown (/proc/self/limits unreadable): the kernel decides at load";
    return c;
  }
  if (unlimited(l.memlock_soft_bytes)) {
    c.reason = "the memlock limit is unlimited";
    return c;
  }
  const uint64_t soft = *l.memlock_soft_bytes;
  const uint64_t needed = pin_bytes + l.locked_bytes;
  const std::string pinned_before =
      l.locked_bytes > 0 ? fmt::format(", {} of it pinned already by this process", format_bytes(l.locked_bytes)) : "";
  if (needed <= soft) {
    c.reason = fmt::format("the memlock limit {}{} covers it", format_bytes(soft), pinned_before);
    return c;
  }
  c.fits = false;
  c.reason = fmt::format("the memlock limit (RLIMIT_MEMLOCK) is {} (hard limit {}){} and CAP_IPC_LOCK is not {}",
                         format_bytes(soft), limit_text(l.memlock_hard_bytes), pinned_before,
                         l.cap_ipc_lock.has_value() ? "effective" : "known to be effective");
  c.fix = fix_for(l, needed);
  return c;
}

Status check_pin_fits(std::string_view what, const MemoryBill& bill, const PinLimits& limits) {
  const uint64_t pin = pinned_bytes(bill);
  const PinCheck c = check_pin_limits(pin, limits);
  if (c.fits) return Status::ok();
  return resource_exhausted_error(
      "cannot pin {} in RAM: it needs {} locked (weights {} + KV cache {}) but {}. Nothing was loaded. Fix ({}): {}",
      what.empty() ? "the model" : what, format_bytes(pin), format_bytes(bill.weights_bytes),
      format_bytes(pin - bill.weights_bytes), c.reason, pin_host_name(limits.host), c.fix);
}

LanesPinCheck check_lanes_pinning(const LanesConfig& config, const std::map<std::string, LaneModel>& models,
                                  const std::map<std::string, std::string>& errors, int threads,
                                  const PinLimits& limits) {
  LanesPinCheck out;
  for (const LaneConfig& lane : config.lanes) {
    if (!lane.embedded() || !lane.mlock) continue;
    auto model = models.find(lane.name);
    if (model == models.end()) {
      auto why = errors.find(lane.name);
      out.unplanned.push_back(why != errors.end() ? why->second : fmt::format("lane {}: no model planned", lane.name));
      continue;
    }
    auto settings = lane_plan_settings(lane, model->second.model.hp, threads);
    Result<MemoryBill> bill = settings.is_ok() ? plan_memory(model->second.model, *settings)
                                               : Result<MemoryBill>(settings.status());
    if (!bill.is_ok()) {
      out.unplanned.push_back(fmt::format("lane {}: {}", lane.name, bill.status().message()));
      continue;
    }
    out.lanes.push_back({lane.name, pinned_bytes(*bill)});
    out.total_bytes += out.lanes.back().pin_bytes;
  }
  out.check = check_pin_limits(out.total_bytes, limits);
  return out;
}

}  // namespace laneway
