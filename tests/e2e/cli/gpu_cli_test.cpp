// Black-box tests of the GPU flags: --gpu-layers and --device on run and
// bench, on lavapipe (Mesa's software Vulkan device, used only when named).
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway {
namespace {

using test::run_laneway;

std::string stories() { return test::testdata_path("models/stories260K.gguf"); }

bool lavapipe_installed() {
  for (const char* dir : {"/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d"}) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (e.path().filename().string().rfind("lvp_icd", 0) == 0) return true;
    }
  }
  return false;
}

#define LANEWAY_REQUIRE_LAVAPIPE()                                                                         \
  if (!lavapipe_installed()) {                                                                             \
    if (::laneway::test::testdata_required()) FAIL() << "no lavapipe Vulkan driver: install mesa-vulkan-drivers"; \
    GTEST_SKIP() << "no lavapipe Vulkan driver (install mesa-vulkan-drivers to run the Vulkan tests)";     \
  }

TEST(GpuCli, RunOnLavapipeGivesTheCpuText) {
  LANEWAY_REQUIRE_FILE(stories());
  LANEWAY_REQUIRE_LAVAPIPE();
  std::ifstream in(test::reference_path("stories260K/llamacpp.jsonl"));
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  auto j = nlohmann::json::parse(line);
  const std::string prompt = j["prompt"];
  const std::string n = std::to_string(j["greedy_tokens"].size());
  auto gpu = run_laneway("run -m " + stories() + " --temp 0 -n " + n + " --gpu-layers all --device llvmpipe -p '" +
                         prompt + "'");
  ASSERT_EQ(gpu.exit_code, 0) << gpu.err;
  EXPECT_EQ(test::generated_text(gpu.out), j["greedy_text"].get<std::string>());
  auto split = run_laneway("run -m " + stories() + " --temp 0 -n " + n + " --gpu-layers 2 --device llvmpipe -p '" +
                           prompt + "'");
  ASSERT_EQ(split.exit_code, 0) << split.err;
  EXPECT_EQ(test::generated_text(split.out), j["greedy_text"].get<std::string>());
}

TEST(GpuCli, BenchListsCpuAndGpuInOneRun) {
  LANEWAY_REQUIRE_FILE(stories());
  LANEWAY_REQUIRE_LAVAPIPE();
  auto r = run_laneway("bench -m " + stories() + " -p 16 -n 4 -r 1 -t 2 --gpu-layers 0,all --device llvmpipe");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("# --gpu-layers 0: cpu "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("# --gpu-layers all: llvmpipe"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("|        cpu |    0 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("|     vulkan |  all |"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("0.00 GiB"), std::string::npos) << r.out;  // a 1 MB model is not "0.00 GiB"
  auto json = run_laneway("bench -m " + stories() + " -p 8 -n 2 -r 1 -t 2 --gpu-layers 0,all --device llvmpipe --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto records = nlohmann::json::parse(json.out);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0]["backends"], "cpu");
  EXPECT_EQ(records[2]["backends"], "vulkan");
  EXPECT_NE(records[2]["devices"].get<std::string>().find("llvmpipe"), std::string::npos);
}

// LANEWAY_VULKAN_PROFILE=1: each shader's device time, printed at exit;
// nothing without it.
TEST(GpuCli, ProfileListsEachShadersTime) {
  LANEWAY_REQUIRE_FILE(stories());
  LANEWAY_REQUIRE_LAVAPIPE();
  const std::string args = "run -m " + stories() + " --temp 0 -n 4 --gpu-layers all --device llvmpipe -p hi";
  auto plain = run_laneway(args);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.err.find("laneway vulkan profile"), std::string::npos) << plain.err;
  auto profiled = run_laneway(args, "", "LANEWAY_VULKAN_PROFILE=1 ");
  ASSERT_EQ(profiled.exit_code, 0) << profiled.err;
  EXPECT_EQ(test::generated_text(profiled.out), test::generated_text(plain.out));
  EXPECT_NE(profiled.err.find("laneway vulkan profile (llvmpipe"), std::string::npos) << profiled.err;
  for (const char* shader : {"matmul_f32 ", "attention_f16_f16 ", "rms_norm ", "get_rows_f32 "}) {
    EXPECT_NE(profiled.err.find(std::string("\n  ") + shader), std::string::npos) << shader << "\n" << profiled.err;
  }
}

TEST(GpuCli, MissingDeviceExitsTwoAndNamesTheDevices) {
  LANEWAY_REQUIRE_FILE(stories());
  LANEWAY_REQUIRE_LAVAPIPE();
  auto named = run_laneway("run -m " + stories() + " --gpu-layers all --device radeon-not-here -n 2 -p hi");
  EXPECT_EQ(named.exit_code, 2) << named.err;
  EXPECT_NE(named.err.find("radeon-not-here"), std::string::npos) << named.err;
  EXPECT_NE(named.err.find("llvmpipe"), std::string::npos) << named.err;
  // auto never picks the software device: a count of layers needs a real GPU here.
  auto counted = run_laneway("run -m " + stories() + " --gpu-layers 2 -n 2 -p hi");
  EXPECT_EQ(counted.exit_code, 2) << counted.err;
  // --gpu-layers auto with no usable GPU: a note, and the CPU.
  auto automatic = run_laneway("run -m " + stories() + " --gpu-layers auto -n 2 -p hi");
  EXPECT_EQ(automatic.exit_code, 0) << automatic.err;
  EXPECT_NE(automatic.err.find("no usable GPU"), std::string::npos) << automatic.err;
  auto bad = run_laneway("run -m " + stories() + " --gpu-layers some -n 2 -p hi");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--gpu-layers some"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace laneway

namespace laneway {
namespace {

uint64_t peak_rss(const test::CliResult& r) {
  const auto at = r.err.find("peak_rss_bytes: ");
  return at == std::string::npos ? 0 : std::stoull(r.err.substr(at + 16));
}

// On a unified-memory device (lavapipe's memory is the process's), the
// GPU's copy of the weights replaces the file's pages: a GPU run's peak is
// the CPU run's (whose weights are tiled once) plus the driver, not the
// weights twice.
TEST(GpuCli, WeightsAreNotResidentTwice) {
  LANEWAY_REQUIRE_LAVAPIPE();
  const auto dir = test::scratch_dir("gpu_rss");
  const std::string path = (dir / "wide.gguf").string();
  auto synth = run_laneway("synth --shape tiny --type F16 --layers 6 --embd 1024 --ff 2816 --heads 8 --kv-heads 8 -o " +
                           path);
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  const auto file_bytes = std::filesystem::file_size(path);
  ASSERT_GT(file_bytes, 90u << 20);
  auto cpu = run_laneway("run -m " + path + " -n 2 -p hi --stats --ctx 256 --gpu-layers 0");
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  auto gpu = run_laneway("run -m " + path + " -n 2 -p hi --stats --ctx 256 --gpu-layers all --device llvmpipe");
  ASSERT_EQ(gpu.exit_code, 0) << gpu.err;
  std::printf("file %llu, peak RSS cpu %llu, gpu %llu\n", static_cast<unsigned long long>(file_bytes),
              static_cast<unsigned long long>(peak_rss(cpu)), static_cast<unsigned long long>(peak_rss(gpu)));
  EXPECT_LT(peak_rss(gpu), peak_rss(cpu) + file_bytes / 2);
}

}  // namespace
}  // namespace laneway
