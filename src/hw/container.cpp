#include "hw/container.h"

#include <algorithm>

#include <fmt/format.h>

namespace laneway::hw {
namespace {

void note(ContainerInfo& c, std::string runtime, std::string why) {
  c.in_container = true;
  if (c.runtime.empty()) c.runtime = std::move(runtime);
  // v1 hierarchies often share one path: say it once.
  if (std::find(c.evidence.begin(), c.evidence.end(), why) == c.evidence.end()) c.evidence.push_back(std::move(why));
}

}  // namespace

ContainerInfo detect_container(const RootFs& fs, const std::vector<CgroupMembership>& memberships) {
  ContainerInfo c;
  if (fs.exists("/.dockerenv")) note(c, "docker", "/.dockerenv exists");
  if (fs.exists("/run/.containerenv")) {
    // Podman writes engine="podman-5.2.0" (and more) into it when it can.
    std::string runtime = "podman";
    if (auto text = fs.read_text("/run/.containerenv"); text && text->find("engine=\"") != std::string::npos) {
      const size_t b = text->find("engine=\"") + 8;
      const size_t e = text->find('"', b);
      const std::string engine = text->substr(b, e == std::string::npos ? std::string::npos : e - b);
      if (!engine.empty()) runtime = engine.substr(0, engine.find('-'));
    }
    note(c, runtime, "/run/.containerenv exists");
  }
  // PID 1's environment: systemd-nspawn, podman and lxc set container=<name>.
  if (auto env = fs.read_text("/proc/1/environ")) {
    std::string_view rest = *env;
    while (!rest.empty()) {
      const size_t nul = rest.find('\0');
      const std::string_view var = rest.substr(0, nul);
      if (starts_with(var, "container=") && var.size() > 10) {
        note(c, std::string(var.substr(10)), fmt::format("PID 1 has {}", var));
      }
      if (nul == std::string_view::npos) break;
      rest.remove_prefix(nul + 1);
    }
  }
  struct Marker {
    const char* needle;
    const char* runtime;
  };
  static constexpr Marker kMarkers[] = {
      {"kubepods", "kubernetes"}, {"/docker/", "docker"}, {"docker-", "docker"}, {"libpod", "podman"},
      {"/lxc", "lxc"},            {"containerd", "containerd"},
  };
  for (const CgroupMembership& m : memberships) {
    for (const Marker& mk : kMarkers) {
      if (m.path.find(mk.needle) != std::string::npos) {
        note(c, mk.runtime, fmt::format("cgroup path {}", m.path));
        break;
      }
    }
    if (c.evidence.size() > 4) break;  // enough said
  }
  return c;
}

}  // namespace laneway::hw
