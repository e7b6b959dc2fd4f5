// The probe's pure parsers on real file layouts.
#include <gtest/gtest.h>

#include "hw/cpu.h"
#include "hw/limits.h"
#include "hw/memory.h"
#include "hw/root_fs.h"
#include "hw/system.h"

namespace laneway::hw {
namespace {

TEST(CpuInfoParse, X86CountsCoresAndFeatures) {
  const char* text =
      "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD Ryzen 7 5800U\nphysical id\t: 0\ncore id\t\t: 0\n"
      "flags\t\t: fpu sse4_2 avx avx2 fma f16c hypervisor\n\n"
      "processor\t: 1\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD Ryzen 7 5800U\nphysical id\t: 0\ncore id\t\t: 0\n"
      "flags\t\t: fpu sse4_2 avx avx2 fma f16c hypervisor\n\n"
      "processor\t: 2\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD Ryzen 7 5800U\nphysical id\t: 0\ncore id\t\t: 1\n"
      "flags\t\t: fpu sse4_2 avx avx2 fma f16c hypervisor\n\n";
  CpuInfo c = parse_cpuinfo(text);
  EXPECT_EQ(c.arch, "x86_64");
  EXPECT_EQ(c.vendor, "AuthenticAMD");
  EXPECT_EQ(c.model_name, "AMD Ryzen 7 5800U");
  EXPECT_EQ(c.logical_cores, 3);
  EXPECT_EQ(c.physical_cores, 2);
  EXPECT_TRUE(c.features.avx2);
  EXPECT_TRUE(c.features.fma);
  EXPECT_FALSE(c.features.avx512f);
  EXPECT_TRUE(c.hypervisor);
  EXPECT_EQ(c.feature_names(), (std::vector<std::string>{"SSE4.2", "AVX", "AVX2", "FMA", "F16C"}));
}

TEST(CpuInfoParse, X86Avx512Family) {
  CpuInfo c = parse_cpuinfo("processor : 0\nflags : avx2 avx512f avx512bw avx512vl avx512_vnni avx512_bf16 avx_vnni\n");
  EXPECT_TRUE(c.features.avx512f && c.features.avx512bw && c.features.avx512vl);
  EXPECT_TRUE(c.features.avx512vnni && c.features.avx512bf16 && c.features.avx_vnni);
  EXPECT_EQ(c.physical_cores, 1);  // no core ids: logical
}

TEST(CpuInfoParse, ArmNeonDotprod) {
  const char* text =
      "processor\t: 0\nFeatures\t: fp asimd asimdhp asimddp i8mm\nCPU implementer\t: 0x61\n\n"
      "processor\t: 1\nFeatures\t: fp asimd asimdhp asimddp i8mm\nCPU implementer\t: 0x61\n\n";
  CpuInfo c = parse_cpuinfo(text);
  EXPECT_EQ(c.arch, "aarch64");
  EXPECT_EQ(c.vendor, "Apple");
  EXPECT_EQ(c.logical_cores, 2);
  EXPECT_TRUE(c.features.neon && c.features.dotprod && c.features.i8mm && c.features.fp16);
  EXPECT_FALSE(c.features.sve);
}

// AT_HWCAP / AT_HWCAP2 bits (Linux arm64 uapi <asm/hwcap.h>): ASIMD 1,
// ASIMDHP 10, ASIMDDP 20, SVE 22; HWCAP2_I8MM 13.
TEST(CpuHwcaps, AarchFeaturesComeFromTheHwcapWords) {
  CpuInfo c = parse_cpuinfo("processor\t: 0\nFeatures\t: fp asimd asimddp\nCPU implementer\t: 0x41\n");
  apply_aarch64_hwcaps({(1ull << 1) | (1ull << 10), 1ull << 13}, c);
  EXPECT_EQ(c.arch, "aarch64");
  EXPECT_EQ(c.vendor, "ARM");
  EXPECT_TRUE(c.features.neon && c.features.fp16 && c.features.i8mm);
  EXPECT_FALSE(c.features.dotprod);  // the kernel's word wins over the text
  EXPECT_FALSE(c.features.sve);
  apply_aarch64_hwcaps({(1ull << 1) | (1ull << 20) | (1ull << 22), 0}, c);
  EXPECT_TRUE(c.features.dotprod && c.features.sve);
  EXPECT_FALSE(c.features.i8mm || c.features.fp16);
}

// qemu-user passes the host's /proc/cpuinfo through: x86 text, ARM hwcaps.
TEST(CpuHwcaps, ForeignCpuinfoKeepsOnlyTheCoreCount) {
  CpuInfo c = parse_cpuinfo(
      "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 fma\n\n"
      "processor\t: 1\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 fma\n");
  apply_aarch64_hwcaps({1ull << 1, 0}, c);
  EXPECT_EQ(c.arch, "aarch64");
  EXPECT_EQ(c.logical_cores, 2);
  EXPECT_FALSE(c.features.avx2 || c.features.fma);
  EXPECT_TRUE(c.features.neon);
  EXPECT_EQ(c.vendor, "");
  EXPECT_NE(c.model_name.find("another architecture"), std::string::npos) << c.model_name;
}

TEST(CpuInfoParse, ArmProcessorNameLineIsNotACpu) {
  // Older ARM kernels print "Processor : <name>" once.
  CpuInfo c = parse_cpuinfo("Processor\t: AArch64 Processor rev 4 (aarch64)\nprocessor\t: 0\nFeatures\t: asimd\n");
  EXPECT_EQ(c.logical_cores, 1);
}

TEST(MemInfoParse, KiBValuesAndHugepages) {
  MemInfo m = parse_meminfo(
      "MemTotal:       131072000 kB\nMemFree:        1000 kB\nMemAvailable:   120000000 kB\n"
      "HugePages_Total:      16\nHugePages_Free:        8\nHugepagesize:       2048 kB\n");
  EXPECT_TRUE(m.known);
  EXPECT_EQ(m.total_bytes, 131072000ull * 1024);
  EXPECT_EQ(m.available_bytes, 120000000ull * 1024);
  EXPECT_EQ(m.hugepages_total, 16u);
  EXPECT_EQ(m.hugepages_free, 8u);
  EXPECT_EQ(m.hugepage_size_bytes, 2u * 1024 * 1024);
}

TEST(MemInfoParse, OldKernelWithoutMemAvailableUsesMemFree) {
  MemInfo m = parse_meminfo("MemTotal: 1000 kB\nMemFree: 400 kB\n");
  EXPECT_EQ(m.available_bytes, 400u * 1024);
}

TEST(ProcLimits, MemlockValuesAndUnlimited) {
  ProcessLimits l;
  parse_proc_limits(
      "Limit                     Soft Limit           Hard Limit           Units\n"
      "Max locked memory         65536                unlimited            bytes\n",
      l);
  EXPECT_EQ(l.memlock_soft_bytes, 65536u);
  EXPECT_EQ(l.memlock_hard_bytes, kUnlimitedBytes);
}

TEST(ProcStatus, CapIpcLockAndGroups) {
  ProcessLimits l;
  ProcessIdentity id;
  parse_proc_status("Uid:\t1000\t1001\t1000\t1000\nGid:\t100\t100\t100\t100\nGroups:\t4 44 993 \nCapEff:\t0000000000004000\n",
                    l, id);
  EXPECT_TRUE(id.known);
  EXPECT_EQ(id.euid, 1001u);
  EXPECT_EQ(id.egid, 100u);
  EXPECT_TRUE(id.in_group(993));
  EXPECT_TRUE(id.in_group(100));
  EXPECT_FALSE(id.in_group(992));
  ASSERT_TRUE(l.cap_ipc_lock().has_value());
  EXPECT_TRUE(*l.cap_ipc_lock());

  ProcessLimits l2;
  parse_proc_status("CapEff:\t000001ffffffbfff\n", l2, id);  // every capability but bit 14
  EXPECT_FALSE(*l2.cap_ipc_lock());
  EXPECT_FALSE(l2.locked_bytes.has_value());
}

TEST(ProcStatus, VmLckIsPinnedBytes) {
  ProcessLimits l;
  ProcessIdentity id;
  parse_proc_status("VmPeak:\t  123456 kB\nVmLck:\t    1536 kB\nVmPin:\t       0 kB\n", l, id);
  EXPECT_EQ(l.locked_bytes, 1536u * 1024);
}

TEST(SystemInfo, BiosDateToIso) {
  EXPECT_EQ(iso_bios_date("03/12/2025"), "2025-03-12");
  EXPECT_FALSE(iso_bios_date("2025-03-12").has_value());
  EXPECT_FALSE(iso_bios_date("13/01/2025").has_value());
}

TEST(SystemInfo, KnownApuIds) {
  ASSERT_NE(find_amd_apu_family(0x1586), nullptr);
  EXPECT_NE(std::string(find_amd_apu_family(0x1586)->name).find("Strix Halo"), std::string::npos);
  ASSERT_NE(find_amd_apu_family(0x1638), nullptr);
  EXPECT_EQ(find_amd_apu_family(0x744c), nullptr);  // RX 7900 XTX is discrete
}

TEST(RootFsText, FormatBytesAndParse) {
  EXPECT_EQ(format_bytes(512 * kMiB), "512 MiB");
  EXPECT_EQ(format_bytes(64 * kKiB), "64 KiB");
  EXPECT_EQ(format_bytes(110 * kGiB), "110 GiB");
  EXPECT_EQ(format_bytes(3 * kGiB / 2), "1.5 GiB");
  EXPECT_EQ(format_bytes(100), "100 B");
  EXPECT_EQ(parse_u64("0x1002"), 0x1002u);
  EXPECT_EQ(parse_u64(" 42\n"), 42u);
  EXPECT_FALSE(parse_u64("-1").has_value());
  EXPECT_FALSE(parse_u64("max").has_value());
}

}  // namespace
}  // namespace laneway::hw
