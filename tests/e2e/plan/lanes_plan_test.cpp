// `laneway plan --lanes` on the shipped example configs (text and --json),
// and the bad inputs it must refuse with exit code 2.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway {
namespace {

using json = nlohmann::json;
constexpr uint64_t kGiB = 1ull << 30;

std::string example(const char* name) { return std::string(LANEWAY_SOURCE_DIR) + "/examples/" + name; }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(PlanLanes, StrixHaloExampleText) {
  auto r = test::run_laneway("plan --lanes " + example("lanes-strix-halo-128g.yaml") + " --profile strix-halo-128g");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::printf("%s", r.out.c_str());
  EXPECT_TRUE(contains(r.out, "service vllm_fast")) << r.out;
  EXPECT_TRUE(contains(r.out, "lanes orchestrator, coder")) << r.out;
  EXPECT_TRUE(contains(r.out, "lane super_reader")) << r.out;
  EXPECT_TRUE(contains(r.out, "over by")) << r.out;  // not every lane fits at once
  EXPECT_TRUE(contains(r.out, "super_reader at 1M (context)")) << r.out;
  EXPECT_TRUE(contains(r.out, "fits only in burst mode: pause vllm_fast (orchestrator, coder)")) << r.out;
  EXPECT_TRUE(contains(r.out, "super_reader at 2M (burst_context)")) << r.out;
  // The context table: one row per K/V pair, a column per context.
  EXPECT_TRUE(contains(r.out, "super_reader: context x KV cache types")) << r.out;
  for (const char* row : {"f16/f16", "q8_0/f16", "q8_0/q8_0", "q4_0/q4_0"}) EXPECT_TRUE(contains(r.out, row)) << row;
  EXPECT_TRUE(contains(r.out, "beyond the 128k tokens")) << r.out;
  EXPECT_TRUE(contains(r.out, "t/s")) << r.out;
}

TEST(PlanLanes, StrixHaloExampleJson) {
  auto r = test::run_laneway("plan --lanes " + example("lanes-strix-halo-128g.yaml") +
                             " --profile strix-halo-128g --target-tps super_reader=10 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["profile"]["name"], "strix-halo-128g");
  EXPECT_EQ(j["memory_bytes"].get<uint64_t>(), 128 * kGiB);
  EXPECT_EQ(j["reserves"]["os_bytes"].get<uint64_t>(), 16 * kGiB);
  EXPECT_EQ(j["reserves"]["other_bytes"].get<uint64_t>(), 4 * kGiB);
  ASSERT_EQ(j["services"].size(), 1u);
  EXPECT_EQ(j["services"][0]["bytes"].get<uint64_t>(), 48 * kGiB);
  EXPECT_EQ(j["services"][0]["lanes"], json({"orchestrator", "coder"}));
  ASSERT_EQ(j["lanes"].size(), 5u);
  EXPECT_GT(j["process_bytes"].get<uint64_t>(), 0u);  // the serve process's base, once
  uint64_t total = 20 * kGiB + 48 * kGiB + j["process_bytes"].get<uint64_t>();
  for (const auto& l : j["lanes"]) {
    if (l["kind"] == "embedded") total += l["total_bytes"].get<uint64_t>();
    if (l["name"] == "super_reader") {
      EXPECT_EQ(l["context_tokens"], 1 << 20);
      EXPECT_EQ(l["kv_bytes_per_token"], 69632);
      EXPECT_GT(l["decode_ceiling_tps"].get<double>(), 2.0);
      EXPECT_EQ(l["target_above_ceiling"], true);
    }
  }
  EXPECT_EQ(j["total_bytes"].get<uint64_t>(), total);
  EXPECT_EQ(j["left_bytes"].get<int64_t>(), int64_t(128 * kGiB) - int64_t(total));
  EXPECT_EQ(j["fits"], false);
  const json& t = j["context_table"];
  EXPECT_EQ(t["lane"], "super_reader");
  EXPECT_EQ(t["contexts"], json({1 << 20, 2 << 20, 4 << 20}));
  ASSERT_EQ(t["rows"].size(), 4u);
  // (the verdicts are derived by hand in tests/unit/plan/lane_map_test.cpp)
  const char* expected[4][3] = {{"never", "never", "never"},
                                {"burst_only", "never", "never"},
                                {"burst_only", "never", "never"},
                                {"beside", "burst_only", "never"}};
  for (size_t row = 0; row < 4; ++row) {
    for (size_t c = 0; c < 3; ++c) EXPECT_EQ(t["rows"][row]["cells"][c]["verdict"], expected[row][c]) << row << c;
  }
  EXPECT_EQ(t["rows"][1]["cache_type_k"], "q8_0");
  EXPECT_EQ(t["rows"][1]["cache_type_v"], "f16");
  EXPECT_GT(t["rows"][1]["max_context_burst"].get<int64_t>(), 1 << 20);
  bool reader_at_context = false;
  for (const auto& b : j["burst_scenarios"]) {
    if (b["lane"] == "super_reader" && b["why"] == "context") {
      reader_at_context = true;
      EXPECT_EQ(b["verdict"], "burst_only");
      EXPECT_EQ(b["paused"], json({"vllm_fast"}));
    }
  }
  EXPECT_TRUE(reader_at_context);
}

// The minimal example names its model relative to the checkout (../shared/...).
class PlanLanesMinimal : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = std::filesystem::current_path();
    std::filesystem::current_path(LANEWAY_SOURCE_DIR);
  }
  void TearDown() override { std::filesystem::current_path(saved_); }
  std::filesystem::path saved_;
};

