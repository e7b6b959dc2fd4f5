// The probe and doctor on fixture trees of the machines Laneway is built for.
#include <algorithm>

#include <gtest/gtest.h>

#include "hw/doctor.h"
#include "hw/probe.h"
#include "support/testdata.h"
#include "unit/hw/machine_fixtures.h"

namespace laneway::hw {
namespace {

using fixtures::kGiB;
using fixtures::kKiB;
using fixtures::kMiB;
using fixtures::Machine;

struct Probed {
  HardwareInventory inv;
  std::vector<Finding> findings;
};

Probed probe(const Machine& m, bool with_vulkan = true) {
  RecordedVulkanEnumerator vulkan(m.vulkan);
  ProbeOptions options;
  options.root = m.root;
  options.vulkan = with_vulkan ? &vulkan : nullptr;
  auto r = probe_hardware(options);
  EXPECT_TRUE(r.is_ok()) << r.status().to_string();
  Probed p{std::move(r).value(), {}};
  p.findings = diagnose(p.inv);
  return p;
}

// Findings of `topic`, all verdicts.
std::vector<Finding> on(const Probed& p, std::string_view topic) {
  std::vector<Finding> out;
  std::copy_if(p.findings.begin(), p.findings.end(), std::back_inserter(out),
               [&](const Finding& f) { return f.topic == topic; });
  return out;
}

const Finding& one(const Probed& p, std::string_view topic) {
  static const Finding none{"(none)", Verdict::ok, "(no finding)", ""};
  auto it = std::find_if(p.findings.begin(), p.findings.end(), [&](const Finding& f) { return f.topic == topic; });
  EXPECT_NE(it, p.findings.end()) << "no finding for " << topic;
  return it == p.findings.end() ? none : *it;
}

bool has(const std::string& s, std::string_view needle) { return s.find(needle) != std::string::npos; }

TEST(Machines, EveryFindingHasAFix) {
  const auto dir = test::scratch_dir("machines_all");
  for (const Machine& m : {fixtures::make_strix_halo(dir / "a"), fixtures::make_ryzen_vega8_laptop(dir / "b"),
                           fixtures::make_discrete_amd(dir / "c"), fixtures::make_nvidia(dir / "d"),
                           fixtures::make_venus_vm(dir / "e"), fixtures::make_container_v2(dir / "f"),
                           fixtures::make_container_v1(dir / "g"), fixtures::make_memlock_64k(dir / "h")}) {
    Probed p = probe(m);
    for (const Finding& f : p.findings) {
      EXPECT_FALSE(f.fix.empty()) << m.name << " " << f.topic;
      EXPECT_FALSE(f.summary.empty()) << m.name << " " << f.topic;
    }
    ASSERT_FALSE(p.inv.pools.empty()) << m.name;
    EXPECT_EQ(p.inv.pools[0].id, "cpu");
  }
}

TEST(Machines, StrixHaloApu) {
  Probed p = probe(fixtures::make_strix_halo(test::scratch_dir("strix_halo")));
  const HardwareInventory& inv = p.inv;
  EXPECT_EQ(inv.cpu.physical_cores, 16);
  EXPECT_EQ(inv.cpu.logical_cores, 32);
  EXPECT_TRUE(inv.cpu.features.avx512vnni && inv.cpu.features.avx512bf16);
  ASSERT_EQ(inv.drm_cards.size(), 1u);
  const DrmCard& card = inv.drm_cards[0];
  EXPECT_EQ(card.name, "card1");
  EXPECT_TRUE(card.unified_memory);
  EXPECT_NE(card.apu_family.find("Strix Halo"), std::string::npos);

  // Usable GPU memory is VRAM + GTT from sysfs, not RADV's 2:1 heap split.
  const MemoryPool* gpu = inv.pool("gpu0");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->kind, MemoryPoolKind::unified);
  EXPECT_TRUE(gpu->shares_system_ram);
  EXPECT_EQ(gpu->total_bytes, 512 * kMiB + 110 * kGiB);
  EXPECT_EQ(gpu->usable_bytes, (512 - 96) * kMiB + 110 * kGiB - 256 * kMiB);
  EXPECT_TRUE(has(gpu->usable_reason, "GTT"));
  const MemoryPool* cpu = inv.pool("cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->usable_bytes, 119 * kGiB);

  const Finding& apu = one(p, "apu_memory");
  EXPECT_EQ(apu.verdict, Verdict::ok);  // 110 of 126 GiB is already most of RAM
  EXPECT_TRUE(has(apu.summary, "512 MiB VRAM + 110 GiB GTT usable")) << apu.summary;
  EXPECT_TRUE(has(apu.fix, "ttm.pages_limit")) << apu.fix;
  EXPECT_TRUE(has(one(p, "vulkan").summary, "RADV, Mesa 25.0.7")) << one(p, "vulkan").summary;
  EXPECT_EQ(one(p, "gpu_nodes").verdict, Verdict::ok);
  EXPECT_EQ(one(p, "memlock").verdict, Verdict::ok);
  const Finding& bios = one(p, "bios");
  EXPECT_TRUE(has(bios.summary, "2025-03-12")) << bios.summary;
  EXPECT_TRUE(has(bios.summary, "AGESA version inside it cannot be read from Linux")) << bios.summary;
  EXPECT_EQ(count_verdicts(p.findings).bad, 0);
}

TEST(Machines, RyzenVega8Laptop) {
  Probed p = probe(fixtures::make_ryzen_vega8_laptop(test::scratch_dir("vega8")));
  EXPECT_TRUE(p.inv.cpu.features.avx2);
  EXPECT_FALSE(p.inv.cpu.features.avx512f);
  const Finding& apu = one(p, "apu_memory");
  EXPECT_EQ(apu.verdict, Verdict::warn);  // 7.5 of 15 GiB: half the RAM is out of the GPU's reach
  EXPECT_TRUE(has(apu.summary, "512 MiB VRAM + 7.5 GiB GTT")) << apu.summary;
  // Leaves max(4 GiB, 10%) = 4 GiB of 15: 11 GiB = 11 * 262144 pages.
  EXPECT_TRUE(has(apu.fix, "ttm.pages_limit=2883584 for 11 GiB")) << apu.fix;
  // The user is not in group render.
  const Finding& node = one(p, "gpu_nodes");
  EXPECT_EQ(node.verdict, Verdict::bad);
  EXPECT_TRUE(has(node.summary, "cannot open /dev/dri/renderD128")) << node.summary;
  EXPECT_TRUE(has(node.fix, "usermod -aG render")) << node.fix;
  EXPECT_EQ(one(p, "memlock").verdict, Verdict::warn);  // 8 MiB
  const MemoryPool* gpu = p.inv.pool("gpu0");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->kind, MemoryPoolKind::unified);
  EXPECT_EQ(gpu->total_bytes, 512 * kMiB + 7680 * kMiB);
}

TEST(Machines, DiscreteAmd) {
  Probed p = probe(fixtures::make_discrete_amd(test::scratch_dir("discrete_amd")));
  ASSERT_EQ(p.inv.drm_cards.size(), 1u);
  EXPECT_FALSE(p.inv.drm_cards[0].unified_memory);
  EXPECT_TRUE(on(p, "apu_memory").empty());
  EXPECT_TRUE(has(one(p, "amdgpu_memory").summary, "24 GiB VRAM"));
  const MemoryPool* gpu = p.inv.pool("gpu0");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->kind, MemoryPoolKind::device_vram);
  EXPECT_FALSE(gpu->shares_system_ram);
  EXPECT_EQ(gpu->total_bytes, 24 * kGiB);
  EXPECT_EQ(gpu->usable_bytes, 22 * kGiB);  // budget 23 GiB - usage 1 GiB
  EXPECT_TRUE(has(gpu->usable_reason, "VK_EXT_memory_budget"));
  EXPECT_TRUE(has(one(p, "kfd").summary, "/dev/kfd present"));
  EXPECT_EQ(count_verdicts(p.findings).bad, 0);
}

