// Is this process in a container, and which kind? Evidence, not certainty:
// marker files (/.dockerenv, /run/.containerenv), PID 1's `container=` env
// and container-runtime names in this process's cgroup paths.
#pragma once

#include <string>
#include <vector>

#include "hw/cgroup.h"
#include "hw/root_fs.h"

namespace laneway::hw {

struct ContainerInfo {
  bool in_container = false;
  std::string runtime;                // "docker", "podman", "kubernetes", "lxc", "containerd", or "" when unknown
  std::vector<std::string> evidence;  // "/.dockerenv exists", "cgroup path /docker/3f2a..."
};

ContainerInfo detect_container(const RootFs& fs, const std::vector<CgroupMembership>& memberships);

}  // namespace laneway::hw
