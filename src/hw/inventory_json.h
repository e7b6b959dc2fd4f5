// JSON for tools: the inventory and findings `laneway doctor --json` prints,
// and the recorded Vulkan descriptions it can replay (--vulkan-devices).
//
// The recorded format is what doctor prints under "vulkan", so a description
// taken on a real machine (`laneway doctor --json | jq .vulkan`) feeds a test
// unchanged. Ids may be numbers or "0x..." strings; versions are "1.3.230".
#pragma once

#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "hw/doctor.h"
#include "hw/probe.h"

namespace laneway::hw {

nlohmann::json vulkan_device_to_json(const VulkanDeviceInfo& d);
nlohmann::json vulkan_report_to_json(const VulkanReport& r);
nlohmann::json memory_pool_to_json(const MemoryPool& p);
nlohmann::json inventory_to_json(const HardwareInventory& inv);
nlohmann::json findings_to_json(const std::vector<Finding>& findings);

// Accepts {"devices": [...]}, a bare [...] of devices, or {"error": "..."}
// (replayed as a missing loader). corrupt when the text is not such JSON.
Result<Result<VulkanReport>> vulkan_report_from_json(std::string_view text);

}  // namespace laneway::hw