TEST(Machines, Nvidia) {
  Probed p = probe(fixtures::make_nvidia(test::scratch_dir("nvidia")));
  EXPECT_TRUE(p.inv.cpu.features.avx_vnni);
  EXPECT_FALSE(p.inv.cpu.features.avx512f);
  ASSERT_EQ(p.inv.drm_cards.size(), 1u);
  EXPECT_EQ(p.inv.drm_cards[0].driver, "nvidia");
  EXPECT_FALSE(p.inv.drm_cards[0].vram_total_bytes);
  const MemoryPool* gpu = p.inv.pool("gpu0");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->kind, MemoryPoolKind::device_vram);
  EXPECT_EQ(gpu->total_bytes, 24 * kGiB);  // the big device-local heap, not the 246 MiB BAR heap
  EXPECT_EQ(gpu->usable_bytes, 23 * kGiB - 300 * kMiB);
  EXPECT_TRUE(has(one(p, "vulkan").summary, "NVIDIA GeForce RTX 4090 (discrete_gpu, NVIDIA 550.120"));
  EXPECT_TRUE(on(p, "kfd").empty());
  EXPECT_TRUE(on(p, "apu_memory").empty());
}

TEST(Machines, VenusVmOnAMac) {
  Probed p = probe(fixtures::make_venus_vm(test::scratch_dir("venus")));
  EXPECT_EQ(p.inv.cpu.arch, "aarch64");
  EXPECT_EQ(p.inv.cpu.vendor, "Apple");
  EXPECT_TRUE(p.inv.cpu.features.dotprod);
  EXPECT_TRUE(p.inv.container.in_container);
  EXPECT_EQ(p.inv.container.runtime, "podman");
  const MemoryPool* gpu = p.inv.pool("gpu0");
  ASSERT_NE(gpu, nullptr);
  EXPECT_EQ(gpu->total_bytes, 32 * kGiB);
  EXPECT_EQ(gpu->usable_bytes, 24 * kGiB);  // 75%
  EXPECT_TRUE(has(gpu->usable_reason, "75%"));
  EXPECT_TRUE(has(gpu->usable_reason, "Metal"));
  const Finding& venus = one(p, "venus");
  EXPECT_TRUE(has(venus.summary, "24 GiB of the 32 GiB heap usable")) << venus.summary;
  EXPECT_TRUE(has(venus.fix, "podman machine"));
  EXPECT_TRUE(has(one(p, "vulkan").summary, "Venus (virtio-gpu), Mesa 25.0.0"));
  EXPECT_TRUE(has(one(p, "bios").summary, "BIOS unknown"));
  EXPECT_EQ(count_verdicts(p.findings).bad, 0);
}

