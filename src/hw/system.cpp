#include "hw/system.h"

#include <fmt/format.h>

namespace laneway::hw {
namespace {

std::string line_or_empty(const RootFs& fs, std::string_view path) { return fs.read_line(path).value_or(""); }

// GPU PCI ids of AMD APUs (public PCI id lists). The minimum BIOS dates are
// deliberately empty until a vendor or AMD document names one: doctor then
// shows the BIOS date and says no minimum is recorded, instead of guessing.
constexpr ApuFamily kAmdApus[] = {
    {0x1586, "Strix Halo (Ryzen AI Max 300, Radeon 8050S/8060S)", "", ""},
    {0x150e, "Strix Point (Ryzen AI 300, Radeon 880M/890M)", "", ""},
    {0x15bf, "Phoenix (Ryzen 7040/8040, Radeon 760M/780M)", "", ""},
    {0x15c8, "Phoenix 2 (Ryzen 7040/8040)", "", ""},
    {0x1681, "Rembrandt (Ryzen 6000, Radeon 660M/680M)", "", ""},
    {0x164e, "Raphael (Ryzen 7000 desktop iGPU)", "", ""},
    {0x1638, "Cezanne (Ryzen 5000 mobile/APU, Vega 6/7/8)", "", ""},
    {0x164c, "Lucienne (Ryzen 5000 mobile, Vega 6/7/8)", "", ""},
    {0x1636, "Renoir (Ryzen 4000, Vega 6/7/8)", "", ""},
    {0x15d8, "Picasso (Ryzen 3000 mobile/APU, Vega 8/11)", "", ""},
    {0x15dd, "Raven Ridge (Ryzen 2000 APU, Vega 8/11)", "", ""},
    {0x163f, "Van Gogh (Steam Deck)", "", ""},
};

}  // namespace

SystemInfo probe_system(const RootFs& fs) {
  SystemInfo s;
  s.kernel_release = line_or_empty(fs, "/proc/sys/kernel/osrelease");
  if (auto osr = fs.read_text("/etc/os-release")) {
    for (std::string_view line : split_lines(*osr)) {
      if (!starts_with(line, "PRETTY_NAME=")) continue;
      std::string_view v = trim(line.substr(12));
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) v = v.substr(1, v.size() - 2);
      s.os_name = v;
    }
  }
  s.bios_vendor = line_or_empty(fs, "/sys/class/dmi/id/bios_vendor");
  s.bios_version = line_or_empty(fs, "/sys/class/dmi/id/bios_version");
  s.bios_date = line_or_empty(fs, "/sys/class/dmi/id/bios_date");
  s.sys_vendor = line_or_empty(fs, "/sys/class/dmi/id/sys_vendor");
  s.product_name = line_or_empty(fs, "/sys/class/dmi/id/product_name");
  s.board_name = line_or_empty(fs, "/sys/class/dmi/id/board_name");
  return s;
}

std::optional<std::string> iso_bios_date(std::string_view d) {
  d = trim(d);
  if (d.size() != 10 || d[2] != '/' || d[5] != '/') return std::nullopt;
  auto mm = parse_u64(d.substr(0, 2));
  auto dd = parse_u64(d.substr(3, 2));
  auto yyyy = parse_u64(d.substr(6, 4));
  if (!mm || !dd || !yyyy || *mm < 1 || *mm > 12 || *dd < 1 || *dd > 31) return std::nullopt;
  return fmt::format("{:04}-{:02}-{:02}", *yyyy, *mm, *dd);
}

const ApuFamily* find_amd_apu_family(uint32_t pci_device_id) {
  for (const ApuFamily& f : kAmdApus) {
    if (f.pci_device_id == pci_device_id) return &f;
  }
  return nullptr;
}

}  // namespace laneway::hw
