#include "hw/drm.h"

#include <sys/stat.h>

#include <cctype>

#include <fmt/format.h>

#include "hw/system.h"

namespace laneway::hw {
namespace {

bool is_card_name(const std::string& n) {
  if (!starts_with(n, "card") || n.size() == 4) return false;
  for (size_t i = 4; i < n.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(n[i]))) return false;
  }
  return true;
}

std::string uevent_value(const std::string& uevent, std::string_view key) {
  for (std::string_view line : split_lines(uevent)) {
    if (starts_with(line, key) && line.size() > key.size() && line[key.size()] == '=') {
      return std::string(trim(line.substr(key.size() + 1)));
    }
  }
  return {};
}

// gid -> name from the probed machine's /etc/group ("render:x:993:").
std::string group_name_for(const RootFs& fs, uint32_t gid) {
  auto text = fs.read_text("/etc/group");
  if (!text) return {};
  for (std::string_view line : split_lines(*text)) {
    const size_t c1 = line.find(':');
    const size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    const size_t c3 = c2 == std::string_view::npos ? c2 : line.find(':', c2 + 1);
    if (c3 == std::string_view::npos) continue;
    if (parse_u64(line.substr(c2 + 1, c3 - c2 - 1)) == uint64_t(gid)) return std::string(line.substr(0, c1));
  }
  return {};
}

DeviceNode check_node(const RootFs& fs, const std::string& machine_path, const ProcessIdentity& id) {
  DeviceNode n;
  n.path = machine_path;
  struct stat st {};
  if (::stat(fs.resolve(machine_path).c_str(), &st) != 0) {
    n.access_reason = "cannot stat";
    return n;
  }
  n.mode = st.st_mode & 07777;
  n.uid = st.st_uid;
  n.gid = st.st_gid;
  n.group_name = group_name_for(fs, n.gid);
  const std::string group = n.group_name.empty() ? fmt::format("gid {}", n.gid)
                                                 : fmt::format("{} (gid {})", n.group_name, n.gid);
  if (!id.known) {
    // No credentials recorded: fall back to the permission bits for "other".
    n.accessible = (n.mode & 06) == 06;
    n.access_reason = n.accessible ? "world read-write" : "process credentials unknown";
    return n;
  }
  if (id.euid == 0) {
    n.accessible = true;
    n.access_reason = "running as root";
  } else if (id.euid == n.uid) {
    n.accessible = (n.mode & 0600) == 0600;
    n.access_reason = n.accessible ? "owner read-write" : "owner lacks read-write";
  } else if (id.in_group(n.gid)) {
    n.accessible = (n.mode & 060) == 060;
    n.access_reason = n.accessible ? fmt::format("member of group {}", group)
                                   : fmt::format("group {} lacks read-write", group);
  } else if ((n.mode & 06) == 06) {
    n.accessible = true;
    n.access_reason = "world read-write";
  } else {
    n.access_reason = fmt::format("group {} is not among this process's groups", group);
  }
  return n;
}

}  // namespace

bool looks_like_unified_memory(uint64_t vram_total_bytes, uint64_t gtt_total_bytes, std::string* reason) {
  // A discrete card has gigabytes of VRAM and a GTT that only stages
  // transfers; an APU has a BIOS carve-out of a few hundred MiB to a few GiB
  // and does its real work in GTT (system RAM mapped for the GPU).
  const bool small_vram = vram_total_bytes <= 4 * kGiB;
  const bool big_gtt = gtt_total_bytes >= 4 * vram_total_bytes;
  if (small_vram && big_gtt) {
    if (reason) {
      *reason = fmt::format("{} VRAM carve-out next to {} GTT", format_bytes(vram_total_bytes),
                            format_bytes(gtt_total_bytes));
    }
    return true;
  }
  return false;
}

std::vector<DrmCard> probe_drm_cards(const RootFs& fs) {
  std::vector<DrmCard> cards;
  for (const std::string& name : fs.list_dir("/sys/class/drm")) {
    if (!is_card_name(name)) continue;
    const std::string dev = "/sys/class/drm/" + name + "/device";
    DrmCard c;
    c.name = name;
    c.vendor_id = uint32_t(fs.read_u64(dev + "/vendor").value_or(0));
    c.device_id = uint32_t(fs.read_u64(dev + "/device").value_or(0));
    const std::string uevent = fs.read_text(dev + "/uevent").value_or("");
    c.driver = uevent_value(uevent, "DRIVER");
    c.pci_slot = uevent_value(uevent, "PCI_SLOT_NAME");
    if (c.vendor_id == 0 || c.device_id == 0) {
      // Some buses only carry PCI_ID=1002:1586 in uevent.
      const std::string pci_id = uevent_value(uevent, "PCI_ID");
      const size_t colon = pci_id.find(':');
      if (colon != std::string::npos) {
        c.vendor_id = uint32_t(parse_u64("0x" + pci_id.substr(0, colon)).value_or(0));
        c.device_id = uint32_t(parse_u64("0x" + pci_id.substr(colon + 1)).value_or(0));
      }
    }
    for (const std::string& sub : fs.list_dir(dev + "/drm")) {
      if (starts_with(sub, "renderD")) c.render_node = "/dev/dri/" + sub;
    }
    c.vram_total_bytes = fs.read_u64(dev + "/mem_info_vram_total");
    c.vram_used_bytes = fs.read_u64(dev + "/mem_info_vram_used");
    c.vis_vram_total_bytes = fs.read_u64(dev + "/mem_info_vis_vram_total");
    c.gtt_total_bytes = fs.read_u64(dev + "/mem_info_gtt_total");
    c.gtt_used_bytes = fs.read_u64(dev + "/mem_info_gtt_used");
    if (c.driver.empty() && c.vram_total_bytes && c.vendor_id == 0x1002) c.driver = "amdgpu";
    if (c.vendor_id == 0x1002) {
      if (const ApuFamily* fam = find_amd_apu_family(c.device_id)) {
        c.apu_family = fam->name;
        c.unified_memory = true;
        c.unified_memory_reason = fmt::format("PCI id 1002:{:04x} is a known AMD APU", c.device_id);
      } else if (c.vram_total_bytes && c.gtt_total_bytes) {
        c.unified_memory = looks_like_unified_memory(*c.vram_total_bytes, *c.gtt_total_bytes, &c.unified_memory_reason);
      }
    }
    cards.push_back(std::move(c));
  }
  // One card and one render node but no sysfs link (older kernels, fixtures):
  // they belong together.
  if (cards.size() == 1 && cards[0].render_node.empty()) {
    std::vector<std::string> render;
    for (const std::string& n : fs.list_dir("/dev/dri")) {
      if (starts_with(n, "renderD")) render.push_back(n);
    }
    if (render.size() == 1) cards[0].render_node = "/dev/dri/" + render[0];
  }
  return cards;
}

GpuNodes probe_gpu_nodes(const RootFs& fs, const ProcessIdentity& identity) {
  GpuNodes g;
  g.dri_dir = fs.is_dir("/dev/dri");
  for (const std::string& n : fs.list_dir("/dev/dri")) {
    if (starts_with(n, "renderD")) g.render_nodes.push_back(check_node(fs, "/dev/dri/" + n, identity));
  }
  if (fs.exists("/dev/kfd")) g.kfd = check_node(fs, "/dev/kfd", identity);
  return g;
}

}  // namespace laneway::hw
