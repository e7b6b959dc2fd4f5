// The official `openai` npm client (pinned by package-lock.json, installed
// with `npm ci` into the build tree) against a stories260K lane: chat and
// completions, streamed and not; greedy streamed text equals the whole
// answer; completions equal `laneway run`; the per-lane base URL works.
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

// Output of a shell command (stdout), and its exit code.
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

// Installs the pinned client once per build tree; "" on success, else why not.
std::string install_client(const std::filesystem::path& dir) {
  if (std::filesystem::exists(dir / "node_modules/openai/package.json")) return "";
  const std::filesystem::path src = LANEWAY_SERVER_E2E_DIR;
  std::filesystem::create_directories(dir);
  for (const char* f : {"package.json", "package-lock.json", "openai_client.mjs"}) {
    std::filesystem::copy_file(src / f, dir / f, std::filesystem::copy_options::overwrite_existing);
  }
  std::string out;
  const int rc = run_shell("cd '" + dir.string() + "' && npm ci --prefer-offline --no-audit --no-fund 2>&1", out);
  return rc == 0 ? "" : "npm ci failed (" + std::to_string(rc) + "): " + out;
}

// node, npm and the pinned client, installed; "" when ready, else why not
// (`required`: the caller must fail rather than skip).
std::string prepare_client(const std::filesystem::path& dir, bool& required) {
  required = testdata_required();
  std::string ignored;
  if (run_shell("command -v node >/dev/null && command -v npm >/dev/null", ignored) != 0) {
    return "node and npm are needed (Debian packages nodejs npm)";
  }
  const std::string install_error = install_client(dir);
  if (!install_error.empty()) return install_error;
  // Copy the script again so edits to it take effect without a reinstall.
  std::filesystem::copy_file(std::filesystem::path(LANEWAY_SERVER_E2E_DIR) / "openai_client.mjs", dir / "openai_client.mjs",
                             std::filesystem::copy_options::overwrite_existing);
  return "";
}

#define LANEWAY_PREPARE_CLIENT(dir)                          \
  do {                                                       \
    bool required_ = false;                                  \
    const std::string why_ = prepare_client(dir, required_); \
    if (!why_.empty()) {                                     \
      if (required_) FAIL() << why_;                         \
      GTEST_SKIP() << why_;                                  \
    }                                                        \
  } while (0)

TEST(ServerOpenAiClient, ChatAndCompletionsStreamedAndNot) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const std::filesystem::path dir = std::filesystem::path(LANEWAY_BINARY_DIR_FOR_TESTS) / "openai-client";
  LANEWAY_PREPARE_CLIENT(dir);

  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--slots", "2", "--ctx", "256"});
  ASSERT_TRUE(server.started()) << server.output();
  const std::string prompt = "Once upon a time, a little fox";
  std::string out;
  const int rc = run_shell("cd '" + dir.string() + "' && node openai_client.mjs '" + server.base_url() +
                               "' stories260k '" + prompt + "' 2>&1",
                           out);
  ASSERT_EQ(rc, 0) << out;
  const json r = json::parse(out.substr(out.find('{')), nullptr, false);
  ASSERT_FALSE(r.is_discarded()) << out;

  EXPECT_FALSE(r["chat"].get<std::string>().empty());
  EXPECT_EQ(r["chat_stream"], r["chat"]);
  EXPECT_EQ(r["chat_finish"], "length");
  EXPECT_EQ(r["chat_usage"]["completion_tokens"], 24);
  EXPECT_EQ(r["chat_stream_usage"]["completion_tokens"], 24);
  EXPECT_EQ(r["completion_stream"], r["completion"]);
  EXPECT_EQ(r["completion_finish"], "length");
  EXPECT_EQ(r["lane_chat"], r["chat"]);
  EXPECT_EQ(r["lane_models"], json::array({"stories260k"}));
  EXPECT_EQ(r["not_found"]["status"], 404);
  EXPECT_EQ(r["not_found"]["code"], "model_not_found");

  // /v1/completions greedy == `laneway run` on the same prompt.
  const CliResult run = run_laneway("run -m '" + stories_model_path() + "' -p '" + prompt + "' -n 24 --temp 0");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(r["completion"], generated_text(run.out));
  // Chat == `laneway run` on the prompt the (fallback) template renders.
  const auto file = scratch_dir("openai_chat") / "prompt.txt";
  std::ofstream(file, std::ios::binary) << "<|im_start|>user\n" << prompt << "<|im_end|>\n<|im_start|>assistant\n";
  const CliResult chat_run = run_laneway("run -m '" + stories_model_path() + "' -f '" + file.string() + "' -n 24 --temp 0");
  ASSERT_EQ(chat_run.exit_code, 0) << chat_run.err;
  EXPECT_EQ(r["chat"], generated_text(chat_run.out));
}

