#include "hw/inventory_json.h"

#include <fmt/format.h>

namespace laneway::hw {
namespace {

using nlohmann::json;

std::string hex16(uint32_t v) { return fmt::format("0x{:04x}", v); }

template <typename T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

// Numbers or "0x..." / decimal strings.
Result<uint64_t> json_u64(const json& j, const char* what) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer() && j.get<int64_t>() >= 0) return uint64_t(j.get<int64_t>());
  if (j.is_string()) {
    if (auto v = parse_u64(j.get<std::string>())) return *v;
  }
  return corrupt_error("{} must be a non-negative integer or a \"0x\" string, got {}", what, j.dump());
}

// "1.3.230" -> VK_MAKE_API_VERSION(0, 1, 3, 230); numbers pass through.
Result<uint32_t> json_version(const json& j, const char* what) {
  if (j.is_number_unsigned()) return j.get<uint32_t>();
  if (j.is_string()) {
    unsigned major = 0, minor = 0, patch = 0;
    if (std::sscanf(j.get<std::string>().c_str(), "%u.%u.%u", &major, &minor, &patch) >= 2) {
      return uint32_t((major << 22) | (minor << 12) | patch);
    }
  }
  return corrupt_error("{} must be a version like \"1.3.230\", got {}", what, j.dump());
}

Result<VulkanDeviceInfo> device_from_json(const json& j, uint32_t position) {
  if (!j.is_object()) return corrupt_error("Vulkan device {} is not an object", position);
  VulkanDeviceInfo d;
  d.index = position;
  if (j.contains("index")) { LANEWAY_ASSIGN_OR_RETURN(uint64_t v, json_u64(j["index"], "index")); d.index = uint32_t(v); }
  d.name = j.value("name", "");
  if (j.contains("vendor_id")) { LANEWAY_ASSIGN_OR_RETURN(uint64_t v, json_u64(j["vendor_id"], "vendor_id")); d.vendor_id = uint32_t(v); }
  if (j.contains("device_id")) { LANEWAY_ASSIGN_OR_RETURN(uint64_t v, json_u64(j["device_id"], "device_id")); d.device_id = uint32_t(v); }
  if (j.contains("type")) {
    auto t = vulkan_device_type_from_name(j["type"].is_string() ? j["type"].get<std::string>() : "");
    if (!t) return corrupt_error("Vulkan device {}: unknown type {}", position, j["type"].dump());
    d.type = *t;
  }
  if (j.contains("api_version")) { LANEWAY_ASSIGN_OR_RETURN(d.api_version, json_version(j["api_version"], "api_version")); }
  if (j.contains("driver_version")) { LANEWAY_ASSIGN_OR_RETURN(uint64_t v, json_u64(j["driver_version"], "driver_version")); d.driver_version = uint32_t(v); }
  if (j.contains("driver_id")) { LANEWAY_ASSIGN_OR_RETURN(uint64_t v, json_u64(j["driver_id"], "driver_id")); d.driver_id = uint32_t(v); }
  d.driver_name = j.value("driver_name", "");
  d.driver_info = j.value("driver_info", "");
  d.pci_slot = j.value("pci_slot", "");
  d.memory_budget = j.value("memory_budget", false);
  if (j.contains("heaps")) {
    if (!j["heaps"].is_array()) return corrupt_error("Vulkan device {}: heaps must be an array", position);
    for (const json& h : j["heaps"]) {
      VulkanHeap heap;
      LANEWAY_ASSIGN_OR_RETURN(heap.size_bytes, json_u64(h.value("size_bytes", json(nullptr)), "heaps[].size_bytes"));
      heap.device_local = h.value("device_local", false);
      if (h.contains("budget_bytes") && !h["budget_bytes"].is_null()) {
        LANEWAY_ASSIGN_OR_RETURN(uint64_t v, json_u64(h["budget_bytes"], "heaps[].budget_bytes"));
        heap.budget_bytes = v;
      }
      if (h.contains("usage_bytes") && !h["usage_bytes"].is_null()) {
        LANEWAY_ASSIGN_OR_RETURN(uint64_t v, json_u64(h["usage_bytes"], "heaps[].usage_bytes"));
        heap.usage_bytes = v;
      }
      d.heaps.push_back(heap);
    }
  }
  return d;
}

}  // namespace

