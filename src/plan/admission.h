// Admission before loading: `laneway run` (and every command that loads an
// engine) and each embedded lane of `laneway serve` plan the model first and
// refuse to load what would not fit, instead of being killed by the kernel's
// OOM killer half-way through.
#pragma once

#include <string>

#include "core/status.h"
#include "hw/probe.h"
#include "plan/memory_plan.h"

namespace laneway {

// Plans model_path (GGUF metadata only, no tensor data) at `settings` and
// compares the bill with the usable memory the probe reports (cpu pool:
// MemAvailable capped by the cgroup limit minus the group's usage).
// resource_exhausted with check_memory_fits' message when it does not fit.
// With settings.mlock the weights and KV must also fit the memlock limit
// (check_pin_fits in plan/pinning.h: the limit, VmLck already pinned by this
// process, CAP_IPC_LOCK, and the fix for where the process runs).
// A file the planner cannot read passes: the loader then reports what is wrong.
Status check_model_fits_memory(const std::string& model_path, const PlanSettings& settings,
                               const hw::ProbeOptions& probe);
// The memlock part alone (ok without settings.mlock): for a lane of `serve`
// at the moment it loads, when the memory check was the pool's to make but
// what other lanes have pinned since counts against the limit.
Status check_model_pin_fits(const std::string& model_path, const PlanSettings& settings, const hw::ProbeOptions& probe);

}  // namespace laneway
