// Kernel, distribution and firmware facts: what a bug report needs.
//
// AMD's AGESA version is not exposed to Linux (it is inside the BIOS image,
// not in DMI), so for APUs we show the BIOS date beside the minimum known for
// that APU family and say that AGESA itself cannot be read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hw/root_fs.h"

namespace laneway::hw {

struct SystemInfo {
  std::string kernel_release;  // /proc/sys/kernel/osrelease: "6.8.0-45-generic"
  std::string os_name;         // /etc/os-release PRETTY_NAME
  std::string bios_vendor;     // /sys/class/dmi/id/bios_vendor
  std::string bios_version;
  std::string bios_date;       // as DMI has it: "03/12/2025"
  std::string sys_vendor;      // "Framework", "QEMU", ...
  std::string product_name;
  std::string board_name;
};

SystemInfo probe_system(const RootFs& fs);

// DMI's "MM/DD/YYYY" as "YYYY-MM-DD"; nullopt when it does not parse.
std::optional<std::string> iso_bios_date(std::string_view dmi_date);

// Advice for an AMD APU family, keyed by PCI device id of its GPU.
struct ApuFamily {
  uint32_t pci_device_id = 0;
  const char* name = "";            // "Strix Halo (Ryzen AI Max 300)"
  const char* min_bios_date = "";   // ISO date AMD APU users are told to run; "" when none is documented here
  const char* min_bios_source = ""; // where that minimum comes from
};
// nullptr when the id is not a known AMD APU.
const ApuFamily* find_amd_apu_family(uint32_t pci_device_id);

}  // namespace laneway::hw
