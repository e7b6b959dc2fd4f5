// libFuzzer target: arbitrary text as lanes.yaml through the parser that
// `laneway serve --config` and `laneway plan --lanes` share. It must answer
// a config or an error naming the file, never crash, hang or throw; an
// accepted config must pass its own validation and keep its lookups.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/lane_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = laneway::parse_lanes_config(text, "fuzz.yaml");
  if (!config) {
    if (config.status().message().find("fuzz.yaml") == std::string::npos) std::abort();
    return 0;
  }
  if (!laneway::validate_lanes_config(*config).is_ok()) std::abort();
  if (config->lanes.empty() && config->models_dir.empty() && config->ollama_models.empty()) std::abort();
  for (const auto& lane : config->lanes) {
    if (config->find_lane(lane.name) != &lane) std::abort();
    if (!lane.embedded() && config->find_service(lane.service) == nullptr) std::abort();
    (void)config->max_body_bytes_for(lane);
    (void)lane.idle_unload_after();
  }
  for (const auto& service : config->services) {
    if (service.urls.empty() || config->find_service(service.name) != &service) std::abort();
  }
  return 0;
}
