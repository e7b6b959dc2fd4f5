// Black-box tests of `laneway eval` and `laneway synth`.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway {
namespace {

using test::run_laneway;

TEST(EvalCli, Stories260KMatchesItsReference) {
  const std::string model = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(model);
  const std::string ref = test::reference_path("stories260K/llamacpp");
  auto r = run_laneway("eval -m " + model + " --ref-jsonl " + ref + ".jsonl --ref-logits " + ref + ".f32 --json -t 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_LE(j["mean_kl"].get<double>(), 1e-5);
  EXPECT_GE(j["top1"].get<double>(), 0.99);
  EXPECT_TRUE(j["greedy_match"].get<bool>());
  ASSERT_EQ(j["prompts"].size(), 8u);
  for (const auto& p : j["prompts"]) EXPECT_TRUE(p["greedy_match"].get<bool>());
}

// The evaluation can fail: another model's logits, or a reference shifted by
// one row, are reported as far off.
TEST(EvalCli, WrongReferencesAreFarOff) {
  const std::string model = test::testdata_path("models/synthetic/tiny-f16.gguf");
  LANEWAY_REQUIRE_FILE(model);
  const std::string other = test::reference_path("stories260K/llamacpp");
  auto r = run_laneway("eval -m " + model + " --ref-jsonl " + other + ".jsonl --ref-logits " + other + ".f32 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["mean_kl"].get<double>(), 0.1);
  EXPECT_FALSE(j["greedy_match"].get<bool>());

  // Shift every prompt's rows by one in the real reference.
  const std::string ref = test::reference_path("synthetic/tiny-f16.llamacpp");
  const auto dir = test::scratch_dir("eval_shifted");
  const std::string shifted = (dir / "shifted.jsonl").string();
  {
    std::ifstream in(ref + ".jsonl");
    std::ofstream out(shifted);
    std::string line;
    while (std::getline(in, line)) {
      auto l = nlohmann::json::parse(line);
      l["logits_offset_floats"] = l["logits_offset_floats"].get<uint64_t>() + l["n_vocab"].get<uint64_t>();
      l["logits_rows"] = l["logits_rows"].get<uint64_t>() - 1;
      out << l.dump() << "\n";
    }
  }
  auto s = run_laneway("eval -m " + model + " --ref-jsonl " + shifted + " --ref-logits " + ref + ".f32 --json");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  auto js = nlohmann::json::parse(s.out);
  EXPECT_GT(js["mean_kl"].get<double>(), 0.1);
  EXPECT_LT(js["top1"].get<double>(), 0.8);  // the real reference agrees on 99%

  auto good = run_laneway("eval -m " + model + " --ref-jsonl " + ref + ".jsonl --ref-logits " + ref + ".f32 --json");
  ASSERT_EQ(good.exit_code, 0) << good.err;
  EXPECT_LT(nlohmann::json::parse(good.out)["mean_kl"].get<double>(), 1e-4);
}

TEST(SynthCli, WritesALoadableModelOfTheShape) {
  const auto dir = test::scratch_dir("synth_cli");
  const std::string path = (dir / "tiny.gguf").string();
  auto r = run_laneway("synth --shape tiny --type F16 -o " + path + " --seed 7");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto i = run_laneway("inspect --json " + path);
  ASSERT_EQ(i.exit_code, 0) << i.err;
  auto j = nlohmann::json::parse(i.out);
  EXPECT_EQ(j["hyperparameters"]["embedding_length"], 256);
  EXPECT_EQ(j["hyperparameters"]["block_count"], 4);
  EXPECT_EQ(j["tokenizer"]["vocab_size"], 512);
  EXPECT_EQ(j["tensor_count"], 2 + 1 + 4 * 9);

  // A teacher-forced pass over a token file writes the last K rows of logits.
  const std::string tokens = (dir / "tokens.txt").string();
  std::ofstream(tokens) << "1 20 30 40 50 60\n";
  const std::string out = (dir / "logits.f32").string();
  auto e = run_laneway("eval -m " + path + " --tokens-file " + tokens + " --last 4 --logits-out " + out);
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_EQ(test::read_file(out).size(), 4u * 512u * 4u);

  // The same seed writes the same file.
  const std::string again = (dir / "again.gguf").string();
  ASSERT_EQ(run_laneway("synth --shape tiny --type F16 -o " + again + " --seed 7").exit_code, 0);
  EXPECT_EQ(test::read_file(path), test::read_file(again));
}

// The disk fills while the model is written (a file size limit stands in
// for a full disk: the same failed write(2), EFBIG instead of ENOSPC): a clear
// error, exit 2, the file already under the target name untouched and no
// partial file left beside it. Then the same command without the limit works.
TEST(SynthCli, AFailedWriteLeavesNoHalfWrittenFile) {
  const auto dir = test::scratch_dir("synth_disk_full");
  const std::string path = (dir / "tiny.gguf").string();
  std::ofstream(path) << "the file that was here before";
  // SIGXFSZ ignored (an ignored signal stays ignored across exec): the write fails instead of killing.
  const std::string limit = "trap '' XFSZ; ulimit -f 256; exec";  // 256 KiB; the file is ~1 MiB
  auto r = run_laneway("synth --shape tiny --type F16 -o " + path, "", limit);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;  // the system's words, not a guess
  EXPECT_NE(r.err.find("nothing was written under that name"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_file(path), "the file that was here before");
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir)) left.push_back(e.path().filename().string());
  EXPECT_EQ(left, std::vector<std::string>{"tiny.gguf"});

  ASSERT_EQ(run_laneway("synth --shape tiny --type F16 -o " + path).exit_code, 0);
  EXPECT_EQ(run_laneway("inspect " + path).exit_code, 0);
}

TEST(SynthCli, BadArgumentsAreUsageErrors) {
  const auto dir = test::scratch_dir("synth_bad");
  EXPECT_EQ(run_laneway("synth --shape nope -o " + (dir / "x.gguf").string()).exit_code, 1);
  EXPECT_EQ(run_laneway("synth --shape tiny --type Q9_9 -o " + (dir / "x.gguf").string()).exit_code, 1);
  EXPECT_EQ(run_laneway("eval -m x.gguf").exit_code, 1);
}

TEST(EvalCli, TooLongPromptAndBadModelAreClearErrors) {
  const std::string model = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(model);
  const auto dir = test::scratch_dir("eval_long");
  const std::string tokens = (dir / "tokens.txt").string();
  {
    std::ofstream t(tokens);
    for (int i = 0; i < 100; ++i) t << (i % 500) + 3 << " ";
  }
  auto r = run_laneway("eval -m " + model + " --ctx 64 --tokens-file " + tokens + " --logits-out " +
                       (dir / "o.f32").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("do not fit in the context"), std::string::npos) << r.err;
  auto v1 = run_laneway("eval -m " + test::testdata_path("models/legacy/tinyllamas-stories-260k-f32.gguf") +
                        " --tokens-file " + tokens + " --logits-out " + (dir / "o.f32").string());
  EXPECT_EQ(v1.exit_code, 2);
  EXPECT_NE(v1.err.find("version 1"), std::string::npos) << v1.err;
}

}  // namespace
}  // namespace laneway
