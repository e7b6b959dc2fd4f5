// Black-box tests of `laneway tokenize` and `laneway detokenize`.
#include <string>

#include <gtest/gtest.h>

#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway {
namespace {

using test::run_laneway;

std::string stories() { return test::testdata_path("models/stories260K.gguf"); }

TEST(TokenizeCli, PrintsIdsWithBos) {
  LANEWAY_REQUIRE_FILE(stories());
  test::CliResult r = run_laneway("tokenize -m " + stories() + " 'Once upon a time'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1 403 407 261 378\n");
  r = run_laneway("tokenize --no-bos -m " + stories() + " 'Once upon a time'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "403 407 261 378\n");
  // stories260K sets seperator_token_id = 0xFFFFFFFF, the usual "no such token": no warning.
  EXPECT_EQ(r.err.find("outside the vocabulary"), std::string::npos) << r.err;
}

TEST(TokenizeCli, ReadsFileOrStdinAndPrintsPieces) {
  LANEWAY_REQUIRE_FILE(stories());
  test::CliResult r = run_laneway("tokenize --pieces --no-bos -m " + stories() + " --file -", "a\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\t a\n"), std::string::npos) << r.out;   // "▁a" shown with its space
  EXPECT_NE(r.out.find("\t\\n\n"), std::string::npos) << r.out;  // the newline byte, escaped
}

TEST(TokenizeCli, ParseSpecialTurnsMarkersIntoTokens) {
  const std::string gpt2 = test::testdata_path("vocab/ggml-vocab-gpt-2.gguf");
  LANEWAY_REQUIRE_FILE(gpt2);
  test::CliResult plain = run_laneway("tokenize -m " + gpt2 + " '<|endoftext|>'");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_NE(plain.out, "50256\n");
  test::CliResult parsed = run_laneway("tokenize --parse-special -m " + gpt2 + " '<|endoftext|>'");
  ASSERT_EQ(parsed.exit_code, 0) << parsed.err;
  EXPECT_EQ(parsed.out, "50256\n");
}

TEST(DetokenizeCli, PrintsTextAndRoundTrips) {
  LANEWAY_REQUIRE_FILE(stories());
  test::CliResult r = run_laneway("detokenize -m " + stories() + " 1 403 407 261 378");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Once upon a time\n");
  r = run_laneway("detokenize --no-newline -m " + stories() + " '1,403,407' --render-special");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<s> Once upon");
}

TEST(TokenizeCli, ErrorsHaveExitCodes) {
  LANEWAY_REQUIRE_FILE(stories());
  EXPECT_EQ(run_laneway("tokenize -m /nonexistent.gguf hi").exit_code, 2);
  EXPECT_EQ(run_laneway("tokenize -m " + stories()).exit_code, 1);  // no text
  test::CliResult r = run_laneway("detokenize -m " + stories() + " 100000");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("outside the vocabulary"), std::string::npos) << r.err;
  EXPECT_EQ(run_laneway("detokenize -m " + stories() + " 12abc").exit_code, 1);
}

}  // namespace
}  // namespace laneway
