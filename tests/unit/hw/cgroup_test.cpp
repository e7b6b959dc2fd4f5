// cgroup limits: v1, v2, hybrid, nested groups, namespaces, missing mountinfo.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "hw/cgroup.h"
#include "support/testdata.h"
#include "unit/hw/machine_fixtures.h"

namespace laneway::hw {
namespace {

using fixtures::FixtureTree;
using fixtures::kGiB;
using fixtures::kMiB;

TEST(CgroupParse, ProcSelfCgroupLines) {
  auto m = parse_proc_cgroup("12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/user.slice\n");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].hierarchy_id, 12);
  EXPECT_EQ(m[0].controllers, std::vector<std::string>{"memory"});
  EXPECT_EQ(m[1].controllers, (std::vector<std::string>{"cpu", "cpuacct"}));
  EXPECT_TRUE(m[2].controllers.empty());
  EXPECT_EQ(m[2].path, "/user.slice");
}

TEST(CgroupParse, MountinfoKeepsCgroupMountsOnly) {
  auto mounts = parse_cgroup_mounts(
      "22 28 0:21 / /proc rw - proc proc rw\n"
      "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
      "50 31 0:40 / /mnt/with\\040space rw - cgroup2 cgroup2 rw\n");
  ASSERT_EQ(mounts.size(), 3u);
  EXPECT_FALSE(mounts[0].v2);
  EXPECT_EQ(mounts[0].root, "/docker/abc");
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/memory");
  EXPECT_EQ(mounts[0].controllers, std::vector<std::string>{"memory"});
  EXPECT_TRUE(mounts[1].v2);
  EXPECT_EQ(mounts[2].mount_point, "/mnt/with space");
}

TEST(CgroupProbe, V2NestedTakesSmallestOverAncestors) {
  auto m = fixtures::make_container_v2(test::scratch_dir("cg_v2_nested"));
  CgroupLimits cg = probe_cgroups(RootFs(m.root));
  EXPECT_TRUE(cg.v2);
  EXPECT_FALSE(cg.v1);
  EXPECT_EQ(cg.v2_path, "/system.slice/docker-3f2a9c.scope/laneway");
  ASSERT_TRUE(cg.memory_limit_bytes);
  EXPECT_EQ(*cg.memory_limit_bytes, 8 * kGiB);  // the parent's, not the child's 12 GiB
  EXPECT_EQ(cg.memory_limit_file, "/sys/fs/cgroup/system.slice/docker-3f2a9c.scope/memory.max");
  EXPECT_EQ(cg.memory_usage_bytes, kGiB);
  ASSERT_TRUE(cg.cpu_quota_cores);
  EXPECT_DOUBLE_EQ(*cg.cpu_quota_cores, 1.5);
  EXPECT_TRUE(cg.notes.empty());
}

TEST(CgroupProbe, V1NestedOnHybridHost) {
  auto m = fixtures::make_container_v1(test::scratch_dir("cg_v1_nested"));
  CgroupLimits cg = probe_cgroups(RootFs(m.root));
  EXPECT_TRUE(cg.v1);
  EXPECT_TRUE(cg.v2);  // the empty unified hierarchy is mounted too
  EXPECT_EQ(cg.v1_memory_path, "/docker/5e1d77/inner");
  ASSERT_TRUE(cg.memory_limit_bytes);
  EXPECT_EQ(*cg.memory_limit_bytes, 4 * kGiB);
  EXPECT_EQ(cg.memory_limit_file, "/sys/fs/cgroup/memory/docker/5e1d77/memory.limit_in_bytes");
  EXPECT_EQ(cg.memory_usage_bytes, 512 * kMiB);
  ASSERT_TRUE(cg.cpu_quota_cores);
  EXPECT_DOUBLE_EQ(*cg.cpu_quota_cores, 3.0);
}

// In use is the group's charge less its inactive page cache (the working set
// Kubernetes and `docker stats` count): v2 memory.stat inactive_file, v1
// total_inactive_file (the group and its children).
TEST(CgroupProbe, InUseLeavesOutInactivePageCache) {
  auto v2 = fixtures::make_container_v2(test::scratch_dir("cg_v2_stat"));
  FixtureTree(v2.root).write("/sys/fs/cgroup/system.slice/docker-3f2a9c.scope/laneway/memory.stat",
                              fmt::format("anon 500\nfile 700\nactive_file 100\ninactive_file {}\n", 256 * kMiB));
  CgroupLimits cg = probe_cgroups(RootFs(v2.root));
  EXPECT_EQ(cg.memory_charged_bytes, kGiB);
  EXPECT_EQ(cg.memory_inactive_file_bytes, 256 * kMiB);
  EXPECT_EQ(cg.memory_usage_bytes, kGiB - 256 * kMiB);

  auto v1 = fixtures::make_container_v1(test::scratch_dir("cg_v1_stat"));
  FixtureTree(v1.root).write("/sys/fs/cgroup/memory/docker/5e1d77/inner/memory.stat",
                              fmt::format("cache 9\ninactive_file 1\ntotal_cache 9\ntotal_inactive_file {}\n", 100 * kMiB));
  cg = probe_cgroups(RootFs(v1.root));
  EXPECT_EQ(cg.memory_usage_bytes, 412 * kMiB);  // total_, not the group's own inactive_file

  // More inactive than charged (the two files are read at different moments): nothing in use, not a wrap-around.
  FixtureTree(v1.root).write("/sys/fs/cgroup/memory/docker/5e1d77/inner/memory.stat",
                              fmt::format("total_inactive_file {}\n", kGiB));
  cg = probe_cgroups(RootFs(v1.root));
  EXPECT_EQ(cg.memory_usage_bytes, 0u);
}