TEST(Machines, CgroupV2ContainerWithoutDri) {
  Probed p = probe(fixtures::make_container_v2(test::scratch_dir("container_v2")));
  EXPECT_TRUE(p.inv.container.in_container);
  EXPECT_EQ(p.inv.container.runtime, "docker");
  EXPECT_EQ(p.inv.effective_ram_bytes(), 8 * kGiB);
  EXPECT_EQ(p.inv.effective_cores(), 1);  // 1.5 cores rounds down
  const MemoryPool* cpu = p.inv.pool("cpu");
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(cpu->total_bytes, 8 * kGiB);
  EXPECT_EQ(cpu->usable_bytes, 7 * kGiB);  // 8 GiB limit - 1 GiB in use
  EXPECT_TRUE(has(cpu->usable_reason, "cgroup limit 8 GiB"));
  EXPECT_EQ(p.inv.pools.size(), 1u);  // lavapipe is not a GPU

  // A server CPU, no DRM card, no /dev/dri: no sign of a GPU, so no container advice.
  const Finding& nodes = one(p, "gpu_nodes");
  EXPECT_EQ(nodes.verdict, Verdict::ok);
  EXPECT_TRUE(has(nodes.summary, "no GPU found (no /dev/dri): Laneway runs on the CPU")) << nodes.summary;
  EXPECT_EQ(nodes.fix, "nothing to do");
  const Finding& vk = one(p, "vulkan");
  EXPECT_TRUE(has(vk.fix, "nothing to fix if this machine has no GPU")) << vk.fix;
  EXPECT_EQ(vk.verdict, Verdict::warn);
  EXPECT_TRUE(has(vk.summary, "llvmpipe (software): Vulkan would be slower than CPU")) << vk.summary;
  EXPECT_EQ(one(p, "cgroup_memory").verdict, Verdict::warn);
  EXPECT_TRUE(has(one(p, "cgroup_memory").summary, "8 GiB of 251 GiB RAM"));
  EXPECT_EQ(one(p, "cpu_quota").verdict, Verdict::warn);
}

TEST(Machines, CgroupV1ContainerWithoutDri) {
  Probed p = probe(fixtures::make_container_v1(test::scratch_dir("container_v1")));
  EXPECT_EQ(p.inv.effective_ram_bytes(), 4 * kGiB);
  EXPECT_EQ(p.inv.effective_cores(), 3);
  EXPECT_EQ(p.inv.pool("cpu")->usable_bytes, 4 * kGiB - 512 * kMiB);
  EXPECT_EQ(one(p, "gpu_nodes").verdict, Verdict::ok);  // no sign of a GPU
  // Root in the container, but CapEff lacks CAP_IPC_LOCK and memlock is 64 KiB.
  EXPECT_EQ(one(p, "memlock").verdict, Verdict::warn);
  // Three hierarchies share /docker/5e1d77: the evidence names it once.
  EXPECT_EQ(p.inv.container.evidence,
            (std::vector<std::string>{"/.dockerenv exists", "cgroup path /docker/5e1d77/inner", "cgroup path /docker/5e1d77"}));
}

