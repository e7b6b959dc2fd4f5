#include "hw/memory.h"

namespace laneway::hw {

MemInfo parse_meminfo(std::string_view text) {
  MemInfo m;
  bool saw_available = false;
  for (std::string_view line : split_lines(text)) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = trim(line.substr(0, colon));
    auto words = split_ws(trim(line.substr(colon + 1)));
    if (words.empty()) continue;
    auto v = parse_u64(words[0]);
    if (!v) continue;
    // Values with a "kB" unit are KiB; hugepage counts have no unit.
    const uint64_t bytes = (words.size() > 1 && words[1] == "kB") ? *v * kKiB : *v;
    if (key == "MemTotal") {
      m.total_bytes = bytes;
      m.known = true;
    } else if (key == "MemAvailable") {
      m.available_bytes = bytes;
      saw_available = true;
    } else if (key == "MemFree") {
      m.free_bytes = bytes;
    } else if (key == "SwapTotal") {
      m.swap_total_bytes = bytes;
    } else if (key == "SwapFree") {
      m.swap_free_bytes = bytes;
    } else if (key == "HugePages_Total") {
      m.hugepages_total = *v;
    } else if (key == "HugePages_Free") {
      m.hugepages_free = *v;
    } else if (key == "Hugepagesize") {
      m.hugepage_size_bytes = bytes;
    }
  }
  // Kernels before 3.14 lack MemAvailable; MemFree is the cautious stand-in.
  if (!saw_available) m.available_bytes = m.free_bytes;
  return m;
}

MemInfo probe_memory(const RootFs& fs) {
  MemInfo m;
  if (auto text = fs.read_text("/proc/meminfo")) m = parse_meminfo(*text);
  // "always [madvise] never": the bracketed word is the active mode.
  if (auto thp = fs.read_line("/sys/kernel/mm/transparent_hugepage/enabled")) {
    const size_t b = thp->find('[');
    const size_t e = thp->find(']');
    if (b != std::string::npos && e != std::string::npos && e > b) m.thp_mode = thp->substr(b + 1, e - b - 1);
  }
  return m;
}

}  // namespace laneway::hw