TEST(CgroupProbe, HybridTakesSmallestAcrossV1AndV2) {
  FixtureTree t(test::scratch_dir("cg_hybrid_min"));
  t.write("/proc/self/cgroup", "7:memory:/a\n0::/a\n");
  t.write("/proc/self/mountinfo",
          "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
          "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
  t.write("/sys/fs/cgroup/memory/a/memory.limit_in_bytes", std::to_string(6 * kGiB));
  t.write("/sys/fs/cgroup/unified/a/memory.max", std::to_string(5 * kGiB));
  CgroupLimits cg = probe_cgroups(RootFs(t.root()));
  ASSERT_TRUE(cg.memory_limit_bytes);
  EXPECT_EQ(*cg.memory_limit_bytes, 5 * kGiB);
  EXPECT_EQ(cg.memory_limit_file, "/sys/fs/cgroup/unified/a/memory.max");
}

TEST(CgroupProbe, NamespacedMountRootReadsTheContainersOwnGroup) {
  // With a cgroup namespace, /proc/self/cgroup shows paths relative to the
  // container's group, which is what /sys/fs/cgroup shows.
  FixtureTree t(test::scratch_dir("cg_ns"));
  t.write("/proc/self/cgroup", "0::/worker\n");
  t.write("/proc/self/mountinfo", "30 24 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  t.write("/sys/fs/cgroup/memory.max", std::to_string(2 * kGiB));
  t.write("/sys/fs/cgroup/cpu.max", "50000 100000\n");
  t.write("/sys/fs/cgroup/worker/memory.max", "max\n");
  CgroupLimits cg = probe_cgroups(RootFs(t.root()));
  EXPECT_EQ(cg.memory_limit_bytes, 2 * kGiB);
  EXPECT_EQ(cg.cpu_quota_cores, 0.5);
}

TEST(CgroupProbe, MountRootPrefixIsStripped) {
  // Docker without a cgroup namespace on v1: the mount exposes /docker/abc
  // and the process's path names it in full.
  FixtureTree t(test::scratch_dir("cg_mount_root"));
  t.write("/proc/self/cgroup", "9:memory:/docker/abc\n");
  t.write("/proc/self/mountinfo", "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n");
  t.write("/sys/fs/cgroup/memory/memory.limit_in_bytes", std::to_string(3 * kGiB));
  CgroupLimits cg = probe_cgroups(RootFs(t.root()));
  EXPECT_EQ(cg.memory_limit_bytes, 3 * kGiB);
  EXPECT_EQ(cg.memory_limit_file, "/sys/fs/cgroup/memory/memory.limit_in_bytes");
  EXPECT_TRUE(cg.notes.empty());
}

TEST(CgroupProbe, InvisibleGroupFallsBackToMountRootWithNote) {
  FixtureTree t(test::scratch_dir("cg_invisible"));
  t.write("/proc/self/cgroup", "0::/somewhere/else\n");
  t.write("/proc/self/mountinfo", "30 24 0:26 /docker/xyz /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  t.write("/sys/fs/cgroup/memory.max", std::to_string(kGiB));
  CgroupLimits cg = probe_cgroups(RootFs(t.root()));
  EXPECT_EQ(cg.memory_limit_bytes, kGiB);
  ASSERT_EQ(cg.notes.size(), 1u);
  EXPECT_NE(cg.notes[0].find("/somewhere/else"), std::string::npos);
}

TEST(CgroupProbe, WithoutMountinfoUsesUsualMountPoints) {
  FixtureTree t(test::scratch_dir("cg_no_mountinfo"));
  t.write("/proc/self/cgroup", "0::/a/b\n");
  t.write("/sys/fs/cgroup/cgroup.controllers", "memory cpu\n");
  t.write("/sys/fs/cgroup/a/memory.max", std::to_string(7 * kGiB));
  t.write("/sys/fs/cgroup/a/b/memory.max", "max\n");
  t.write("/sys/fs/cgroup/a/b/cpu.max", "200000 100000\n");
  CgroupLimits cg = probe_cgroups(RootFs(t.root()));
  EXPECT_EQ(cg.memory_limit_bytes, 7 * kGiB);
  EXPECT_EQ(cg.cpu_quota_cores, 2.0);

  FixtureTree v1(test::scratch_dir("cg_no_mountinfo_v1"));
  v1.write("/proc/self/cgroup", "5:memory:/lxc/c1\n3:cpu,cpuacct:/lxc/c1\n");
  v1.write("/sys/fs/cgroup/memory/lxc/c1/memory.limit_in_bytes", std::to_string(kGiB));
  v1.write("/sys/fs/cgroup/cpu,cpuacct/lxc/c1/cpu.cfs_quota_us", "100000\n");
  v1.write("/sys/fs/cgroup/cpu,cpuacct/lxc/c1/cpu.cfs_period_us", "100000\n");
  CgroupLimits cg1 = probe_cgroups(RootFs(v1.root()));
  EXPECT_EQ(cg1.memory_limit_bytes, kGiB);
  EXPECT_EQ(cg1.cpu_quota_cores, 1.0);
}

TEST(CgroupProbe, NoCgroupFileMeansNoLimits) {
  FixtureTree t(test::scratch_dir("cg_none"));
  CgroupLimits cg = probe_cgroups(RootFs(t.root()));
  EXPECT_FALSE(cg.v1 || cg.v2);
  EXPECT_FALSE(cg.memory_limit_bytes);
  EXPECT_FALSE(cg.cpu_quota_cores);
}

}  // namespace
}  // namespace laneway::hw
