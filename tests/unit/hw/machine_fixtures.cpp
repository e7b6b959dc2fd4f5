#include "unit/hw/machine_fixtures.h"

#include <sys/stat.h>

#include <fstream>
#include <system_error>

#include <fmt/format.h>

#include "hw/inventory_json.h"

namespace laneway::hw::fixtures {
namespace {

constexpr const char* kZen4Flags =
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall "
    "nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf "
    "pni pclmulqdq monitor ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm "
    "cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext "
    "bmi1 avx2 smep bmi2 erms invpcid cqm rdt_a avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb "
    "avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves avx512_bf16 clzero irperf xsaveerptr "
    "avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid fsrm";
constexpr const char* kZen3Flags =
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall "
    "nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl cpuid pni pclmulqdq monitor ssse3 fma cx16 "
    "sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm svm abm sse4a bmi1 avx2 smep bmi2 erms invpcid "
    "rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves vaes vpclmulqdq rdpid fsrm";
constexpr const char* kRaptorLakeFlags =
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss "
    "ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt "
    "aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch bmi1 avx2 smep bmi2 erms invpcid rdseed adx smap "
    "clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves avx_vnni umip pku ospke gfni vaes vpclmulqdq rdpid";

uint32_t api(uint32_t major, uint32_t minor, uint32_t patch) { return (major << 22) | (minor << 12) | patch; }

// Render nodes the fixture user can open (group render, which the user is in).
void desktop_user_with_render(const FixtureTree& t, uint64_t cap_eff = 0) {
  t.group("render", t.node_gid());
  t.status(t.node_uid() + 4242, 1000, {4, 24, 27, t.node_gid()}, cap_eff);
}

}  // namespace

FixtureTree::FixtureTree(std::filesystem::path root) : root_(std::move(root)) {
  std::filesystem::create_directories(root_);
}

void FixtureTree::write(std::string_view machine_path, std::string_view content) const {
  std::filesystem::path p = root_ / std::filesystem::path(machine_path).relative_path();
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

void FixtureTree::mkdir(std::string_view machine_path) const {
  std::filesystem::create_directories(root_ / std::filesystem::path(machine_path).relative_path());
}

void FixtureTree::cpuinfo_x86(std::string_view model, std::string_view vendor, int cores, int threads,
                              std::string_view flags) const {
  std::string text;
  for (int i = 0; i < threads; ++i) {
    text += fmt::format(
        "processor\t: {}\nvendor_id\t: {}\nmodel name\t: {}\nphysical id\t: 0\nsiblings\t: {}\ncore id\t\t: {}\n"
        "cpu cores\t: {}\nflags\t\t: {}\n\n",
        i, vendor, model, threads, i % cores, cores, flags);
  }
  write("/proc/cpuinfo", text);
}

void FixtureTree::cpuinfo_arm(uint32_t implementer, int cpus, std::string_view features) const {
  std::string text;
  for (int i = 0; i < cpus; ++i) {
    text += fmt::format(
        "processor\t: {}\nBogoMIPS\t: 48.00\nFeatures\t: {}\nCPU implementer\t: 0x{:02x}\nCPU architecture: 8\n"
        "CPU variant\t: 0x0\nCPU part\t: 0x000\nCPU revision\t: 0\n\n",
        i, features, implementer);
  }
  write("/proc/cpuinfo", text);
}

void FixtureTree::meminfo(uint64_t total_bytes, uint64_t available_bytes) const {
  write("/proc/meminfo",
        fmt::format("MemTotal:       {} kB\nMemFree:        {} kB\nMemAvailable:   {} kB\nBuffers:          123456 kB\n"
                    "SwapTotal:      8388604 kB\nSwapFree:       8388604 kB\nHugePages_Total:       0\n"
                    "HugePages_Free:        0\nHugepagesize:       2048 kB\n",
                    total_bytes / kKiB, available_bytes / kKiB / 2, available_bytes / kKiB));
  write("/sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n");
}

void FixtureTree::limits(std::string_view soft, std::string_view hard) const {
  write("/proc/self/limits",
        fmt::format("Limit                     Soft Limit           Hard Limit           Units     \n"
                    "Max cpu time              unlimited            unlimited            seconds   \n"
                    "Max open files            1024                 1048576              files     \n"
                    "Max locked memory         {:<20} {:<20} bytes     \n"
                    "Max address space         unlimited            unlimited            bytes     \n",
                    soft, hard));
}

void FixtureTree::status(uint32_t euid, uint32_t egid, const std::vector<uint32_t>& groups, uint64_t cap_eff) const {
  std::string g;
  for (uint32_t x : groups) g += fmt::format("{} ", x);
  write("/proc/self/status",
        fmt::format("Name:\tlaneway\nUmask:\t0022\nState:\tR (running)\nUid:\t{0}\t{0}\t{0}\t{0}\nGid:\t{1}\t{1}\t{1}\t{1}\n"
                    "Groups:\t{2}\nCapInh:\t0000000000000000\nCapPrm:\t{3:016x}\nCapEff:\t{3:016x}\n"
                    "CapBnd:\t000001ffffffffff\n",
                    euid, egid, g, cap_eff));
}

void FixtureTree::drm_card(const Card& c) const {
  const std::string dev = fmt::format("/sys/class/drm/card{}/device", c.index);
  write(dev + "/vendor", fmt::format("0x{:04x}\n", c.vendor));
  write(dev + "/device", fmt::format("0x{:04x}\n", c.device));
  std::string uevent = fmt::format("DRIVER={}\n", c.driver);
  if (!c.pci_slot.empty()) uevent += fmt::format("PCI_ID={:04X}:{:04X}\nPCI_SLOT_NAME={}\n", c.vendor, c.device, c.pci_slot);
  write(dev + "/uevent", uevent);
  mkdir(fmt::format("{}/drm/card{}", dev, c.index));
  // Connectors sit beside cards and must be skipped.
  mkdir(fmt::format("/sys/class/drm/card{}-DP-1", c.index));
  if (c.render_minor > 0) {
    mkdir(fmt::format("{}/drm/renderD{}", dev, c.render_minor));
    mkdir(fmt::format("/sys/class/drm/renderD{}", c.render_minor));
  }
  if (c.vram_total > 0) {
    write(dev + "/mem_info_vram_total", fmt::format("{}\n", c.vram_total));
    write(dev + "/mem_info_vram_used", fmt::format("{}\n", c.vram_used));
    write(dev + "/mem_info_vis_vram_total", fmt::format("{}\n", c.vram_total));
    write(dev + "/mem_info_gtt_total", fmt::format("{}\n", c.gtt_total));
    write(dev + "/mem_info_gtt_used", fmt::format("{}\n", c.gtt_used));
  }
}

void FixtureTree::device_node(std::string_view machine_path, unsigned mode) const {
  write(machine_path, "");
  std::filesystem::permissions(root_ / std::filesystem::path(machine_path).relative_path(),
                               std::filesystem::perms(mode), std::filesystem::perm_options::replace);
}

uint32_t FixtureTree::node_gid() const {
  struct stat st {};
  ::stat(root_.c_str(), &st);
  return st.st_gid;
}

uint32_t FixtureTree::node_uid() const {
  struct stat st {};
  ::stat(root_.c_str(), &st);
  return st.st_uid;
}

void FixtureTree::group(std::string_view name, uint32_t gid) const {
  // The named group first: the runner's gid may be 0 and must not resolve to "root".
  write("/etc/group", fmt::format("{}:x:{}:\nvideo:x:{}:\n", name, gid, gid == 44 ? 45 : 44));
}

void FixtureTree::dmi(std::string_view bios_vendor, std::string_view bios_version, std::string_view bios_date,
                      std::string_view sys_vendor, std::string_view product) const {
  write("/sys/class/dmi/id/bios_vendor", fmt::format("{}\n", bios_vendor));
  write("/sys/class/dmi/id/bios_version", fmt::format("{}\n", bios_version));
  write("/sys/class/dmi/id/bios_date", fmt::format("{}\n", bios_date));
  write("/sys/class/dmi/id/sys_vendor", fmt::format("{}\n", sys_vendor));
  write("/sys/class/dmi/id/product_name", fmt::format("{}\n", product));
}

void FixtureTree::kernel(std::string_view release, std::string_view pretty_name) const {
  write("/proc/sys/kernel/osrelease", fmt::format("{}\n", release));
  write("/etc/os-release", fmt::format("NAME=\"x\"\nPRETTY_NAME=\"{}\"\nID=x\n", pretty_name));
}

void FixtureTree::cgroup_v2_host() const {
  write("/proc/self/cgroup", "0::/user.slice/user-1000.slice/session-2.scope\n");
  write("/proc/self/mountinfo",
        "22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
        "30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n");
  write("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
  write("/sys/fs/cgroup/user.slice/memory.max", "max\n");
  write("/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/memory.max", "max\n");
  write("/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope/memory.current", "1073741824\n");
  write("/sys/fs/cgroup/user.slice/cpu.max", "max 100000\n");
}

VulkanDeviceInfo lavapipe_device(uint32_t index) {
  VulkanDeviceInfo d;
  d.index = index;
  d.name = "llvmpipe (LLVM 15.0.6, 256 bits)";
  d.vendor_id = 0x10005;
  d.device_id = 0;
  d.type = VulkanDeviceType::cpu;
  d.api_version = api(1, 3, 230);
  d.driver_version = api(0, 0, 1);
  d.driver_id = 13;
  d.driver_name = "llvmpipe";
  d.driver_info = "Mesa 22.3.6 (LLVM 15.0.6)";
  d.heaps = {{2 * kGiB, true, std::nullopt, std::nullopt}};
  return d;
}

Machine make_strix_halo(const std::filesystem::path& dir) {
  FixtureTree t(dir);
  t.cpuinfo_x86("AMD RYZEN AI MAX+ 395 w/ Radeon 8060S", "AuthenticAMD", 16, 32, kZen4Flags);
  // 128 GiB less the 512 MiB carve-out and firmware reservations.
  t.meminfo(126 * kGiB, 119 * kGiB);
  t.limits("unlimited", "unlimited");
  desktop_user_with_render(t);
  t.drm_card({.index = 1, .vendor = 0x1002, .device = 0x1586, .driver = "amdgpu", .pci_slot = "0000:c5:00.0",
              .vram_total = 512 * kMiB, .vram_used = 96 * kMiB, .gtt_total = 110 * kGiB, .gtt_used = 256 * kMiB,
              .render_minor = 128});
  t.device_node("/dev/dri/card1", 0660);
  t.device_node("/dev/dri/renderD128", 0660);
  t.device_node("/dev/kfd", 0660);
  t.dmi("American Megatrends International, LLC.", "1.05", "03/12/2025", "Framework",
        "Desktop (AMD Ryzen AI Max 300 Series)");
  t.kernel("6.14.0-29-generic", "Ubuntu 24.04.3 LTS");
  t.cgroup_v2_host();

  VulkanDeviceInfo d;
  d.name = "AMD Radeon 8060S Graphics (RADV GFX1151)";
  d.vendor_id = 0x1002;
  d.device_id = 0x1586;
  d.type = VulkanDeviceType::integrated_gpu;
  d.api_version = api(1, 4, 305);
  d.driver_version = api(25, 0, 7);
  d.driver_id = 3;
  d.driver_name = "radv";
  d.driver_info = "Mesa 25.0.7-0ubuntu0.24.04.1";
  d.pci_slot = "0000:c5:00.0";
  d.memory_budget = true;
  // RADV on an APU reports VRAM + GTT split 2:1 over two heaps, so no single
  // heap tells the real limit.
  const uint64_t all = 512 * kMiB + 110 * kGiB;
  d.heaps = {{all * 2 / 3, true, all * 2 / 3 - kGiB, 0}, {all / 3, false, all / 3 - kGiB, 0}};
  return {"strix-halo", dir, {api(1, 4, 304), "recorded", {d}}};
}

Machine make_ryzen_vega8_laptop(const std::filesystem::path& dir) {
  FixtureTree t(dir);
  t.cpuinfo_x86("AMD Ryzen 7 5800U with Radeon Graphics", "AuthenticAMD", 8, 16, kZen3Flags);
  t.meminfo(15 * kGiB, 11 * kGiB);
  t.limits("8388608", "8388608");
  // The user is not in group render: the node exists but cannot be opened.
  t.group("render", t.node_gid());
  t.status(t.node_uid() + 4242, 1000, {4, 24, 27}, 0);
  t.drm_card({.index = 0, .vendor = 0x1002, .device = 0x1638, .driver = "amdgpu", .pci_slot = "0000:04:00.0",
              .vram_total = 512 * kMiB, .vram_used = 180 * kMiB, .gtt_total = 7680 * kMiB, .gtt_used = 300 * kMiB,
              .render_minor = 128});
  t.device_node("/dev/dri/card0", 0660);
  t.device_node("/dev/dri/renderD128", 0660);
  t.dmi("LENOVO", "HZCN33WW", "06/15/2022", "LENOVO", "82L5");
  t.kernel("6.8.0-45-generic", "Ubuntu 24.04.1 LTS");
  t.cgroup_v2_host();

  VulkanDeviceInfo d;
  d.name = "AMD Radeon Graphics (RADV RENOIR)";
  d.vendor_id = 0x1002;
  d.device_id = 0x1638;
  d.type = VulkanDeviceType::integrated_gpu;
  d.api_version = api(1, 3, 274);
  d.driver_id = 3;
  d.driver_name = "radv";
  d.driver_info = "Mesa 24.0.9-0ubuntu0.1";
  d.pci_slot = "0000:04:00.0";
  d.memory_budget = true;
  const uint64_t all = 512 * kMiB + 7680 * kMiB;
  d.heaps = {{all * 2 / 3, true, all * 2 / 3, 0}, {all / 3, false, all / 3, 0}};
  return {"ryzen-vega8", dir, {api(1, 3, 275), "recorded", {d}}};
}

Machine make_discrete_amd(const std::filesystem::path& dir) {
  FixtureTree t(dir);
  t.cpuinfo_x86("AMD Ryzen 9 5950X 16-Core Processor", "AuthenticAMD", 16, 32, kZen3Flags);
  t.meminfo(62 * kGiB, 55 * kGiB);
  t.limits("unlimited", "unlimited");
  desktop_user_with_render(t);
  t.drm_card({.index = 0, .vendor = 0x1002, .device = 0x744c, .driver = "amdgpu", .pci_slot = "0000:03:00.0",
              .vram_total = 24 * kGiB, .vram_used = 1 * kGiB, .gtt_total = 31 * kGiB, .gtt_used = 40 * kMiB,
              .render_minor = 128});
  t.device_node("/dev/dri/card0", 0660);
  t.device_node("/dev/dri/renderD128", 0660);
  t.device_node("/dev/kfd", 0660);
  t.dmi("American Megatrends Inc.", "4201", "07/02/2024", "ASUS", "System Product Name");
  t.kernel("6.11.0-1-amd64", "Debian GNU/Linux 13 (trixie)");
  t.cgroup_v2_host();

  VulkanDeviceInfo d;
  d.name = "AMD Radeon RX 7900 XTX (RADV NAVI31)";
  d.vendor_id = 0x1002;
  d.device_id = 0x744c;
  d.type = VulkanDeviceType::discrete_gpu;
  d.api_version = api(1, 4, 305);
  d.driver_id = 3;
  d.driver_name = "radv";
  d.driver_info = "Mesa 25.0.4-1";
  d.pci_slot = "0000:03:00.0";
  d.memory_budget = true;
  d.heaps = {{24 * kGiB, true, 23 * kGiB, 1 * kGiB}, {31 * kGiB, false, 30 * kGiB, 0}};
  return {"discrete-amd", dir, {api(1, 4, 304), "recorded", {d}}};
}

Machine make_nvidia(const std::filesystem::path& dir) {
  FixtureTree t(dir);
  t.cpuinfo_x86("13th Gen Intel(R) Core(TM) i9-13900K", "GenuineIntel", 24, 32, kRaptorLakeFlags);
  t.meminfo(62 * kGiB, 50 * kGiB);
  t.limits("8388608", "8388608");
  desktop_user_with_render(t);
  // nvidia-drm: a card and render node, no amdgpu counters, no PCI slot link.
  t.drm_card({.index = 0, .vendor = 0x10de, .device = 0x2684, .driver = "nvidia", .pci_slot = "0000:01:00.0",
              .render_minor = 128});
  t.device_node("/dev/dri/card0", 0660);
  t.device_node("/dev/dri/renderD128", 0666);
  t.dmi("American Megatrends International, LLC.", "2.10", "11/20/2023", "Micro-Star International Co., Ltd.",
        "MS-7D91");
  t.kernel("6.8.0-49-generic", "Ubuntu 22.04.5 LTS");
  t.cgroup_v2_host();

  VulkanDeviceInfo d;
  d.name = "NVIDIA GeForce RTX 4090";
  d.vendor_id = 0x10de;
  d.device_id = 0x2684;
  d.type = VulkanDeviceType::discrete_gpu;
  d.api_version = api(1, 3, 277);
  d.driver_version = 0x89e00000;
  d.driver_id = 4;
  d.driver_name = "NVIDIA";
  d.driver_info = "550.120";
  d.pci_slot = "0000:01:00.0";
  d.memory_budget = true;
  d.heaps = {{24 * kGiB, true, 23 * kGiB, 300 * kMiB},
             {31 * kGiB, false, 31 * kGiB, 0},
             {246 * kMiB, true, 240 * kMiB, 0}};
  return {"nvidia", dir, {api(1, 3, 277), "recorded", {d}}};
}

Machine make_venus_vm(const std::filesystem::path& dir) {
  FixtureTree t(dir);
  t.cpuinfo_arm(0x61, 8,
                "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc "
                "dcpop sha3 asimddp sha512 asimdfhm dit uscat ilrcpc flagm sb paca pacg dcpodp flagm2 frint");
  t.meminfo(31 * kGiB, 28 * kGiB);
  t.limits("8388608", "8388608");
  // Podman runs the container as root inside the microVM.
  t.status(0, 0, {0}, 0x00000000a80425fbull);
  t.group("render", t.node_gid());
  t.write("/run/.containerenv", "engine=\"podman-5.2.0\"\nname=\"laneway\"\n");
  t.write("/proc/self/cgroup", "0::/\n");
  t.write("/proc/self/mountinfo", "30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n");
  t.write("/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
  // virtio-gpu: a virtio device, not PCI.
  t.drm_card({.index = 0, .vendor = 0x1af4, .device = 0x0010, .driver = "virtio_gpu", .render_minor = 128});
  t.device_node("/dev/dri/card0", 0660);
  t.device_node("/dev/dri/renderD128", 0666);
  t.kernel("6.12.13", "Fedora Linux 41 (Container Image)");

  VulkanDeviceInfo d;
  d.name = "Virtio-GPU Venus (Apple M2 Max)";
  d.vendor_id = 0x106b;
  d.device_id = 0xe0;
  d.type = VulkanDeviceType::integrated_gpu;
  d.api_version = api(1, 2, 296);
  d.driver_id = 22;
  d.driver_name = "venus";
  d.driver_info = "Mesa 25.0.0";
  d.heaps = {{32 * kGiB, true, std::nullopt, std::nullopt}};
  return {"venus-vm", dir, {api(1, 3, 296), "recorded", {d}}};
}

Machine make_container_v2(const std::filesystem::path& dir) {
  FixtureTree t(dir);
  t.cpuinfo_x86("AMD EPYC 9454 48-Core Processor", "AuthenticAMD", 48, 96, kZen4Flags);
  t.meminfo(251 * kGiB, 200 * kGiB);
  t.limits("8388608", "8388608");
  t.status(0, 0, {0}, 0x00000000a80425fbull);
  t.write("/.dockerenv", "");
  // The process sits in a child group of its container's group; the parent
  // (the container) holds the binding limit, the child a looser one.
  t.write("/proc/self/cgroup", "0::/system.slice/docker-3f2a9c.scope/laneway\n");
  t.write("/proc/self/mountinfo", "30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
  t.write("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
  t.write("/sys/fs/cgroup/system.slice/memory.max", "max\n");
  t.write("/sys/fs/cgroup/system.slice/cpu.max", "max 100000\n");
  t.write("/sys/fs/cgroup/system.slice/docker-3f2a9c.scope/memory.max", fmt::format("{}\n", 8 * kGiB));
  t.write("/sys/fs/cgroup/system.slice/docker-3f2a9c.scope/cpu.max", "150000 100000\n");
  t.write("/sys/fs/cgroup/system.slice/docker-3f2a9c.scope/laneway/memory.max", fmt::format("{}\n", 12 * kGiB));
  t.write("/sys/fs/cgroup/system.slice/docker-3f2a9c.scope/laneway/memory.current", fmt::format("{}\n", kGiB));
  t.write("/sys/fs/cgroup/system.slice/docker-3f2a9c.scope/laneway/cpu.max", "max 100000\n");
  t.kernel("6.1.0-26-amd64", "Debian GNU/Linux 12 (bookworm)");
  return {"container-v2", dir, {api(1, 3, 239), "recorded", {lavapipe_device(0)}}};
}

Machine make_container_v1(const std::filesystem::path& dir) {
  FixtureTree t(dir);
  t.cpuinfo_x86("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", "GenuineIntel", 32, 64,
                "fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni");
  t.meminfo(503 * kGiB, 400 * kGiB);
  t.limits("65536", "65536");
  t.status(0, 0, {0}, 0x00000000a80425fbull);
  t.write("/.dockerenv", "");
  // A hybrid host: v1 controllers plus the empty v2 "unified" hierarchy.
  t.write("/proc/self/cgroup",
          "12:memory:/docker/5e1d77/inner\n"
          "4:cpu,cpuacct:/docker/5e1d77\n"
          "1:name=systemd:/docker/5e1d77\n"
          "0::/docker/5e1d77\n");
  t.write("/proc/self/mountinfo",
          "31 23 0:28 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
          "32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
          "33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd\n"
          "34 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
          "35 31 0:32 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n");
  const std::string unlimited = "9223372036854771712\n";
  t.write("/sys/fs/cgroup/memory/memory.limit_in_bytes", unlimited);
  t.write("/sys/fs/cgroup/memory/docker/memory.limit_in_bytes", unlimited);
  t.write("/sys/fs/cgroup/memory/docker/5e1d77/memory.limit_in_bytes", fmt::format("{}\n", 4 * kGiB));
  t.write("/sys/fs/cgroup/memory/docker/5e1d77/inner/memory.limit_in_bytes", unlimited);
  t.write("/sys/fs/cgroup/memory/docker/5e1d77/inner/memory.usage_in_bytes", fmt::format("{}\n", 512 * kMiB));
  t.write("/sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_quota_us", "-1\n");
  t.write("/sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_period_us", "100000\n");
  t.write("/sys/fs/cgroup/cpu,cpuacct/docker/5e1d77/cpu.cfs_quota_us", "300000\n");
  t.write("/sys/fs/cgroup/cpu,cpuacct/docker/5e1d77/cpu.cfs_period_us", "100000\n");
  t.mkdir("/sys/fs/cgroup/unified/docker/5e1d77");
  t.write("/sys/fs/cgroup/unified/cgroup.controllers", "");
  t.kernel("5.15.0-122-generic", "Ubuntu 22.04.5 LTS");
  return {"container-v1", dir, {api(1, 3, 239), "recorded", {lavapipe_device(0)}}};
}

Machine make_memlock_64k(const std::filesystem::path& dir) {
  FixtureTree t(dir);
  t.cpuinfo_x86("AMD Ryzen 7 7840HS w/ Radeon 780M Graphics", "AuthenticAMD", 8, 16, kZen4Flags);
  t.meminfo(30 * kGiB, 24 * kGiB);
  t.limits("65536", "65536");
  t.status(t.node_uid() + 4242, 1000, {1000}, 0);  // no CAP_IPC_LOCK
  t.kernel("6.10.14-linuxkit", "Alpine Linux v3.20");
  t.cgroup_v2_host();
  return {"memlock-64k", dir, {}};
}

std::filesystem::path write_vulkan_json(const Machine& m, const std::filesystem::path& file) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file) << vulkan_report_to_json(m.vulkan).dump(2);
  return file;
}

}  // namespace laneway::hw::fixtures
