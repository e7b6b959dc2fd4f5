// `laneway plan --lanes lanes.yaml [--profile NAME] [--target-tps LANE=N] [--json]`:
// loads the config and each embedded lane's model (metadata or shape), picks
// the machine profile, lays the lanes out (plan/lane_map.h) and prints the map.
#pragma once

#include <map>
#include <string>

#include "core/status.h"

namespace laneway::cli {

struct PlanLanesFlags {
  std::string lanes_path;
  std::string profile;  // "" = the config's machine.profile, else this-machine
  std::map<std::string, double> target_tps;
  bool json = false;
};

// Prints the map to stdout. Every error is bad input (exit 2 for the caller).
Status plan_lanes(const PlanLanesFlags& flags);

}  // namespace laneway::cli
