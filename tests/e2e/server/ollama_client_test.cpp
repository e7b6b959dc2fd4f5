// The official `ollama` npm client (pinned by package-lock.json, installed
// with `npm ci` into the build tree) against a stories260K lane: list, show,
// ps, generate and chat, streamed and not; greedy output equals `laneway run`
// on the same rendered prompt; streamed text equals the whole answer; errors
// arrive as the client's ResponseError with Ollama's message.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "server_harness.h"
#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using json = nlohmann::json;

int run_shell(const std::string& cmd, std::string& out) {
  out.clear();
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Installs the pinned clients once per build tree; "" on success, else why not.
std::string install_client(const std::filesystem::path& dir) {
  if (std::filesystem::exists(dir / "node_modules/ollama/package.json")) return "";
  const std::filesystem::path src = LANEWAY_SERVER_E2E_DIR;
  std::filesystem::create_directories(dir);
  for (const char* f : {"package.json", "package-lock.json"}) {
    std::filesystem::copy_file(src / f, dir / f, std::filesystem::copy_options::overwrite_existing);
  }
  std::string out;
  const int rc = run_shell("cd '" + dir.string() + "' && npm ci --prefer-offline --no-audit --no-fund 2>&1", out);
  return rc == 0 ? "" : "npm ci failed (" + std::to_string(rc) + "): " + out;
}

TEST(ServerOllamaClient, ListShowPsGenerateAndChatStreamedAndNot) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  std::string ignored;
  if (run_shell("command -v node >/dev/null && command -v npm >/dev/null", ignored) != 0) {
    if (testdata_required()) FAIL() << "node and npm are needed (Debian packages nodejs npm)";
    GTEST_SKIP() << "node/npm missing";
  }
  const std::filesystem::path dir = std::filesystem::path(LANEWAY_BINARY_DIR_FOR_TESTS) / "ollama-client";
  const std::string install_error = install_client(dir);
  if (!install_error.empty()) {
    if (testdata_required()) FAIL() << install_error;
    GTEST_SKIP() << install_error;
  }
  std::filesystem::copy_file(std::filesystem::path(LANEWAY_SERVER_E2E_DIR) / "ollama_client.mjs", dir / "ollama_client.mjs",
                             std::filesystem::copy_options::overwrite_existing);

  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--slots", "2", "--ctx", "256", "--api-key", "sk-e2e"});
  ASSERT_TRUE(server.started()) << server.output();
  const std::string prompt = "Once upon a time, a little fox";
  std::string out;
  const int rc = run_shell("cd '" + dir.string() + "' && node ollama_client.mjs '" + server.base_url() +
                               "' stories260k '" + prompt + "' 2>&1",
                           out);
  ASSERT_EQ(rc, 0) << out;
  const json r = json::parse(out.substr(out.find('{')), nullptr, false);
  ASSERT_FALSE(r.is_discarded()) << out;

  // list / show / ps
  ASSERT_EQ(r["list"].size(), 1u) << r["list"].dump();
  const json& m = r["list"][0];
  EXPECT_EQ(m["name"], "stories260k:latest");
  EXPECT_EQ(m["digest"], "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d");
  EXPECT_EQ(m["size"], std::filesystem::file_size(stories_model_path()));
  EXPECT_EQ(m["details"]["family"], "llama");
  EXPECT_EQ(m["details"]["format"], "gguf");
  EXPECT_EQ(m["details"]["quantization_level"], "F32");
  EXPECT_EQ(r["show"]["model_info"]["general.architecture"], "llama");
  EXPECT_EQ(r["show"]["has_modelfile"], true);
  ASSERT_EQ(r["ps"].size(), 1u);
  EXPECT_EQ(r["ps"][0]["name"], "stories260k:latest");
  EXPECT_GT(r["ps"][0]["size"].get<int64_t>(), 0);
  EXPECT_EQ(r["ps"][0]["size_vram"], 0);

  // generate: streamed == whole, 24 tokens, several chunks.
  EXPECT_FALSE(r["generate"].get<std::string>().empty());
  EXPECT_EQ(r["generate_stream"], r["generate"]);
  EXPECT_GT(r["generate_stream_chunks"].get<int>(), 2);
  EXPECT_EQ(r["generate_final"]["done"], true);
  EXPECT_EQ(r["generate_final"]["done_reason"], "length");
  EXPECT_EQ(r["generate_final"]["eval_count"], 24);
  EXPECT_GT(r["generate_final"]["total_duration"].get<int64_t>(), 0);
  EXPECT_EQ(r["generate_stream_last"]["eval_count"], 24);
  EXPECT_EQ(r["latest_same"], true);
  // chat: streamed == whole.
  EXPECT_FALSE(r["chat"].get<std::string>().empty());
  EXPECT_EQ(r["chat_role"], "assistant");
  EXPECT_EQ(r["chat_stream"], r["chat"]);
  EXPECT_EQ(r["chat_final"]["eval_count"], 24);
  // Errors: the client's ResponseError with the status and Ollama's message.
  EXPECT_EQ(r["not_found"]["status"], 404);
  EXPECT_NE(r["not_found"]["error"].get<std::string>().find("not found"), std::string::npos);
  EXPECT_EQ(r["format"]["status"], 400);
  EXPECT_NE(r["format"]["error"].get<std::string>().find("format"), std::string::npos);

  // Greedy output equals `laneway run` on the same prompt with Ollama's
  // default penalties (repeat_penalty 1.1 over the last 64 tokens).
  // stories260K has no chat template of its own, so /api/generate sends the
  // bare prompt (as Ollama does for such a model), and raw does too.
  const std::string penalties = " --repeat-penalty 1.1 --penalty-last-n 64";
  const CliResult run = run_laneway("run -m '" + stories_model_path() + "' -p '" + prompt + "' -n 24 --temp 0" + penalties);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(r["generate"], generated_text(run.out));
  EXPECT_EQ(r["generate_raw"], generated_text(run.out));
  // Chat: the prompt the fallback template renders.
  const auto file = scratch_dir("ollama_chat") / "prompt.txt";
  std::ofstream(file, std::ios::binary) << "<|im_start|>user\n" << prompt << "<|im_end|>\n<|im_start|>assistant\n";
  const CliResult chat_run =
      run_laneway("run -m '" + stories_model_path() + "' -f '" + file.string() + "' -n 24 --temp 0" + penalties);
  ASSERT_EQ(chat_run.exit_code, 0) << chat_run.err;
  EXPECT_EQ(r["chat"], generated_text(chat_run.out));
}

}  // namespace
}  // namespace laneway::test
