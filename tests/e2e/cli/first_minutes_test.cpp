// Black-box tests of what a newcomer meets in the first minutes (issue 22):
// flags that take lanes.yaml's suffixes, --help with defaults, plan's words
// and numbers, and `run`'s newline, seed and standard input.
#include <fstream>
#include <regex>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway {
namespace {

using test::run_laneway;

std::string stories() { return test::testdata_path("models/stories260K.gguf"); }
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(FlagsCli, TokenAndSizeFlagsTakeTheConfigSuffixes) {
  auto r = run_laneway("plan --shape tinyllama-1.1b --type Q4_0 --ctx 128k --usable 64GiB --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["n_ctx"], 131072);
  EXPECT_EQ(j["usable_bytes"], 64ull << 30);
  r = run_laneway("plan --shape tinyllama-1.1b --type Q4_0 --ctx 1M --batch 1k --usable 1.5TiB --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["n_ctx"], 1048576);
  EXPECT_EQ(j["usable_bytes"], 1536ull << 30);
  r = run_laneway("plan --shape tinyllama-1.1b --type Q4_0 --ctx 4096 --usable 8000MB --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["usable_bytes"], 8000000000ull);
}

TEST(FlagsCli, BadValuesGetShortErrorsNamingTheFlag) {
  const std::string huge(300, '9');
  auto r = run_laneway("plan --shape tinyllama-1.1b --ctx " + huge);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "--ctx")) << r.err;
  EXPECT_LT(r.err.size(), 200u) << r.err;
  r = run_laneway("plan --shape tinyllama-1.1b --ctx 4096000000");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "--ctx")) << r.err;
  EXPECT_TRUE(contains(r.err, "most allowed, 1024M tokens")) << r.err;
  r = run_laneway("plan --shape tinyllama-1.1b --ctx 12q");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "unknown token unit 'q'")) << r.err;
  r = run_laneway("run -m x.gguf -p hi -n -5");
  EXPECT_EQ(r.exit_code, 1);
  r = run_laneway("bench -m x.gguf -p 128,5x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "5x")) << r.err;
  r = run_laneway("serve --memory-budget 12XB");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "--memory-budget")) << r.err;
  EXPECT_TRUE(contains(r.err, "unknown size unit 'XB'")) << r.err;
}

TEST(HelpCli, ShowsDefaults) {
  auto r = run_laneway("run --help");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(--n-predict[^\n]*128)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(--temp[^\n]*0\.8)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(--seed[^\n]*random)"))) << r.out;
  r = run_laneway("bench --help");
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(--n-prompt[^\n]*128,512)"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(--repetitions[^\n]*5)"))) << r.out;
}

TEST(HelpCli, PlanListsOnlyItsFlags) {
  auto r = run_laneway("plan --help");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(contains(r.out, "--mlock")) << r.out;
  EXPECT_TRUE(contains(r.out, "--lanes")) << r.out;
  EXPECT_TRUE(contains(r.out, "--ctx")) << r.out;
  // `-n` is run's --n-predict; detokenize spells --no-newline out.
  r = run_laneway("detokenize --help");
  EXPECT_FALSE(contains(r.out, "-n,")) << r.out;
}

TEST(PlanCli, UnknownShapeNamesTheValidOnes) {
  auto r = run_laneway("plan --shape llama-3-8b");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "unknown shape \"llama-3-8b\" (one of: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "llama-3.1-8b")) << r.err;
}

TEST(PlanCli, SaysTheTrainedContextAndScalesUnits) {
  LANEWAY_REQUIRE_FILE(stories());
  auto j = run_laneway("plan -m " + stories() + " --usable 64GiB --json");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const int64_t trained = nlohmann::json::parse(j.out)["n_ctx_train"];
  ASSERT_GT(trained, 0);
  auto r = run_laneway("plan -m " + stories() + " --usable 64GiB");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string trained_text = trained % 1024 == 0 ? std::to_string(trained / 1024) + "k" : std::to_string(trained);
  EXPECT_TRUE(contains(r.out, "trained on " + trained_text)) << r.out;
  EXPECT_TRUE(contains(r.out, "beyond that, quality usually drops")) << r.out;
  EXPECT_FALSE(contains(r.out, "largest context that fits")) << r.out;
  EXPECT_FALSE(contains(r.out, "0.00 GiB")) << r.out;
  EXPECT_TRUE(contains(r.out, "KiB") || contains(r.out, "MiB")) << r.out;
  // Token counts one way: no long raw numbers beside "k" and "M" ones.
  EXPECT_FALSE(std::regex_search(r.out, std::regex(R"(\b\d{6,} tokens)"))) << r.out;
  // Within the trained context the largest that fits is given plainly.
  auto small = run_laneway("plan --shape tinyllama-1.1b --type Q4_0 --usable 705MiB --ctx 256");
  ASSERT_EQ(small.exit_code, 0) << small.err;
  EXPECT_TRUE(contains(small.out, "fits; the largest context that fits is 1k tokens"))
      << small.out;
}

TEST(PlanCli, NoInternalWorkItemNumbers) {
  // A lane of a named shape: the plan needs no model file (ctest runs from the build tree).
  const auto dir = test::scratch_dir("plan_words");
  const std::string config = (dir / "lanes.yaml").string();
  {
    std::ofstream f(config);
    f << "lanes:\n  - name: chat\n    model: not-downloaded-yet.gguf\n    shape: llama-3.1-8b\n    shape_type: Q4_K_M\n    context: 32k\n";
  }
  auto r = run_laneway("plan --lanes " + config + " --profile strix-halo-128g");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::regex_search(r.out, std::regex(R"(issue \d)"))) << r.out;
}

TEST(RunCli, OutputEndsWithANewline) {
  LANEWAY_REQUIRE_FILE(stories());
  auto r = run_laneway("run -m " + stories() + " --temp 0 -n 12 -p 'Once upon a time'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_NE(r.out.substr(0, r.out.size() - 1).back(), '\n');  // one newline, not two
}

TEST(RunCli, SeedIsDrawnPrintedAndRepeatable) {
  LANEWAY_REQUIRE_FILE(stories());
  const std::string cmd = "run -m " + stories() + " --temp 1 -n 40 -p 'The cat' --stats";
  auto a = run_laneway(cmd);
  auto b = run_laneway(cmd);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  std::smatch ma, mb;
  ASSERT_TRUE(std::regex_search(a.err, ma, std::regex(R"(seed: (\d+))"))) << a.err;
  ASSERT_TRUE(std::regex_search(b.err, mb, std::regex(R"(seed: (\d+))"))) << b.err;
  EXPECT_NE(ma[1].str(), mb[1].str());
  EXPECT_TRUE(std::regex_search(a.err, std::regex(R"(load_seconds: \d+\.\d+)"))) << a.err;
  auto again = run_laneway("run -m " + stories() + " --temp 1 -n 40 -p 'The cat' --seed " + ma[1].str());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, a.out);
}

TEST(RunCli, ReadsThePromptFromPipedStdin) {
  LANEWAY_REQUIRE_FILE(stories());
  auto piped = run_laneway("run -m " + stories() + " --temp 0 -n 16", "Once upon a time");
  auto flag = run_laneway("run -m " + stories() + " --temp 0 -n 16 -p 'Once upon a time'");
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out, flag.out);
  auto none = run_laneway("run -m " + stories() + " -n 16");  // stdin is /dev/null
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(contains(none.err, "no prompt: give -p TEXT")) << none.err;
}

}  // namespace
}  // namespace laneway
