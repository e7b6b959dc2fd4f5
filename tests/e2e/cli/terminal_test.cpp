// Black-box tests of what only a terminal sees (through a pseudo-terminal):
// the chat of `laneway run` and progress lines, and that pipes see neither.
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "support/cli_runner.h"
#include "support/pty_runner.h"
#include "support/testdata.h"

namespace laneway {
namespace {

using test::run_laneway;
using test::run_laneway_pty;

std::string stories() { return test::testdata_path("models/stories260K.gguf"); }
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + 1)) ++n;
  return n;
}

TEST(ChatPty, RunWithoutAPromptOnATerminalChats) {
  LANEWAY_REQUIRE_FILE(stories());
  auto r = run_laneway_pty("run -m " + stories() + " --temp 0 -n 24 -t 2",
                           "Once upon a time\n/clear\n/?\nTell me a story\n/bye\n");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "chatting with")) << r.output;
  EXPECT_TRUE(contains(r.output, "no chat template in the file: using ChatML")) << r.output;
  EXPECT_TRUE(contains(r.output, "(conversation cleared)")) << r.output;
  EXPECT_TRUE(contains(r.output, "/bye    leave")) << r.output;
  // A prompt per line read, and the prompt after /bye is the last one.
  EXPECT_GE(count(r.output, ">>> "), 5u) << r.output;
  // Each reply is text of its own between the prompts (the input is echoed too).
  const size_t first = r.output.find("Once upon a time");
  ASSERT_NE(first, std::string::npos);
  const size_t reply_at = r.output.find("\n", first);
  const size_t next_prompt = r.output.find(">>> ", reply_at);
  ASSERT_NE(next_prompt, std::string::npos) << r.output;
  const std::string reply = r.output.substr(reply_at, next_prompt - reply_at);
  EXPECT_GT(reply.find_first_not_of("\r\n "), 0u) << r.output;
  EXPECT_GT(reply.size(), 6u) << r.output;
}

TEST(ChatPty, EndOfInputLeaves) {
  LANEWAY_REQUIRE_FILE(stories());
  auto r = run_laneway_pty("run -m " + stories() + " --temp 0 -n 8", "Hello\n\x04");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GE(count(r.output, ">>> "), 2u) << r.output;
}

TEST(ProgressPty, ShownOnATerminalOnly) {
  LANEWAY_REQUIRE_FILE(stories());
  auto tty = run_laneway_pty("run -m " + stories() + " --temp 0 -n 4 -p hi");
  ASSERT_EQ(tty.exit_code, 0) << tty.output;
  EXPECT_TRUE(contains(tty.output, "loading stories260K.gguf: ")) << tty.output;
  auto pipe = run_laneway("run -m " + stories() + " --temp 0 -n 4 -p hi");
  ASSERT_EQ(pipe.exit_code, 0) << pipe.err;
  EXPECT_FALSE(contains(pipe.err, "loading")) << pipe.err;
  EXPECT_FALSE(contains(pipe.err, "\033[")) << pipe.err;

  auto bench_tty = run_laneway_pty("bench -m " + stories() + " -p 16 -n 4 -r 2 -t 2");
  ASSERT_EQ(bench_tty.exit_code, 0) << bench_tty.output;
  EXPECT_TRUE(contains(bench_tty.output, "repetition 2/2")) << bench_tty.output;
  EXPECT_TRUE(contains(bench_tty.output, "model loaded in ")) << bench_tty.output;
  auto bench_pipe = run_laneway("bench -m " + stories() + " -p 16 -n 4 -r 2 -t 2");
  ASSERT_EQ(bench_pipe.exit_code, 0) << bench_pipe.err;
  EXPECT_FALSE(contains(bench_pipe.err, "repetition")) << bench_pipe.err;
  EXPECT_TRUE(contains(bench_pipe.out, "model loaded in ")) << bench_pipe.out;
  EXPECT_TRUE(std::regex_search(bench_pipe.out, std::regex(R"(\| +pp16 \|)"))) << bench_pipe.out;

  const auto dir = test::scratch_dir("progress_synth");
  auto synth_tty = run_laneway_pty("synth --shape tiny --type Q8_0 -o " + (dir / "a.gguf").string());
  ASSERT_EQ(synth_tty.exit_code, 0) << synth_tty.output;
  EXPECT_TRUE(contains(synth_tty.output, "writing " + (dir / "a.gguf").string() + ": ")) << synth_tty.output;
  auto synth_pipe = run_laneway("synth --shape tiny --type Q8_0 -o " + (dir / "b.gguf").string());
  ASSERT_EQ(synth_pipe.exit_code, 0) << synth_pipe.err;
  EXPECT_FALSE(contains(synth_pipe.err, "writing")) << synth_pipe.err;
}

}  // namespace
}  // namespace laneway
