#include "hw/doctor.h"

#include <algorithm>

#include <fmt/format.h>

namespace laneway::hw {
namespace {

constexpr const char* kNothing = "nothing to do";

void add(std::vector<Finding>& out, std::string topic, Verdict v, std::string summary, std::string fix = kNothing) {
  out.push_back({std::move(topic), v, std::move(summary), std::move(fix)});
}

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

// Why the probe thinks this machine has a GPU it cannot use, or "" when
// nothing hints at one: a DRM card in sysfs (a container sees the host's),
// /dev/kfd, or a CPU model with integrated graphics (APUs).
std::string gpu_signs(const HardwareInventory& inv) {
  if (!inv.drm_cards.empty()) {
    const DrmCard& c = inv.drm_cards.front();
    return fmt::format("the kernel lists a GPU ({}{})", c.name, c.driver.empty() ? "" : ", driver " + c.driver);
  }
  if (inv.gpu_nodes.kfd) return "/dev/kfd is present";
  for (const char* apu : {"Radeon", "Graphics", "Ryzen AI", "Iris", "Core(TM) Ultra"}) {
    if (inv.cpu.model_name.find(apu) != std::string::npos) {
      return fmt::format("the CPU ({}) has an integrated GPU", inv.cpu.model_name);
    }
  }
  return "";
}

// What to do when Vulkan shows no real GPU: with render nodes present the
// kernel sees a GPU and the Vulkan driver (ICD) is what is missing; with no
// sign of a GPU at all there is nothing to fix.
std::string no_gpu_fix(const HardwareInventory& inv) {
  if (inv.gpu_nodes.render_nodes.empty() && gpu_signs(inv).empty()) {
    return "nothing to fix if this machine has no GPU: Laneway runs on the CPU";
  }
  if (!inv.gpu_nodes.render_nodes.empty()) {
    return "a GPU render node is here but no Vulkan driver claims it: install mesa-vulkan-drivers (AMD/Intel) or "
           "the NVIDIA driver's Vulkan ICD; until then Laneway runs on the CPU";
  }
  if (inv.container.in_container) {
    return "pass the GPU into the container (--device /dev/dri --group-add render); until then Laneway runs on the CPU";
  }
  return "install the GPU's kernel and Vulkan drivers if this machine has a GPU; until then Laneway runs on the CPU";
}

bool has_real_gpu(const HardwareInventory& inv) {
  return std::any_of(inv.vulkan.devices.begin(), inv.vulkan.devices.end(),
                     [](const VulkanDeviceInfo& d) { return !is_software_device(d); });
}

void cpu_findings(const HardwareInventory& inv, std::vector<Finding>& out) {
  const CpuInfo& c = inv.cpu;
  if (c.logical_cores == 0) {
    add(out, "cpu", Verdict::warn, "cannot read /proc/cpuinfo: CPU model and features unknown",
        "check that /proc is mounted");
    return;
  }
  const auto features = c.feature_names();
  std::string summary = fmt::format("{}: {} cores / {} threads ({}), {}", c.model_name.empty() ? "unknown CPU" : c.model_name,
                                    c.physical_cores, c.logical_cores, c.arch,
                                    features.empty() ? "no SIMD features listed" : join(features, " "));
  if (c.arch == "x86_64" && !c.features.avx2) {
    add(out, "cpu", Verdict::warn, summary + "; no AVX2",
        "the CPU backend falls back to its scalar path: expect slow decoding; use a GPU or a CPU with AVX2");
  } else if (c.arch == "aarch64" && !c.features.dotprod) {
    add(out, "cpu", Verdict::warn, summary + "; no DOTPROD",
        "quantized matmuls take the plain NEON path without the ARMv8.2 dot-product instructions: expect slower "
        "decoding; use a GPU or an ARMv8.2+ CPU (Apple M1 and later, Neoverse, Cortex-A76 and later)");
  } else {
    add(out, "cpu", Verdict::ok, summary);
  }
  if (inv.cgroups.cpu_quota_cores && *inv.cgroups.cpu_quota_cores < double(c.logical_cores)) {
    add(out, "cpu_quota", Verdict::warn,
        fmt::format("CPU quota {:.1f} of {} cores ({}): Laneway will run {} threads", *inv.cgroups.cpu_quota_cores,
                    c.logical_cores, inv.cgroups.cpu_quota_file, inv.effective_cores()),
        fmt::format("to use every core, raise the quota (docker/podman run --cpus {})", c.logical_cores));
  }
}

void memory_findings(const HardwareInventory& inv, std::vector<Finding>& out) {
  const MemInfo& m = inv.memory;
  if (!m.known) {
    add(out, "memory", Verdict::warn, "cannot read /proc/meminfo: RAM unknown", "check that /proc is mounted");
  } else if (m.available_bytes < 2 * kGiB) {
    add(out, "memory", Verdict::warn,
        fmt::format("RAM {} total, only {} available", format_bytes(m.total_bytes), format_bytes(m.available_bytes)),
        "stop other programs or lanes before loading a model");
  } else {
    add(out, "memory", Verdict::ok,
        fmt::format("RAM {} total, {} available", format_bytes(m.total_bytes), format_bytes(m.available_bytes)));
  }
  const CgroupLimits& cg = inv.cgroups;
  if (cg.memory_limit_bytes) {
    const uint64_t limit = *cg.memory_limit_bytes;
    const std::string summary =
        fmt::format("cgroup memory limit {} ({}), {} in use; Laneway plans against it", format_bytes(limit),
                    cg.memory_limit_file, format_bytes(cg.memory_usage_bytes.value_or(0)));
    if (m.known && double(limit) < 0.9 * double(m.total_bytes)) {
      add(out, "cgroup_memory", Verdict::warn,
          fmt::format("{} of {} RAM: {}", format_bytes(limit), format_bytes(m.total_bytes), summary),
          "to give models more memory, raise the limit (docker/podman run --memory <size>, or MemoryMax= in the "
          "systemd unit)");
    } else {
      add(out, "cgroup_memory", Verdict::ok, summary);
    }
  } else if (cg.v1 || cg.v2) {
    add(out, "cgroup_memory", Verdict::ok,
        fmt::format("no cgroup memory limit (cgroup {})", cg.v1 && cg.v2 ? "v1 + v2" : cg.v2 ? "v2" : "v1"));
  }
}

void container_findings(const HardwareInventory& inv, std::vector<Finding>& out) {
  const ContainerInfo& c = inv.container;
  if (c.in_container) {
    add(out, "container", Verdict::ok,
        fmt::format("running in a container ({}; {})", c.runtime.empty() ? "runtime unknown" : c.runtime,
                    join(c.evidence, ", ")));
  } else {
    add(out, "container", Verdict::ok, "not in a container");
  }
}

std::string group_fix(const HardwareInventory& inv, const DeviceNode& n) {
  const std::string name = n.group_name.empty() ? std::to_string(n.gid) : n.group_name;
  if (inv.container.in_container) {
    // Inside a container /etc/group may not know the host's group name; the
    // numeric gid always works.
    return fmt::format("run the container with --group-add {} (the gid of {} on the host)", n.gid, n.path);
  }
  return fmt::format("sudo usermod -aG {} $USER, then log in again", name);
}

void gpu_node_findings(const HardwareInventory& inv, std::vector<Finding>& out) {
  const GpuNodes& g = inv.gpu_nodes;
  const bool real_gpu = has_real_gpu(inv);
  if (g.render_nodes.empty()) {
    const std::string what = g.dri_dir ? "/dev/dri has no render nodes" : "no /dev/dri";
    const std::string signs = gpu_signs(inv);
    if (real_gpu) {
      // NVIDIA's Vulkan driver works through /dev/nvidia*, not render nodes.
      add(out, "gpu_nodes", Verdict::ok, fmt::format("{}; the Vulkan GPU works without it", what));
    } else if (signs.empty()) {
      // Nothing hints at a GPU: say so, without advice for a GPU that is not there.
      add(out, "gpu_nodes", Verdict::ok, fmt::format("no GPU found ({}): Laneway runs on the CPU", what),
          "nothing to do");
    } else if (inv.container.in_container) {
      add(out, "gpu_nodes", Verdict::bad,
          fmt::format("{} in this container, but {}: the GPU is invisible here", what, signs),
          "run with --device /dev/dri --group-add render");
    } else {
      add(out, "gpu_nodes", Verdict::warn, fmt::format("{}, but {}: no GPU kernel driver is active; CPU only", what, signs),
          "install or load the GPU's kernel driver (amdgpu, i915/xe, nvidia-drm)");
    }
  }
  for (const DeviceNode& n : g.render_nodes) {
    if (n.accessible) {
      add(out, "gpu_nodes", Verdict::ok, fmt::format("{} can be opened ({})", n.path, n.access_reason));
    } else {
      add(out, "gpu_nodes", Verdict::bad, fmt::format("cannot open {}: {}", n.path, n.access_reason),
          group_fix(inv, n));
    }
  }
  const bool amdgpu = std::any_of(inv.drm_cards.begin(), inv.drm_cards.end(),
                                  [](const DrmCard& c) { return c.driver == "amdgpu"; });
  if (g.kfd) {
    add(out, "kfd", Verdict::ok,
        fmt::format("/dev/kfd present ({}): ROCm tools can run; Laneway uses Vulkan and does not need it",
                    g.kfd->accessible ? "accessible" : g.kfd->access_reason));
  } else if (amdgpu) {
    add(out, "kfd", Verdict::ok, "no /dev/kfd: ROCm is unavailable here; Laneway uses Vulkan and does not need it",
        "only for ROCm tools: pass --device /dev/kfd");
  }
}

void vulkan_findings(const HardwareInventory& inv, std::vector<Finding>& out) {
  if (!inv.vulkan_probed) {
    add(out, "vulkan", Verdict::ok, "Vulkan not probed");
    return;
  }
  if (!inv.vulkan_status.is_ok()) {
    if (inv.vulkan_status.code() == StatusCode::not_found) {
      add(out, "vulkan", Verdict::warn, fmt::format("no Vulkan loader: {}; GPU offload unavailable", inv.vulkan_status.message()),
          "install libvulkan1 and the GPU's Vulkan driver (Debian/Ubuntu: apt install libvulkan1 mesa-vulkan-drivers)");
    } else {
      add(out, "vulkan", Verdict::warn, fmt::format("Vulkan failed: {}", inv.vulkan_status.to_string()),
          "run vulkaninfo --summary to see the driver's own error");
    }
    return;
  }
  if (inv.vulkan.devices.empty()) {
    add(out, "vulkan", Verdict::warn, "the Vulkan loader finds no devices", no_gpu_fix(inv));
    return;
  }
  const bool real_gpu = has_real_gpu(inv);
  for (const VulkanDeviceInfo& d : inv.vulkan.devices) {
    const GpuDriverKind kind = vulkan_driver_kind(d);
    if (is_software_device(d)) {
      const std::string summary = fmt::format(
          "gpu{}: {} is {} (software): Vulkan would be slower than CPU; not counted as a GPU", d.index, d.name,
          kind == GpuDriverKind::swiftshader ? "SwiftShader" : "llvmpipe");
      if (real_gpu) {
        add(out, "vulkan", Verdict::ok, summary, "nothing to do: Laneway skips it");
      } else {
        add(out, "vulkan", Verdict::warn, "no GPU: " + summary, no_gpu_fix(inv));
      }
      continue;
    }
    std::string driver = std::string(gpu_driver_kind_name(kind));
    if (auto mesa = mesa_version(d)) {
      driver += ", Mesa " + *mesa;
    } else if (!d.driver_info.empty()) {
      driver += " " + d.driver_info;
    }
    std::string summary = fmt::format("gpu{}: {} ({}, {}, Vulkan {})", d.index, d.name,
                                      vulkan_device_type_name(d.type), driver, vulkan_version_string(d.api_version));
    if (!d.memory_budget) summary += "; no VK_EXT_memory_budget, so free GPU memory is estimated";
    add(out, "vulkan", Verdict::ok, summary);
  }
}

void amdgpu_findings(const HardwareInventory& inv, std::vector<Finding>& out) {
  for (const DrmCard& c : inv.drm_cards) {
    if (c.driver != "amdgpu" || !c.vram_total_bytes || !c.gtt_total_bytes) continue;
    const uint64_t vram = *c.vram_total_bytes;
    const uint64_t gtt = *c.gtt_total_bytes;
    if (!c.unified_memory) {
      add(out, "amdgpu_memory", Verdict::ok,
          fmt::format("amdgpu {} ({:04x}:{:04x}): {} VRAM ({} used), {} GTT", c.name, c.vendor_id, c.device_id,
                      format_bytes(vram), format_bytes(c.vram_used_bytes.value_or(0)), format_bytes(gtt)));
      continue;
    }
    const uint64_t ram = inv.memory.total_bytes;
    const std::string summary =
        fmt::format("amdgpu APU{}: {} VRAM + {} GTT usable ({})", c.apu_family.empty() ? "" : " " + c.apu_family,
                    format_bytes(vram), format_bytes(gtt), c.unified_memory_reason);
    // Suggest a GTT ceiling that leaves the OS max(4 GiB, 10%) of RAM.
    const uint64_t keep = std::max<uint64_t>(4 * kGiB, ram / 10);
    const uint64_t target_gib = ram > keep ? (ram - keep) / kGiB : 0;
    std::string fix = "raise amdgpu.gttsize / ttm.pages_limit to use more";
    if (target_gib > gtt / kGiB) {
      fix = fmt::format("raise ttm.pages_limit (4 KiB pages; amdgpu.gttsize in MiB on older kernels) to use more, "
                        "e.g. ttm.pages_limit={} for {} GiB of GTT",
                        target_gib * (kGiB / (4 * kKiB)), target_gib);
    }
    const bool small = ram > 0 && double(gtt) < 0.75 * double(ram);
    add(out, "apu_memory", small ? Verdict::warn : Verdict::ok, summary, fix);
  }
}

void venus_findings(const HardwareInventory& inv, std::vector<Finding>& out) {
  for (const VulkanDeviceInfo& d : inv.vulkan.devices) {
    if (!is_venus_device(d)) continue;
    const MemoryPool* p = inv.pool(fmt::format("gpu{}", d.index));
    if (!p) continue;
    add(out, "venus", Verdict::ok,
        fmt::format("gpu{} is Venus (Vulkan over virtio-gpu, e.g. Podman with libkrun on a Mac): {} of the {} heap "
                    "usable; {}",
                    d.index, format_bytes(p->usable_bytes), format_bytes(p->total_bytes), p->usable_reason),
        "to raise it, give the VM more memory (podman machine set --memory <MiB>)");
  }
}

void memlock_findings(const HardwareInventory& inv, std::vector<Finding>& out) {
  const ProcessLimits& l = inv.limits;
  const std::optional<bool> cap = l.cap_ipc_lock();
  if (cap.value_or(false)) {
    add(out, "memlock", Verdict::ok, "CAP_IPC_LOCK is effective: weights can be pinned whatever the memlock limit");
    return;
  }
  if (!l.memlock_soft_bytes) {
    add(out, "memlock", Verdict::warn, "memlock limit unknown (/proc/self/limits unreadable)",
        "check with ulimit -l; --ulimit memlock=-1 or --cap-add IPC_LOCK to pin weights");
    return;
  }
  const uint64_t soft = *l.memlock_soft_bytes;
  const uint64_t ram = inv.effective_ram_bytes();
  if (soft == kUnlimitedBytes) {
    add(out, "memlock", Verdict::ok, "memlock unlimited: weights can be pinned");
  } else if (ram > 0 && soft >= ram) {
    add(out, "memlock", Verdict::ok, fmt::format("memlock limit {} covers all RAM: weights can be pinned", format_bytes(soft)));
  } else {
    add(out, "memlock", Verdict::warn,
        fmt::format("memlock limit {}{}: weights cannot be pinned and may be paged out under memory pressure",
                    format_bytes(soft), cap.has_value() ? " and no CAP_IPC_LOCK" : ""),
        "--ulimit memlock=-1 or --cap-add IPC_LOCK to pin weights (on a host: LimitMEMLOCK=infinity in the "
        "systemd unit, or memlock in /etc/security/limits.conf)");
  }
}

void hugepage_findings(const HardwareInventory& inv, std::vector<Finding>& out) {
  const MemInfo& m = inv.memory;
  if (!m.known) return;
  const std::string reserved =
      fmt::format("{} hugepages of {} reserved ({} free)", m.hugepages_total, format_bytes(m.hugepage_size_bytes),
                  m.hugepages_free);
  if (m.thp_mode == "never") {
    add(out, "hugepages", Verdict::warn, "transparent hugepages are off; " + reserved,
        "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled (fewer TLB misses on large weights)");
  } else {
    add(out, "hugepages", Verdict::ok,
        fmt::format("transparent hugepages: {}; {}", m.thp_mode.empty() ? "unknown" : m.thp_mode, reserved));
  }
}

void system_findings(const HardwareInventory& inv, std::vector<Finding>& out) {
  const SystemInfo& s = inv.system;
  add(out, "kernel", Verdict::ok,
      fmt::format("Linux {}{}", s.kernel_release.empty() ? "(release unknown)" : s.kernel_release,
                  s.os_name.empty() ? "" : fmt::format(" ({})", s.os_name)));
  const DrmCard* apu = nullptr;
  for (const DrmCard& c : inv.drm_cards) {
    if (c.unified_memory && c.vendor_id == 0x1002) apu = &c;
  }
  if (s.bios_vendor.empty() && s.bios_version.empty() && s.bios_date.empty()) {
    add(out, "bios", Verdict::ok, "BIOS unknown (no /sys/class/dmi/id here: a VM or a container without DMI)");
    return;
  }
  const std::string iso = iso_bios_date(s.bios_date).value_or(s.bios_date);
  std::string summary = fmt::format("BIOS {} {} dated {}{}", s.bios_vendor, s.bios_version, iso,
                                    s.product_name.empty() ? "" : fmt::format(" ({} {})", s.sys_vendor, s.product_name));
  if (!apu) {
    add(out, "bios", Verdict::ok, summary);
    return;
  }
  summary += "; the AMD AGESA version inside it cannot be read from Linux";
  const ApuFamily* fam = find_amd_apu_family(apu->device_id);
  if (fam && *fam->min_bios_date) {
    const bool old = iso < std::string(fam->min_bios_date);
    add(out, "bios", old ? Verdict::warn : Verdict::ok,
        fmt::format("{}; AMD APU users are told to run a BIOS from {} or later ({})", summary, fam->min_bios_date,
                    fam->min_bios_source),
        old ? "update the BIOS from the board vendor's support page" : kNothing);
  } else {
    add(out, "bios", Verdict::ok,
        fmt::format("{}; no minimum BIOS date is recorded for {}", summary, fam ? fam->name : "this APU"),
        "compare with the newest BIOS on the board vendor's support page; APU fixes ship as BIOS (AGESA) updates");
  }
}

}  // namespace

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::warn: return "warn";
    case Verdict::bad: return "bad";
  }
  return "ok";
}

std::vector<Finding> diagnose(const HardwareInventory& inv) {
  std::vector<Finding> out;
  cpu_findings(inv, out);
  memory_findings(inv, out);
  container_findings(inv, out);
  gpu_node_findings(inv, out);
  vulkan_findings(inv, out);
  amdgpu_findings(inv, out);
  venus_findings(inv, out);
  memlock_findings(inv, out);
  hugepage_findings(inv, out);
  system_findings(inv, out);
  return out;
}

VerdictCounts count_verdicts(const std::vector<Finding>& findings) {
  VerdictCounts c;
  for (const Finding& f : findings) {
    if (f.verdict == Verdict::ok) ++c.ok;
    if (f.verdict == Verdict::warn) ++c.warn;
    if (f.verdict == Verdict::bad) ++c.bad;
  }
  return c;
}

}  // namespace laneway::hw
