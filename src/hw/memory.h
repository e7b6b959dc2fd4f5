// System RAM (/proc/meminfo), hugepages and transparent hugepages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hw/root_fs.h"

namespace laneway::hw {

struct MemInfo {
  bool known = false;              // /proc/meminfo was read
  uint64_t total_bytes = 0;        // MemTotal: RAM the kernel manages (excludes a GPU carve-out)
  uint64_t available_bytes = 0;    // MemAvailable: what can be allocated without swapping
  uint64_t free_bytes = 0;         // MemFree
  uint64_t swap_total_bytes = 0;
  uint64_t swap_free_bytes = 0;
  uint64_t hugepages_total = 0;    // HugePages_Total (pages of hugepage_size_bytes)
  uint64_t hugepages_free = 0;
  uint64_t hugepage_size_bytes = 0;
  std::string thp_mode;            // "always" / "madvise" / "never"; "" when unknown
};

// Pure: parses the text of /proc/meminfo ("MemTotal:  131072000 kB").
MemInfo parse_meminfo(std::string_view text);

MemInfo probe_memory(const RootFs& fs);

}  // namespace laneway::hw
