// Black-box tests of `laneway run`.
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

TEST(RunCli, GreedyMatchesReferenceForEveryPrompt) {
  LANEWAY_REQUIRE_FILE(stories());
  std::ifstream in(test::reference_path("stories260K/llamacpp.jsonl"));
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    const std::string prompt = j["prompt"];
    const auto n = j["greedy_tokens"].size();
    auto r = run_laneway("run -m " + stories() + " --temp 0 -t 2 -n " + std::to_string(n) + " -p '" + prompt + "'");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // The reference text is the greedy tokens decoded; generation stops at the
    // end-of-sequence token, which prints nothing; a newline ends the output.
    const std::string text = j["greedy_text"];
    EXPECT_EQ(r.out, text.empty() || text.back() == '\n' ? text : text + "\n") << prompt;
    EXPECT_NE(r.err.find("generation:"), std::string::npos);
    ++checked;
  }
  EXPECT_EQ(checked, 8);
}

TEST(RunCli, SeededSamplingRepeats) {
  LANEWAY_REQUIRE_FILE(stories());
  const std::string cmd = "run -m " + stories() + " --temp 0.9 --seed 1234 -n 40 -p 'The cat'";
  auto a = run_laneway(cmd);
  auto b = run_laneway(cmd);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  auto c = run_laneway("run -m " + stories() + " --temp 0.9 --seed 99 -n 40 -p 'The cat'");
  EXPECT_NE(a.out, c.out);
}

TEST(RunCli, PromptLongerThanContextIsAnError) {
  LANEWAY_REQUIRE_FILE(stories());
  std::string prompt;
  for (int i = 0; i < 200; ++i) prompt += "word ";
  auto r = run_laneway("run -m " + stories() + " --ctx 32 -p '" + prompt + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("longer than the context"), std::string::npos) << r.err;
}

TEST(RunCli, StatsReportPeakRss) {
  LANEWAY_REQUIRE_FILE(stories());
  auto r = run_laneway("run -m " + stories() + " --temp 0 -n 8 -p 'Hi' --stats --ctx 256");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto at = r.err.find("peak_rss_bytes: ");
  ASSERT_NE(at, std::string::npos) << r.err;
  const uint64_t rss = std::stoull(r.err.substr(at + 16));
  EXPECT_GT(rss, 1000000u);  // the model alone is 1.1 MB
  EXPECT_LT(rss, 200000000u);
}

TEST(RunCli, BadInputsAreClearErrors) {
  LANEWAY_REQUIRE_FILE(stories());
  auto bad_kv = run_laneway("run -m " + stories() + " --cache-type-k q5_1 -p hi");
  EXPECT_NE(bad_kv.exit_code, 0);
  EXPECT_NE(bad_kv.err.find("q5_1"), std::string::npos) << bad_kv.err;
  auto gpu = run_laneway("run -m " + stories() + " --gpu-layers 10 -p hi");
  EXPECT_NE(gpu.exit_code, 0);
  EXPECT_NE(gpu.err.find("--gpu-layers"), std::string::npos) << gpu.err;
  auto missing = run_laneway("run -m /nonexistent.gguf -p hi");
  EXPECT_EQ(missing.exit_code, 2);
  auto q8_small_head = run_laneway("run -m " + stories() + " --cache-type-k q8_0 -p hi");
  EXPECT_EQ(q8_small_head.exit_code, 2);
  EXPECT_NE(q8_small_head.err.find("head size"), std::string::npos) << q8_small_head.err;
}

}  // namespace
}  // namespace laneway
