// Doctor findings: the probe's inventory turned into verdicts a user can act
// on. Pure: inventory in, findings out (the CLI only prints them).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hw/probe.h"

namespace laneway::hw {

enum class Verdict { ok, warn, bad };
std::string_view verdict_name(Verdict v);  // "ok", "warn", "bad"

struct Finding {
  std::string topic;    // stable id for tools: "memlock", "gpu_nodes", "vulkan", "apu_memory", ...
  Verdict verdict = Verdict::ok;
  std::string summary;  // one line: what was found
  std::string fix;      // one line: what to do ("nothing to do" when ok)
};

std::vector<Finding> diagnose(const HardwareInventory& inv);

struct VerdictCounts {
  int ok = 0, warn = 0, bad = 0;
};
VerdictCounts count_verdicts(const std::vector<Finding>& findings);

}  // namespace laneway::hw