// The same client over HTTPS (server.tls via --tls-cert/--tls-key), trusting
// the test CA through NODE_EXTRA_CA_CERTS: chat and completions, streamed
// and not, give what they give over plain HTTP; without the CA the client
// refuses the server.
TEST(ServerOpenAiClient, OverHttpsWithTheTestCa) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  const std::filesystem::path dir = std::filesystem::path(LANEWAY_BINARY_DIR_FOR_TESTS) / "openai-client";
  LANEWAY_PREPARE_CLIENT(dir);
  const auto pki = scratch_dir("openai_client_tls");
  ASSERT_EQ(make_test_certificates(pki), "");
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--slots", "2", "--ctx", "256", "--tls-cert",
                        (pki / "server.pem").string(), "--tls-key", (pki / "server.key").string()});
  ASSERT_TRUE(server.started()) << server.output();
  ASSERT_EQ(server.base_url().rfind("https://127.0.0.1:", 0), 0u) << server.base_url();
  const std::string prompt = "Once upon a time, a little fox";
  std::string out;
  const int rc = run_shell("cd '" + dir.string() + "' && NODE_EXTRA_CA_CERTS='" + (pki / "ca.pem").string() +
                               "' node openai_client.mjs '" + server.base_url() + "' stories260k '" + prompt + "' 2>&1",
                           out);
  ASSERT_EQ(rc, 0) << out;
  const json r = json::parse(out.substr(out.find('{')), nullptr, false);
  ASSERT_FALSE(r.is_discarded()) << out;
  EXPECT_FALSE(r["chat"].get<std::string>().empty());
  EXPECT_EQ(r["chat_stream"], r["chat"]);
  EXPECT_EQ(r["chat_usage"]["completion_tokens"], 24);
  EXPECT_EQ(r["chat_stream_usage"]["completion_tokens"], 24);
  EXPECT_FALSE(r["completion"].get<std::string>().empty());
  EXPECT_EQ(r["completion_stream"], r["completion"]);
  EXPECT_EQ(r["lane_chat"], r["chat"]);
  EXPECT_EQ(r["not_found"]["status"], 404);

  // Greedy answers over HTTPS equal `laneway run`, as over plain HTTP.
  const CliResult run = run_laneway("run -m '" + stories_model_path() + "' -p '" + prompt + "' -n 24 --temp 0");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(r["completion"], generated_text(run.out));

  // Node without the test CA does not trust the server.
  std::string refused;
  const int rc_untrusted = run_shell("cd '" + dir.string() + "' && env -u NODE_EXTRA_CA_CERTS node openai_client.mjs '" +
                                         server.base_url() + "' stories260k hi 2>&1",
                                     refused);
  EXPECT_NE(rc_untrusted, 0) << refused;
  EXPECT_NE(refused.find("Connection error"), std::string::npos) << refused;
  EXPECT_TRUE(server.alive());
}

}  // namespace
}  // namespace laneway::test