// The same container on an APU: the GPU is there but not passed in.
TEST(Machines, ContainerOnAnApuWithoutDri) {
  auto m = fixtures::make_container_v2(test::scratch_dir("container_apu"));
  fixtures::FixtureTree(m.root).cpuinfo_x86("AMD Ryzen 7 5800U with Radeon Graphics", "AuthenticAMD", 8, 16, "fpu sse2 avx2");
  Probed p = probe(m);
  const Finding& nodes = one(p, "gpu_nodes");
  EXPECT_EQ(nodes.verdict, Verdict::bad);
  EXPECT_TRUE(has(nodes.summary, "no /dev/dri in this container, but the CPU (AMD Ryzen 7 5800U with Radeon Graphics) "
                                 "has an integrated GPU"))
      << nodes.summary;
  EXPECT_EQ(nodes.fix, "run with --device /dev/dri --group-add render");
  EXPECT_TRUE(has(one(p, "vulkan").fix, "pass the GPU into the container")) << one(p, "vulkan").fix;
}

TEST(Machines, Memlock64KiB) {
  Probed p = probe(fixtures::make_memlock_64k(test::scratch_dir("memlock")));
  EXPECT_EQ(p.inv.limits.memlock_soft_bytes, 64 * kKiB);
  EXPECT_EQ(p.inv.limits.cap_ipc_lock(), false);
  const Finding& f = one(p, "memlock");
  EXPECT_EQ(f.verdict, Verdict::warn);
  EXPECT_TRUE(has(f.summary, "memlock limit 64 KiB and no CAP_IPC_LOCK")) << f.summary;
  EXPECT_TRUE(has(f.fix, "--ulimit memlock=-1 or --cap-add IPC_LOCK to pin weights")) << f.fix;
  // No Vulkan report and no /dev/dri on a host: CPU only, a warning not a failure.
  EXPECT_EQ(one(p, "gpu_nodes").verdict, Verdict::warn);
}

TEST(Machines, CapIpcLockOverridesMemlock) {
  auto m = fixtures::make_memlock_64k(test::scratch_dir("memlock_cap"));
  fixtures::FixtureTree(m.root).status(0, 0, {0}, 0x4000);
  Probed p = probe(m);
  EXPECT_EQ(one(p, "memlock").verdict, Verdict::ok);
  EXPECT_TRUE(has(one(p, "memlock").summary, "CAP_IPC_LOCK"));
}

TEST(Machines, VulkanNotProbedOrMissingLoader) {
  auto m = fixtures::make_strix_halo(test::scratch_dir("no_vulkan"));
  Probed p = probe(m, /*with_vulkan=*/false);
  EXPECT_FALSE(p.inv.vulkan_probed);
  EXPECT_EQ(p.inv.pools.size(), 1u);
  EXPECT_EQ(one(p, "vulkan").verdict, Verdict::ok);

  RecordedVulkanEnumerator missing(not_found_error("cannot load the Vulkan loader libvulkan.so.1: not found"));
  ProbeOptions o;
  o.root = m.root;
  o.vulkan = &missing;
  auto r = probe_hardware(o);
  ASSERT_TRUE(r.is_ok());
  auto findings = diagnose(*r);
  auto it = std::find_if(findings.begin(), findings.end(), [](const Finding& f) { return f.topic == "vulkan"; });
  ASSERT_NE(it, findings.end());
  EXPECT_EQ(it->verdict, Verdict::warn);
  EXPECT_TRUE(has(it->fix, "libvulkan1"));
}

TEST(Machines, RenderNodeButOnlyLavapipeMeansTheVulkanDriverIsMissing) {
  auto m = fixtures::make_strix_halo(test::scratch_dir("no_icd"));
  m.vulkan.devices = {fixtures::lavapipe_device(0)};
  Probed p = probe(m);
  const Finding& vk = one(p, "vulkan");
  EXPECT_EQ(vk.verdict, Verdict::warn);
  EXPECT_TRUE(has(vk.fix, "install mesa-vulkan-drivers")) << vk.fix;
  EXPECT_EQ(p.inv.pools.size(), 1u);
  EXPECT_EQ(one(p, "gpu_nodes").verdict, Verdict::ok);
}

TEST(Machines, BadRootIsAnError) {
  ProbeOptions o;
  o.root = test::scratch_dir("bad_root") / "does-not-exist";
  auto r = probe_hardware(o);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::invalid_argument);
}

TEST(Machines, EmptyRootReportsUnknownsWithoutFailing) {
  ProbeOptions o;
  o.root = test::scratch_dir("empty_root");
  auto r = probe_hardware(o);
  ASSERT_TRUE(r.is_ok());
  auto findings = diagnose(*r);
  auto cpu = std::find_if(findings.begin(), findings.end(), [](const Finding& f) { return f.topic == "cpu"; });
  ASSERT_NE(cpu, findings.end());
  EXPECT_EQ(cpu->verdict, Verdict::warn);
  EXPECT_EQ(r->pools.size(), 1u);
  EXPECT_EQ(r->pools[0].usable_bytes, 0u);
}

}  // namespace
}  // namespace laneway::hw