json vulkan_device_to_json(const VulkanDeviceInfo& d) {
  json heaps = json::array();
  for (const VulkanHeap& h : d.heaps) {
    heaps.push_back({{"size_bytes", h.size_bytes}, {"device_local", h.device_local},
                     {"budget_bytes", opt(h.budget_bytes)}, {"usage_bytes", opt(h.usage_bytes)}});
  }
  return {
      {"index", d.index},
      {"name", d.name},
      {"vendor_id", hex16(d.vendor_id)},
      {"device_id", hex16(d.device_id)},
      {"type", vulkan_device_type_name(d.type)},
      {"api_version", vulkan_version_string(d.api_version)},
      {"driver_version", d.driver_version},
      {"driver_id", d.driver_id},
      {"driver_name", d.driver_name},
      {"driver_info", d.driver_info},
      {"pci_slot", d.pci_slot},
      {"memory_budget", d.memory_budget},
      {"heaps", heaps},
      // Derived, for readers; ignored when replayed.
      {"driver_kind", gpu_driver_kind_name(vulkan_driver_kind(d))},
      {"software", is_software_device(d)},
      {"mesa_version", opt(mesa_version(d))},
  };
}

json vulkan_report_to_json(const VulkanReport& r) {
  json devices = json::array();
  for (const VulkanDeviceInfo& d : r.devices) devices.push_back(vulkan_device_to_json(d));
  return {{"loader", r.loader}, {"instance_api_version", vulkan_version_string(r.instance_api_version)},
          {"devices", devices}};
}

json memory_pool_to_json(const MemoryPool& p) {
  return {{"id", p.id},
          {"label", p.label},
          {"kind", memory_pool_kind_name(p.kind)},
          {"vulkan_index", opt(p.vulkan_index)},
          {"total_bytes", p.total_bytes},
          {"usable_bytes", p.usable_bytes},
          {"usable_reason", p.usable_reason},
          {"shares_system_ram", p.shares_system_ram},
          {"bandwidth_bytes_per_s", opt(p.bandwidth_bytes_per_s)},
          {"bandwidth_source", p.bandwidth_source}};
}

