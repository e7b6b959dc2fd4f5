// laneway doctor [--json] [--config lanes.yaml]: what this machine offers for
// running models, one verdict (ok / warn / bad) and one fix per finding.
// With --config, also whether the lanes with `mlock: true` can all be pinned
// (the sum of their weights + KV against the memlock limit: finding
// "memlock_lanes"). Exits 0 whatever the verdicts (it reports, it does not
// judge); 1 for usage errors, 2 when a recorded Vulkan file or the config is
// unreadable.
//
// Hidden test options: --root DIR probes a fixture tree instead of "/", and
// --vulkan-devices FILE replays recorded Vulkan descriptions (the "vulkan"
// object of `laneway doctor --json`). With --root and no recording, Vulkan is
// not probed, so a fixture never mixes with this machine's GPUs.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/colour.h"
#include "cli/commands.h"
#include "hw/bandwidth.h"
#include "hw/doctor.h"
#include "hw/inventory_json.h"
#include "hw/probe.h"
#ifndef LANEWAY_NO_CMD_PLAN
#include "config/lane_config.h"
#include "plan/pinning.h"
#endif

namespace laneway::cli {
namespace {

struct DoctorFlags {
  bool json = false;
  std::string config_path;
  std::string root;
  std::string vulkan_devices;
  bool no_vulkan = false;
  bool measure_bandwidth = false;
};

void print_text(const hw::HardwareInventory& inv, const std::vector<hw::Finding>& findings) {
  std::string out = fmt::format("laneway doctor: {}\n\n", inv.root == "/" ? "this machine" : "root " + inv.root);
  const bool colour = colour_enabled(stdout);
  for (const hw::Finding& f : findings) {
    const std::string tag = fmt::format("[{}]", hw::verdict_name(f.verdict));
    // Padded before painting, so the columns line up with and without colour.
    const Colour c = f.verdict == hw::Verdict::ok ? Colour::green : f.verdict == hw::Verdict::warn ? Colour::yellow
                                                                                                  : Colour::red;
    out += fmt::format("{}{:<14}{}\n", paint(fmt::format("{:<7}", tag), c, colour), f.topic, f.summary);
    if (f.verdict != hw::Verdict::ok) out += fmt::format("{:<21}fix: {}\n", "", f.fix);
  }
  out += "\nusable memory for weights + KV cache:\n";
  for (const hw::MemoryPool& p : inv.pools) {
    out += fmt::format("  {:<6}{:<44} total {:>10}  usable {:>10}  {}{}\n", p.id, p.label,
                       hw::format_bytes(p.total_bytes), hw::format_bytes(p.usable_bytes), hw::memory_pool_kind_name(p.kind),
                       p.shares_system_ram ? ", shares system RAM with cpu" : "");
    out += fmt::format("        {}\n", p.usable_reason);
    if (p.bandwidth_bytes_per_s) {
      out += fmt::format("        read bandwidth {:.1f} GB/s ({})\n", *p.bandwidth_bytes_per_s / 1e9, p.bandwidth_source);
    }
  }
  if (inv.vulkan_probed && !inv.vulkan.devices.empty()) {
    // What --device names: an index or a part of the name (software devices only when named).
    out += "\nVulkan devices (--device INDEX or NAME):\n";
    for (const hw::VulkanDeviceInfo& d : inv.vulkan.devices) {
      out += fmt::format("  {}  {} ({}, {} {}){}\n", d.index, d.name, hw::vulkan_device_type_name(d.type), d.driver_name,
                         d.driver_info, d.type == hw::VulkanDeviceType::cpu ? ": software, used only when named" : "");
      for (size_t h = 0; h < d.heaps.size(); ++h) {
        const hw::VulkanHeap& heap = d.heaps[h];
        out += fmt::format("     heap {} {:<13} {:>10}", h, heap.device_local ? "device-local" : "host", hw::format_bytes(heap.size_bytes));
        if (heap.budget_bytes) out += fmt::format("  budget {:>10}", hw::format_bytes(*heap.budget_bytes));
        if (heap.usage_bytes) out += fmt::format("  used {:>10}", hw::format_bytes(*heap.usage_bytes));
        out += "\n";
      }
    }
  }
  const hw::VerdictCounts c = hw::count_verdicts(findings);
  out += fmt::format("\n{} ok, {} warn, {} bad\n", c.ok, c.warn, c.bad);
  std::fputs(out.c_str(), stdout);
}

#ifndef LANEWAY_NO_CMD_PLAN
// "memlock_lanes": the config's lanes with `mlock: true`, pinned together in
// one `laneway serve`, against this process's memlock limit and capability.
Result<hw::Finding> lanes_pinning_finding(const std::string& config_path, const hw::HardwareInventory& inv) {
  LANEWAY_ASSIGN_OR_RETURN(LanesConfig config, load_lanes_config(config_path));
  std::map<std::string, LaneModel> models;
  std::map<std::string, std::string> errors;
  for (const LaneConfig& lane : config.lanes) {
    if (!lane.embedded() || !lane.mlock) continue;
    auto model = plan_model_for_lane(lane);
    if (model.is_ok()) models.emplace(lane.name, std::move(model).value());
    else errors.emplace(lane.name, model.status().message());
  }
  const PinLimits limits = pin_limits_from(inv);
  const LanesPinCheck pin = check_lanes_pinning(config, models, errors, inv.effective_cores(), limits);
  hw::Finding f;
  f.topic = "memlock_lanes";
  f.fix = "nothing to do";
  if (pin.lanes.empty() && pin.unplanned.empty()) {
    f.summary = fmt::format("no lane of {} has mlock: true", config.source);
    return f;
  }
  std::vector<std::string> parts;
  for (const LanePin& l : pin.lanes) parts.push_back(fmt::format("{} {}", l.lane, hw::format_bytes(l.pin_bytes)));
  const std::string needs = fmt::format("pinning the mlock lanes of {} needs {} ({})", config.source,
                                        hw::format_bytes(pin.total_bytes), fmt::join(parts, " + "));
  f.summary = fmt::format("{}: {}", needs, pin.check.reason);
  if (!pin.check.fits) {
    f.verdict = hw::Verdict::bad;
    f.summary = fmt::format("{} but {}: `laneway serve` would refuse to load the lanes past the limit", needs,
                            pin.check.reason);
    f.fix = fmt::format("({}) {}", pin_host_name(limits.host), pin.check.fix);
  } else if (!pin.unplanned.empty()) {
    f.verdict = hw::Verdict::warn;
  }
  if (!pin.unplanned.empty()) {
    f.summary += fmt::format("; not counted: {}", fmt::join(pin.unplanned, "; "));
    if (f.verdict == hw::Verdict::warn) f.fix = "give those lanes a model file that exists, or a `shape` to plan with";
  }
  return f;
}
#endif

int run_doctor(const DoctorFlags& flags) {
  hw::ProbeOptions options;
  if (!flags.root.empty()) options.root = flags.root;
  if (flags.root.empty()) options.hwcaps = hw::live_hwcaps();
  std::unique_ptr<hw::VulkanEnumerator> vulkan;
  if (!flags.vulkan_devices.empty()) {
    std::FILE* f = std::fopen(flags.vulkan_devices.c_str(), "rb");
    if (!f) {
      std::fprintf(stderr, "laneway doctor: cannot read --vulkan-devices %s\n", flags.vulkan_devices.c_str());
      return kExitBadInput;
    }
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
    auto recorded = hw::vulkan_report_from_json(text);
    if (!recorded.is_ok()) {
      std::fprintf(stderr, "laneway doctor: %s: %s\n", flags.vulkan_devices.c_str(),
                   recorded.status().to_string().c_str());
      return kExitBadInput;
    }
    vulkan = std::make_unique<hw::RecordedVulkanEnumerator>(std::move(recorded).value());
  } else if (!flags.no_vulkan && flags.root.empty()) {
    vulkan = hw::make_system_vulkan_enumerator();
  }
  options.vulkan = vulkan.get();

  auto probed = hw::probe_hardware(options);
  if (!probed.is_ok()) {
    std::fprintf(stderr, "laneway doctor: %s\n", probed.status().to_string().c_str());
    return kExitUsage;
  }
  hw::HardwareInventory& inv = probed.value();
  if (flags.measure_bandwidth && !inv.pools.empty()) {
    const hw::BandwidthMeasurement m = hw::measure_read_bandwidth();
    inv.pools.front().bandwidth_bytes_per_s = m.bytes_per_s;
    inv.pools.front().bandwidth_source =
        (m.steady() ? "measured: " : "measured on a busy machine (the passes spread too far; do not trust it): ") +
        m.describe();
  }
  std::vector<hw::Finding> findings = hw::diagnose(inv);
  if (!flags.config_path.empty()) {
#ifndef LANEWAY_NO_CMD_PLAN
    auto lanes = lanes_pinning_finding(flags.config_path, inv);
    if (!lanes.is_ok()) {
      std::fprintf(stderr, "laneway doctor: %s\n", lanes.status().to_string().c_str());
      return kExitBadInput;
    }
    findings.push_back(std::move(lanes).value());
#else
    std::fprintf(stderr, "laneway doctor: --config needs the planner, left out of this build\n");
    return kExitUsage;
#endif
  }
  if (flags.json) {
    nlohmann::json j = hw::inventory_to_json(inv);
    j["findings"] = hw::findings_to_json(findings);
    const hw::VerdictCounts c = hw::count_verdicts(findings);
    j["summary"] = {{"ok", c.ok}, {"warn", c.warn}, {"bad", c.bad}};
    std::fputs(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str(), stdout);
    std::fputc('\n', stdout);
  } else {
    print_text(inv, findings);
  }
  return kExitOk;
}

}  // namespace

void register_doctor(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "doctor", "Check this machine for running models: CPU, memory and cgroup limits, GPUs and Vulkan, memlock");
  auto flags = std::make_shared<DoctorFlags>();
  cmd->add_flag("--json", flags->json, "Print JSON for tools instead of text");
  cmd->add_flag("--measure-bandwidth", flags->measure_bandwidth,
                "Also measure system RAM read bandwidth (a short read test, under a second)");
  cmd->add_flag("--no-vulkan", flags->no_vulkan, "Do not load the Vulkan loader");
  cmd->add_option("--config", flags->config_path,
                  "A lanes.yaml: also check that its lanes with mlock: true can be pinned together (memlock limit)");
  // Test-only: fixture trees and recorded Vulkan devices (hidden from --help).
  cmd->add_option("--root", flags->root, "Probe this directory as the machine's root")->group("")->check(
      CLI::ExistingDirectory);
  cmd->add_option("--vulkan-devices", flags->vulkan_devices, "Replay recorded Vulkan devices from this JSON file")
      ->group("");
  cmd->callback([flags, &exit_code] { exit_code = run_doctor(*flags); });
}

}  // namespace laneway::cli
