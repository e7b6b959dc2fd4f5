// Vulkan descriptions: classification, recorded JSON, the dlopen loader's failure path.
#include <gtest/gtest.h>

#include "hw/bandwidth.h"
#include "hw/inventory_json.h"
#include "hw/vulkan.h"
#include "support/testdata.h"
#include "unit/hw/machine_fixtures.h"

namespace laneway::hw {
namespace {

VulkanDeviceInfo device(std::string name, uint32_t driver_id, VulkanDeviceType type = VulkanDeviceType::discrete_gpu) {
  VulkanDeviceInfo d;
  d.name = std::move(name);
  d.driver_id = driver_id;
  d.type = type;
  return d;
}

TEST(VulkanClassify, DriverKinds) {
  EXPECT_EQ(vulkan_driver_kind(device("AMD Radeon 8060S (RADV GFX1151)", 3)), GpuDriverKind::radv);
  EXPECT_EQ(vulkan_driver_kind(device("AMD Radeon RX 7900 XTX", 2)), GpuDriverKind::amdvlk);
  EXPECT_EQ(vulkan_driver_kind(device("NVIDIA GeForce RTX 4090", 4)), GpuDriverKind::nvidia);
  EXPECT_EQ(vulkan_driver_kind(device("Apple M2 Max", 14)), GpuDriverKind::moltenvk);
  EXPECT_EQ(vulkan_driver_kind(device("Virtio-GPU Venus (Apple M2 Max)", 22)), GpuDriverKind::venus);
  EXPECT_EQ(vulkan_driver_kind(device("llvmpipe (LLVM 15.0.6, 256 bits)", 13)), GpuDriverKind::lavapipe);
  // Pre-1.2 drivers carry no driver id: names decide.
  EXPECT_EQ(vulkan_driver_kind(device("llvmpipe (LLVM 12)", 0, VulkanDeviceType::cpu)), GpuDriverKind::lavapipe);
  EXPECT_EQ(vulkan_driver_kind(device("Virtio-GPU Venus (Intel(R) UHD)", 0)), GpuDriverKind::venus);
  EXPECT_EQ(vulkan_driver_kind(device("AMD RADV POLARIS10", 0)), GpuDriverKind::radv);
}

TEST(VulkanClassify, SoftwareIsNoGpu) {
  EXPECT_TRUE(is_software_device(device("llvmpipe (LLVM 15.0.6, 256 bits)", 13, VulkanDeviceType::cpu)));
  EXPECT_TRUE(is_software_device(device("SwiftShader Device (Subzero)", 10, VulkanDeviceType::cpu)));
  EXPECT_TRUE(is_software_device(device("some cpu device", 0, VulkanDeviceType::cpu)));
  EXPECT_FALSE(is_software_device(device("AMD Radeon 8060S", 3, VulkanDeviceType::integrated_gpu)));
  EXPECT_TRUE(is_venus_device(device("Virtio-GPU Venus (Apple M1)", 22, VulkanDeviceType::integrated_gpu)));
}

TEST(VulkanClassify, VersionsAndMesa) {
  EXPECT_EQ(vulkan_version_string((1u << 22) | (3u << 12) | 230u), "1.3.230");
  VulkanDeviceInfo d;
  d.driver_info = "Mesa 22.3.6 (LLVM 15.0.6)";
  EXPECT_EQ(mesa_version(d), "22.3.6");
  d.driver_info = "Mesa 25.0.7-0ubuntu0.24.04.1";
  EXPECT_EQ(mesa_version(d), "25.0.7-0ubuntu0.24.04.1");
  d.driver_info = "550.120";
  EXPECT_FALSE(mesa_version(d).has_value());
}

TEST(VulkanJson, RecordedRoundTrip) {
  auto m = fixtures::make_strix_halo(test::scratch_dir("vk_json"));
  const std::string text = vulkan_report_to_json(m.vulkan).dump();
  auto parsed = vulkan_report_from_json(text);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  ASSERT_TRUE(parsed->is_ok());
  const VulkanReport& r = parsed->value();
  ASSERT_EQ(r.devices.size(), 1u);
  const VulkanDeviceInfo& a = m.vulkan.devices[0];
  const VulkanDeviceInfo& b = r.devices[0];
  EXPECT_EQ(b.name, a.name);
  EXPECT_EQ(b.vendor_id, a.vendor_id);
  EXPECT_EQ(b.device_id, a.device_id);
  EXPECT_EQ(b.type, a.type);
  EXPECT_EQ(b.api_version, a.api_version);
  EXPECT_EQ(b.driver_id, a.driver_id);
  EXPECT_EQ(b.driver_info, a.driver_info);
  EXPECT_EQ(b.pci_slot, a.pci_slot);
  EXPECT_EQ(b.memory_budget, a.memory_budget);
  ASSERT_EQ(b.heaps.size(), a.heaps.size());
  EXPECT_EQ(b.heaps[0].size_bytes, a.heaps[0].size_bytes);
  EXPECT_EQ(b.heaps[0].budget_bytes, a.heaps[0].budget_bytes);
  EXPECT_EQ(r.instance_api_version, m.vulkan.instance_api_version);
}

TEST(VulkanJson, BareArrayHexIdsAndErrors) {
  auto r = vulkan_report_from_json(
      R"([{"name":"x","vendor_id":"0x1002","device_id":5510,"type":"discrete_gpu","api_version":"1.3.0",)"
      R"("heaps":[{"size_bytes":1024,"device_local":true}]}])");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  ASSERT_TRUE(r->is_ok());
  EXPECT_EQ(r->value().devices[0].vendor_id, 0x1002u);
  EXPECT_EQ(r->value().devices[0].device_id, 5510u);
  EXPECT_FALSE(r->value().devices[0].heaps[0].budget_bytes);

  auto missing = vulkan_report_from_json(R"({"error":"libvulkan.so.1: not found"})");
  ASSERT_TRUE(missing.is_ok());
  ASSERT_FALSE(missing->is_ok());
  EXPECT_EQ(missing->status().code(), StatusCode::not_found);

  EXPECT_EQ(vulkan_report_from_json("{not json").status().code(), StatusCode::corrupt);
  EXPECT_EQ(vulkan_report_from_json(R"({"devices":[{"type":"gpu"}]})").status().code(), StatusCode::corrupt);
  EXPECT_EQ(vulkan_report_from_json(R"({"devices":[{"heaps":[{"size_bytes":-5}]}]})").status().code(),
            StatusCode::corrupt);
}

TEST(VulkanLoader, MissingLibraryIsNotFound) {
  auto e = make_system_vulkan_enumerator("liblaneway-no-such-vulkan.so.9");
  auto r = e->enumerate();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::not_found);
  EXPECT_NE(r.status().message().find("liblaneway-no-such-vulkan.so.9"), std::string::npos);
}

TEST(Bandwidth, SmallReadTestReportsARateAndItsSpread) {
  BandwidthMeasurement m = measure_read_bandwidth(4 << 20, 5, 2);
  EXPECT_GT(m.bytes_per_s, 1e8);  // anything that runs tests reads faster than 100 MB/s
  EXPECT_LE(m.median_bytes_per_s, m.bytes_per_s);
  EXPECT_LE(m.slowest_bytes_per_s, m.median_bytes_per_s);
  EXPECT_GT(m.slowest_bytes_per_s, 0);
  EXPECT_EQ(m.buffer_bytes, size_t(4) << 20);
  EXPECT_EQ(m.threads, 2);
  EXPECT_EQ(m.passes, 5);
  const std::string d = m.describe();
  EXPECT_NE(d.find("of 5 passes"), std::string::npos) << d;
  EXPECT_NE(d.find("4 MiB by 2 threads"), std::string::npos) << d;
}

TEST(Bandwidth, AFigureWhoseMedianIsFarBelowTheFastestIsNotSteady) {
  BandwidthMeasurement m;
  m.bytes_per_s = 20e9;
  m.median_bytes_per_s = 16e9;
  EXPECT_TRUE(m.steady());
  m.median_bytes_per_s = 9.6e9;  // the 28.8 vs 9.6 GB/s of one machine minutes apart
  EXPECT_FALSE(m.steady());
  EXPECT_FALSE(BandwidthMeasurement{}.steady());
}

TEST(Bandwidth, TheDefaultBufferOutgrowsTheCacheWithinLimits) {
  const size_t b = default_buffer_bytes();
  EXPECT_GE(b, size_t(256) << 20);
  EXPECT_LE(b, size_t(1) << 30);
  EXPECT_EQ(default_buffer_bytes(uint64_t(64) << 20), size_t(8) << 20);  // an eighth of what is available
}

}  // namespace
}  // namespace laneway::hw
