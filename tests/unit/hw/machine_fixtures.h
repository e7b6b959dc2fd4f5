// Fixture trees of real machine kinds for the hardware probe, written by the
// tests themselves into scratch directories (no machine paths committed).
// Each file holds what the kernel would show there: /proc/meminfo,
// /proc/self/{cgroup,mountinfo,limits,status}, /sys/fs/cgroup/..., the
// amdgpu sysfs counters, /dev/dri nodes (plain files with the right modes).
// Vulkan devices come as recorded descriptions beside the tree.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "hw/vulkan.h"

namespace laneway::hw::fixtures {

inline constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB, kGiB = 1024 * kMiB;

// Writes files of a fake machine under `root`.
class FixtureTree {
 public:
  explicit FixtureTree(std::filesystem::path root);
  const std::filesystem::path& root() const { return root_; }

  void write(std::string_view machine_path, std::string_view content) const;
  void mkdir(std::string_view machine_path) const;

  // /proc/cpuinfo with `threads` processors over `cores` cores of one package.
  void cpuinfo_x86(std::string_view model, std::string_view vendor, int cores, int threads, std::string_view flags) const;
  void cpuinfo_arm(uint32_t implementer, int cpus, std::string_view features) const;
  void meminfo(uint64_t total_bytes, uint64_t available_bytes) const;
  // /proc/self/limits: values in bytes, or "unlimited".
  void limits(std::string_view memlock_soft, std::string_view memlock_hard) const;
  // /proc/self/status: an unprivileged user unless told otherwise.
  void status(uint32_t euid, uint32_t egid, const std::vector<uint32_t>& groups, uint64_t cap_eff) const;
  // /sys/class/drm/card<N> with its device attributes; amdgpu counters when vram_total > 0.
  struct Card {
    int index = 0;
    uint32_t vendor = 0, device = 0;
    std::string driver;
    std::string pci_slot;
    uint64_t vram_total = 0, vram_used = 0, gtt_total = 0, gtt_used = 0;
    int render_minor = 128;  // 0: no render node
  };
  void drm_card(const Card& card) const;
  // /dev/dri/renderD<minor> (and /dev/kfd) as plain files with `mode`.
  void device_node(std::string_view machine_path, unsigned mode) const;
  // Group id and owner the fixture's device nodes carry (the test runner's).
  uint32_t node_gid() const;
  uint32_t node_uid() const;
  // /etc/group naming `gid` as `name`.
  void group(std::string_view name, uint32_t gid) const;
  void dmi(std::string_view bios_vendor, std::string_view bios_version, std::string_view bios_date,
           std::string_view sys_vendor, std::string_view product) const;
  void kernel(std::string_view release, std::string_view pretty_name) const;
  // "0::/" and a cgroup2 mount at /sys/fs/cgroup.
  void cgroup_v2_host() const;

 private:
  std::filesystem::path root_;
};

struct Machine {
  std::string name;
  std::filesystem::path root;
  VulkanReport vulkan;  // what the loader would report there
};

// Each writes a fresh tree under `dir` and returns it.
Machine make_strix_halo(const std::filesystem::path& dir);       // 128 GB APU, 512 MiB VRAM + 110 GiB GTT, RADV
Machine make_ryzen_vega8_laptop(const std::filesystem::path& dir); // Ryzen 7 5800U, 16 GB, user not in group render
Machine make_discrete_amd(const std::filesystem::path& dir);     // Ryzen 9 5950X + RX 7900 XTX (24 GiB)
Machine make_nvidia(const std::filesystem::path& dir);           // Core i9-13900K + RTX 4090, proprietary driver
Machine make_venus_vm(const std::filesystem::path& dir);         // Podman + libkrun on an M2 Max: Venus
Machine make_container_v2(const std::filesystem::path& dir);     // docker, nested v2 group, 8 GiB, 1.5 CPUs, no /dev/dri
Machine make_container_v1(const std::filesystem::path& dir);     // docker on a v1/v2 hybrid host, 4 GiB, 3 CPUs, no /dev/dri
Machine make_memlock_64k(const std::filesystem::path& dir);      // a host with a 64 KiB memlock limit, no CAP_IPC_LOCK

// A lavapipe device as Mesa 22.3 reports it (what containers without a GPU see).
VulkanDeviceInfo lavapipe_device(uint32_t index);

// Writes the machine's Vulkan report as `laneway doctor --vulkan-devices` reads it.
std::filesystem::path write_vulkan_json(const Machine& m, const std::filesystem::path& file);

}  // namespace laneway::hw::fixtures