TEST_F(PlanLanesMinimal, TextAndJson) {
  LANEWAY_REQUIRE_FILE(std::string("../shared/testdata/models/stories260K.gguf"));
  auto r = test::run_laneway("plan --lanes examples/lanes-minimal.yaml --profile ryzen-vega8-16g");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "lane stories")) << r.out;
  EXPECT_TRUE(contains(r.out, "GiB left")) << r.out;
  EXPECT_TRUE(contains(r.out, "stories at 512 (context), needs")) << r.out;
  EXPECT_TRUE(contains(r.out, "fits beside the other lanes")) << r.out;

  r = test::run_laneway("plan --lanes examples/lanes-minimal.yaml --profile ryzen-vega8-16g --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["memory_bytes"].get<uint64_t>(), 16 * kGiB);
  EXPECT_EQ(j["services"].size(), 0u);
  ASSERT_EQ(j["lanes"].size(), 1u);
  EXPECT_EQ(j["lanes"][0]["model_source"], "../shared/testdata/models/stories260K.gguf");  // read from the file
  EXPECT_EQ(j["lanes"][0]["n_ctx"], 1024);  // 512 per request x 2 slots
  EXPECT_EQ(j["fits"], true);
  EXPECT_GT(j["left_bytes"].get<int64_t>(), 0);
  EXPECT_EQ(j["context_table"]["rows"][0]["cells"][0]["verdict"], "beside");
}

TEST_F(PlanLanesMinimal, ThisMachine) {
  LANEWAY_REQUIRE_FILE(std::string("../shared/testdata/models/stories260K.gguf"));
  auto r = test::run_laneway("plan --lanes examples/lanes-minimal.yaml --profile this-machine --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["profile"]["name"], "this-machine");
  EXPECT_GT(j["profile"]["memory_bytes"].get<uint64_t>(), 0u);
  // Measured (at least 0.1 GB/s), or said to be unknown on a busy machine, with the passes' figures either way.
  const std::string source = j["profile"]["bandwidth_source"];
  if (j["profile"]["bandwidth_bytes_per_s"].get<double>() > 0) {
    EXPECT_GT(j["profile"]["bandwidth_bytes_per_s"].get<double>(), 1e8);
    EXPECT_EQ(source.rfind("measured now: fastest", 0), 0u) << source;
  } else {
    EXPECT_EQ(source.rfind("not measured well now", 0), 0u) << source;
  }
  EXPECT_NE(source.find("median"), std::string::npos) << source;
  EXPECT_NE(source.find("sequential reads of"), std::string::npos) << source;
}

// models_dir makes the same lanes for the plan as for `laneway serve`.
TEST(PlanLanes, ModelsDirLanesArePlanned) {
  const std::string model = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(model);
  const auto dir = test::scratch_dir("plan_lanes_models_dir");
  std::filesystem::create_directories(dir / "models");
  std::filesystem::copy_file(model, dir / "models" / "Fable.gguf");
  std::ofstream(dir / "lanes.yaml") << "models_dir: models\n";
  auto r = test::run_laneway("plan --lanes " + (dir / "lanes.yaml").string() + " --profile ryzen-vega8-16g --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j["lanes"].size(), 1u) << r.out;
  EXPECT_EQ(j["lanes"][0]["name"], "fable") << r.out;
  EXPECT_EQ(j["lanes"][0]["n_ctx"], 2048);  // the trained context, at most 4096
}

TEST(PlanLanes, BadInputExitsTwo) {
  const auto dir = test::scratch_dir("plan_lanes_bad");
  auto r = test::run_laneway("plan --lanes " + (dir / "missing.yaml").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "cannot open lane config")) << r.err;

  std::ofstream(dir / "broken.yaml") << "lanes:\n  - name: [unclosed\n";
  r = test::run_laneway("plan --lanes " + (dir / "broken.yaml").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "broken.yaml:")) << r.err;

  r = test::run_laneway("plan --lanes " + example("lanes-strix-halo-128g.yaml") + " --profile cray-1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "unknown profile 'cray-1'")) << r.err;
  EXPECT_TRUE(contains(r.err, "strix-halo-128g")) << r.err;

  std::ofstream(dir / "no-model.yaml") << "lanes:\n  - { name: reader, model: /nonexistent/reader.gguf }\n";
  r = test::run_laneway("plan --lanes " + (dir / "no-model.yaml").string() + " --profile strix-halo-128g");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "/nonexistent/reader.gguf not found")) << r.err;

  r = test::run_laneway("plan --lanes " + example("lanes-strix-halo-128g.yaml") +
                        " --profile strix-halo-128g --target-tps fast_rag");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "LANE=TOKENS_PER_SECOND")) << r.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace laneway

namespace laneway {
namespace {

// `plan --gpu-layers N` shows the device's share next to the host bill.
TEST(PlanGpu, ShowsTheDeviceBill) {
  auto text = test::run_laneway("plan --shape tinyllama-1.1b --type Q4_0 --ctx 4096 --gpu-layers 11");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("gpu "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("11 of 22 blocks"), std::string::npos) << text.out;
  auto json = test::run_laneway("plan --shape tinyllama-1.1b --type Q4_0 --ctx 4096 --gpu-layers all --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["device"]["blocks"], 22);
  EXPECT_EQ(j["device"]["kv_bytes"], j["kv_bytes"]);
  EXPECT_GT(j["device"]["weights_bytes"].get<uint64_t>(), 600ull << 20);
  auto none = test::run_laneway("plan --shape tinyllama-1.1b --type Q4_0 --ctx 4096 --gpu-layers 0 --json");
  ASSERT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(nlohmann::json::parse(none.out)["device"]["blocks"], 0);
}

}  // namespace
}  // namespace laneway
