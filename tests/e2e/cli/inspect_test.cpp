// Black-box tests of `laneway inspect`: exit codes, text and JSON output.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gguf/writer.h"
#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway {
namespace {

using test::run_laneway;

TEST(InspectCli, Stories260KText) {
  const std::string path = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(path);
  test::CliResult r = run_laneway("inspect " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("architecture:  llama"), std::string::npos);
  EXPECT_NE(r.out.find("block_count"), std::string::npos);
  EXPECT_NE(r.out.find("blk.4.ffn_down.weight"), std::string::npos);
  EXPECT_NE(r.out.find("(512 items)"), std::string::npos);  // long arrays truncated
  EXPECT_NE(r.out.find("F32         48 tensors"), std::string::npos) << r.out;
}

TEST(InspectCli, Stories260KJson) {
  const std::string path = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(path);
  test::CliResult r = run_laneway("inspect --json " + path);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "llama");
  EXPECT_EQ(j["gguf_version"], 3);
  EXPECT_EQ(j["hyperparameters"]["block_count"], 5);
  EXPECT_EQ(j["hyperparameters"]["embedding_length"], 64);
  EXPECT_EQ(j["tokenizer"]["vocab_size"], 512);
  EXPECT_EQ(j["tokenizer"]["bos_token_id"], 1);
  EXPECT_EQ(j["tokenizer"]["model"], "llama");
  EXPECT_EQ(j["tensors"].size(), 48u);
  EXPECT_EQ(j["tensor_count"], 48);
  EXPECT_EQ(j["metadata"]["tokenizer.ggml.tokens"]["length"], 512);
  EXPECT_EQ(j["totals_by_type"][0]["type"], "F32");
  EXPECT_EQ(j["totals_by_type"][0]["count"], 48);
  uint64_t sum = 0;
  for (const auto& t : j["tensors"]) sum += t["bytes"].get<uint64_t>();
  EXPECT_EQ(j["total_tensor_bytes"].get<uint64_t>(), sum);
  EXPECT_EQ(j["tensors"][0]["offset"], 14176);
}

TEST(InspectCli, BadFileExitsTwoWithMessage) {
  const auto dir = test::scratch_dir("inspect_bad");
  const std::string path = (dir / "broken.gguf").string();
  GgufWriter w;
  w.add_u32("x", 1);
  auto bytes = w.write_bytes();
  bytes[0] = 'X';
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  test::CliResult r = run_laneway("inspect " + path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not a GGUF file"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());

  test::CliResult missing = run_laneway("inspect " + (dir / "nope.gguf").string());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("cannot open"), std::string::npos) << missing.err;
}

TEST(InspectCli, LegacyV1IsRefusedByVersion) {
  const std::string path = test::testdata_path("models/legacy/tinyllamas-stories-260k-f32.gguf");
  LANEWAY_REQUIRE_FILE(path);
  test::CliResult r = run_laneway("inspect " + path);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("version 1"), std::string::npos) << r.err;
}

TEST(InspectCli, UsageErrorsExitOne) {
  EXPECT_EQ(run_laneway("inspect").exit_code, 1);
  EXPECT_EQ(run_laneway("inspect --bogus x.gguf").exit_code, 1);
  EXPECT_EQ(run_laneway("no-such-command").exit_code, 1);
  EXPECT_EQ(run_laneway("--help").exit_code, 0);
}

}  // namespace
}  // namespace laneway
