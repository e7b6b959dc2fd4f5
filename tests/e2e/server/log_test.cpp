// serve's log: the startup summary per lane, one access line per request
// with the fields an operator needs, JSON lines that parse, and --log-level.
#include <chrono>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

using json = nlohmann::json;

// The server's output once it holds `needle` (the logger writes from its own thread).
std::string output_with(ServerProcess& server, const std::string& needle) {
  for (int i = 0; i < 100; ++i) {
    std::string out = server.output();
    if (out.find(needle) != std::string::npos) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return server.output();
}

const std::string kChat =
    R"({"model": "stories260k", "messages": [{"role": "user", "content": "Once upon a time"}], "max_tokens": 8})";

TEST(ServeLog, StartupSummaryAndOneAccessLinePerRequest) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--ctx", "256", "-t", "2"});
  ASSERT_TRUE(server.started()) << server.output();
  std::string out = output_with(server, "lane stories260k:");
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(info lane stories260k: stories260K\.gguf \(llama\), context 256 tokens x 1 slot, KV f16/f16, 2 threads)")))
      << out;
  EXPECT_TRUE(out.find("no chat template in the file, using ChatML") != std::string::npos) << out;

  ASSERT_EQ(http_post(server.port(), "/v1/chat/completions", kChat).status, 200);
  ASSERT_EQ(http_get(server.port(), "/v1/nothing").status, 404);
  out = output_with(server, "access GET /v1/nothing");
  const std::regex chat_line(
      R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} info access POST /v1/chat/completions route=/v1/chat/completions lane=stories260k status=200 prompt_tokens=\d+ generated_tokens=\d+ ttft_ms=[\d.]+ total_ms=[\d.]+)");
  EXPECT_TRUE(std::regex_search(out, chat_line)) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(access GET /v1/nothing [^\n]*status=404 total_ms=)"))) << out;
  size_t lines = 0;
  for (size_t at = out.find(" access "); at != std::string::npos; at = out.find(" access ", at + 1)) ++lines;
  EXPECT_EQ(lines, 2u) << out;
}

TEST(ServeLog, JsonLinesParse) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--ctx", "256", "--log-format", "json"});
  ASSERT_TRUE(server.started()) << server.output();
  ASSERT_EQ(http_post(server.port(), "/v1/chat/completions", kChat).status, 200);
  const std::string out = output_with(server, "\"event\":\"access\"");
  std::istringstream lines(out);
  int access = 0, lane = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    const json j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    EXPECT_TRUE(j.contains("time") && j.contains("level")) << line;
    if (j["event"] == "access") {
      ++access;
      EXPECT_EQ(j["method"], "POST");
      EXPECT_EQ(j["path"], "/v1/chat/completions");
      EXPECT_EQ(j["lane"], "stories260k");
      EXPECT_EQ(j["status"], 200);
      EXPECT_GT(j["prompt_tokens"].get<int>(), 0);
      EXPECT_GT(j["generated_tokens"].get<int>(), 0);
      EXPECT_GE(j["ttft_ms"].get<double>(), 0);
      EXPECT_GE(j["total_ms"].get<double>(), j["ttft_ms"].get<double>());
    }
    if (j["event"] == "lane") {
      ++lane;
      EXPECT_EQ(j["architecture"], "llama");
      EXPECT_EQ(j["context_tokens"], 256);
      EXPECT_EQ(j["chat_template"], "chatml");
    }
  }
  EXPECT_EQ(access, 1) << out;
  EXPECT_EQ(lane, 1) << out;
}

TEST(ServeLog, LevelWarnHidesAccessLines) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  ServerProcess server({"-m", stories_model_path(), "--port", "0", "--ctx", "256", "--log-level", "warn"});
  ASSERT_TRUE(server.started()) << server.output();
  ASSERT_EQ(http_post(server.port(), "/v1/chat/completions", kChat).status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string out = server.output();
  EXPECT_EQ(out.find(" access "), std::string::npos) << out;
  EXPECT_EQ(out.find("lane stories260k:"), std::string::npos) << out;
}

}  // namespace
}  // namespace laneway::test
