// Device-node permission checks and the APU rule.
#include <gtest/gtest.h>

#include "hw/drm.h"
#include "support/testdata.h"
#include "unit/hw/machine_fixtures.h"

namespace laneway::hw {
namespace {

using fixtures::FixtureTree;
using fixtures::kGiB;
using fixtures::kMiB;

ProcessIdentity user(uint32_t euid, std::vector<uint32_t> groups) {
  ProcessIdentity id;
  id.known = true;
  id.euid = euid;
  id.egid = 1000;
  id.groups = std::move(groups);
  return id;
}

TEST(GpuNodes, GroupMembershipDecides) {
  FixtureTree t(test::scratch_dir("nodes_group"));
  t.device_node("/dev/dri/renderD128", 0660);
  t.group("render", t.node_gid());
  const uint32_t other_uid = t.node_uid() + 4242;

  GpuNodes in = probe_gpu_nodes(RootFs(t.root()), user(other_uid, {t.node_gid()}));
  ASSERT_EQ(in.render_nodes.size(), 1u);
  EXPECT_TRUE(in.render_nodes[0].accessible);
  EXPECT_EQ(in.render_nodes[0].group_name, "render");
  EXPECT_EQ(in.render_nodes[0].mode, 0660u);

  GpuNodes out = probe_gpu_nodes(RootFs(t.root()), user(other_uid, {4, 24}));
  EXPECT_FALSE(out.render_nodes[0].accessible);
  EXPECT_NE(out.render_nodes[0].access_reason.find("render"), std::string::npos);

  GpuNodes root = probe_gpu_nodes(RootFs(t.root()), user(0, {}));
  EXPECT_TRUE(root.render_nodes[0].accessible);
}

TEST(GpuNodes, WorldWritableAndMissing) {
  FixtureTree t(test::scratch_dir("nodes_world"));
  t.device_node("/dev/dri/renderD128", 0666);
  t.device_node("/dev/dri/card0", 0660);  // not a render node: ignored
  GpuNodes g = probe_gpu_nodes(RootFs(t.root()), user(t.node_uid() + 1, {}));
  EXPECT_TRUE(g.dri_dir);
  ASSERT_EQ(g.render_nodes.size(), 1u);
  EXPECT_TRUE(g.render_nodes[0].accessible);
  EXPECT_FALSE(g.kfd);

  FixtureTree empty(test::scratch_dir("nodes_none"));
  GpuNodes none = probe_gpu_nodes(RootFs(empty.root()), user(1000, {}));
  EXPECT_FALSE(none.dri_dir);
  EXPECT_TRUE(none.render_nodes.empty());
}

TEST(DrmCards, ApuRuleByIdAndBySizes) {
  std::string why;
  EXPECT_TRUE(looks_like_unified_memory(512 * kMiB, 110 * kGiB, &why));
  EXPECT_NE(why.find("512 MiB VRAM carve-out"), std::string::npos);
  EXPECT_FALSE(looks_like_unified_memory(24 * kGiB, 31 * kGiB, nullptr));
  EXPECT_FALSE(looks_like_unified_memory(8 * kGiB, 32 * kGiB, nullptr));

  FixtureTree t(test::scratch_dir("drm_cards"));
  t.drm_card({.index = 0, .vendor = 0x1002, .device = 0x1234, .driver = "amdgpu", .pci_slot = "0000:05:00.0",
              .vram_total = 1 * kGiB, .vram_used = 0, .gtt_total = 12 * kGiB, .gtt_used = 0, .render_minor = 128});
  t.drm_card({.index = 1, .vendor = 0x1002, .device = 0x744c, .driver = "amdgpu", .pci_slot = "0000:03:00.0",
              .vram_total = 24 * kGiB, .vram_used = 0, .gtt_total = 31 * kGiB, .gtt_used = 0, .render_minor = 129});
  auto cards = probe_drm_cards(RootFs(t.root()));
  ASSERT_EQ(cards.size(), 2u);  // connectors (card0-DP-1) skipped
  EXPECT_TRUE(cards[0].unified_memory);  // unknown id, but the sizes say APU
  EXPECT_TRUE(cards[0].apu_family.empty());
  EXPECT_FALSE(cards[1].unified_memory);
  EXPECT_EQ(cards[0].render_node, "/dev/dri/renderD128");
  EXPECT_EQ(cards[1].render_node, "/dev/dri/renderD129");
  EXPECT_EQ(cards[1].pci_slot, "0000:03:00.0");
  EXPECT_EQ(cards[1].vram_total_bytes, 24 * kGiB);
}

}  // namespace
}  // namespace laneway::hw