json inventory_to_json(const HardwareInventory& inv) {
  json j;
  j["root"] = inv.root;
  const CpuInfo& c = inv.cpu;
  j["cpu"] = {{"arch", c.arch},           {"vendor", c.vendor},
              {"model_name", c.model_name}, {"logical_cores", c.logical_cores},
              {"physical_cores", c.physical_cores}, {"hypervisor", c.hypervisor},
              {"features", c.feature_names()}, {"effective_cores", inv.effective_cores()}};
  const MemInfo& m = inv.memory;
  j["memory"] = {{"known", m.known},
                 {"total_bytes", m.total_bytes},
                 {"available_bytes", m.available_bytes},
                 {"free_bytes", m.free_bytes},
                 {"swap_total_bytes", m.swap_total_bytes},
                 {"swap_free_bytes", m.swap_free_bytes},
                 {"hugepages_total", m.hugepages_total},
                 {"hugepages_free", m.hugepages_free},
                 {"hugepage_size_bytes", m.hugepage_size_bytes},
                 {"thp_mode", m.thp_mode},
                 {"effective_ram_bytes", inv.effective_ram_bytes()}};
  const CgroupLimits& cg = inv.cgroups;
  j["cgroup"] = {{"v1", cg.v1},
                 {"v2", cg.v2},
                 {"v2_path", cg.v2_path},
                 {"v1_memory_path", cg.v1_memory_path},
                 {"memory_limit_bytes", opt(cg.memory_limit_bytes)},
                 {"memory_limit_file", cg.memory_limit_file},
                 {"memory_usage_bytes", opt(cg.memory_usage_bytes)},
                 {"memory_charged_bytes", opt(cg.memory_charged_bytes)},
                 {"memory_inactive_file_bytes", opt(cg.memory_inactive_file_bytes)},
                 {"cpu_quota_cores", opt(cg.cpu_quota_cores)},
                 {"cpu_quota_file", cg.cpu_quota_file},
                 {"notes", cg.notes}};
  j["container"] = {{"in_container", inv.container.in_container},
                    {"runtime", inv.container.runtime},
                    {"evidence", inv.container.evidence}};
  const SystemInfo& s = inv.system;
  j["system"] = {{"kernel_release", s.kernel_release}, {"os_name", s.os_name},
                 {"bios_vendor", s.bios_vendor},       {"bios_version", s.bios_version},
                 {"bios_date", s.bios_date},           {"sys_vendor", s.sys_vendor},
                 {"product_name", s.product_name},     {"board_name", s.board_name}};
  const ProcessLimits& l = inv.limits;
  auto limit_json = [](const std::optional<uint64_t>& v) -> json {
    if (!v) return nullptr;
    if (*v == kUnlimitedBytes) return "unlimited";
    return *v;
  };
  j["limits"] = {{"memlock_soft_bytes", limit_json(l.memlock_soft_bytes)},
                 {"memlock_hard_bytes", limit_json(l.memlock_hard_bytes)},
                 {"cap_effective", l.cap_effective ? json(fmt::format("{:016x}", *l.cap_effective)) : json(nullptr)},
                 {"cap_ipc_lock", opt(l.cap_ipc_lock())}};
  json cards = json::array();
  for (const DrmCard& d : inv.drm_cards) {
    cards.push_back({{"name", d.name},
                     {"vendor_id", hex16(d.vendor_id)},
                     {"device_id", hex16(d.device_id)},
                     {"driver", d.driver},
                     {"pci_slot", d.pci_slot},
                     {"render_node", d.render_node},
                     {"vram_total_bytes", opt(d.vram_total_bytes)},
                     {"vram_used_bytes", opt(d.vram_used_bytes)},
                     {"vis_vram_total_bytes", opt(d.vis_vram_total_bytes)},
                     {"gtt_total_bytes", opt(d.gtt_total_bytes)},
                     {"gtt_used_bytes", opt(d.gtt_used_bytes)},
                     {"unified_memory", d.unified_memory},
                     {"unified_memory_reason", d.unified_memory_reason},
                     {"apu_family", d.apu_family}});
  }
  j["drm_cards"] = cards;
  auto node_json = [](const DeviceNode& n) {
    return json{{"path", n.path},   {"accessible", n.accessible},       {"mode", fmt::format("{:04o}", n.mode)},
                {"uid", n.uid},     {"gid", n.gid},                     {"group_name", n.group_name},
                {"access_reason", n.access_reason}};
  };
  json nodes = json::array();
  for (const DeviceNode& n : inv.gpu_nodes.render_nodes) nodes.push_back(node_json(n));
  j["gpu_nodes"] = {{"dri_dir", inv.gpu_nodes.dri_dir},
                    {"render_nodes", nodes},
                    {"kfd", inv.gpu_nodes.kfd ? node_json(*inv.gpu_nodes.kfd) : json(nullptr)}};
  json vk = vulkan_report_to_json(inv.vulkan);
  vk["probed"] = inv.vulkan_probed;
  vk["error"] = inv.vulkan_status.is_ok() ? json(nullptr) : json(inv.vulkan_status.to_string());
  j["vulkan"] = vk;
  json pools = json::array();
  for (const MemoryPool& p : inv.pools) pools.push_back(memory_pool_to_json(p));
  j["pools"] = pools;
  return j;
}

json findings_to_json(const std::vector<Finding>& findings) {
  json arr = json::array();
  for (const Finding& f : findings) {
    arr.push_back({{"topic", f.topic}, {"verdict", verdict_name(f.verdict)}, {"summary", f.summary}, {"fix", f.fix}});
  }
  return arr;
}

Result<Result<VulkanReport>> vulkan_report_from_json(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return corrupt_error("recorded Vulkan devices are not valid JSON");
  VulkanReport report;
  report.loader = "recorded";
  const json* devices = &j;
  if (j.is_object()) {
    if (j.contains("error") && j["error"].is_string()) {
      return Result<VulkanReport>(not_found_error("{}", j["error"].get<std::string>()));
    }
    if (j.contains("instance_api_version")) {
      LANEWAY_ASSIGN_OR_RETURN(report.instance_api_version, json_version(j["instance_api_version"], "instance_api_version"));
    }
    if (!j.contains("devices")) return corrupt_error("recorded Vulkan JSON has no \"devices\" array");
    devices = &j["devices"];
  }
  if (!devices->is_array()) return corrupt_error("recorded Vulkan \"devices\" must be an array");
  for (size_t i = 0; i < devices->size(); ++i) {
    LANEWAY_ASSIGN_OR_RETURN(VulkanDeviceInfo d, device_from_json((*devices)[i], uint32_t(i)));
    report.devices.push_back(std::move(d));
  }
  return Result<VulkanReport>(std::move(report));
}

}  // namespace laneway::hw
