// The status page (/ui) in a real browser: headless Chromium (Debian
// `chromium`) loads it from a two-lane server, runs its script, and the DOM
// it leaves shows both lanes with their states and the memory map; a
// screenshot is written beside the test's scratch files.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "server_harness.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(ServerStatusPage, HeadlessChromiumRendersTheLanesAndTheMemoryMap) {
  LANEWAY_REQUIRE_FILE(stories_model_path());
  if (std::system("command -v chromium >/dev/null 2>&1") != 0) {
    if (testdata_required()) FAIL() << "chromium is missing (Debian package chromium; scripts/setup installs it)";
    GTEST_SKIP() << "chromium is missing (install the chromium package to run this test)";
  }
  const auto dir = scratch_dir("server_status_page");
  const std::string config = (dir / "lanes.yaml").string();
  std::ofstream(config) << "lanes:\n"
                           "  - name: fast\n    model: " + stories_model_path() + "\n    context: 4k\n    default: true\n"
                           "  - name: reader\n    model: " + stories_model_path() + "\n    context: 8k\n    load: on_demand\n";
  ServerProcess server({"--config", config, "--port", "0", "--memory-budget", "1GiB"});
  ASSERT_TRUE(server.started()) << server.output();
  const std::string url = server.base_url() + "/ui";
  HttpResponse page = http_get(server.port(), "/ui");
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.headers["content-type"].find("text/html"), std::string::npos);
  EXPECT_EQ(page.body.find("<script src"), std::string::npos) << "self-contained: nothing fetched from elsewhere";
  EXPECT_EQ(page.body.find("<link"), std::string::npos);
  // A browser asking / for HTML gets the page; Ollama's probe keeps its text.
  EXPECT_NE(http_request(server.port(), "GET", "/", "", {{"Accept", "text/html"}}).body.find("<!doctype html>"),
            std::string::npos);
  EXPECT_EQ(http_get(server.port(), "/").body, "Ollama is running");

  const std::string flags = " --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=5000 ";
  const std::string dom = run("timeout 120 chromium" + flags + "--dump-dom '" + url + "' 2>/dev/null");
  EXPECT_NE(dom.find("data-rendered=\"1\""), std::string::npos) << "the script ran and drew the page:\n" << dom;
  EXPECT_NE(dom.find("data-lane=\"fast\" data-state=\"ready\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("data-lane=\"reader\" data-state=\"unloaded\""), std::string::npos) << dom;
  EXPECT_NE(dom.find("class=\"seg\""), std::string::npos) << "the resident lane is a segment of the memory bar";
  // The budget: --memory-budget less Laneway's own overhead (a few MiB).
  EXPECT_NE(dom.find(" MiB of 10"), std::string::npos) << "the budget is drawn";

  const auto png = dir / "status-page.png";
  run("timeout 120 chromium" + flags + "--window-size=1200,700 --screenshot='" + png.string() + "' '" + url +
      "' >/dev/null 2>&1");
  const std::string bytes = read_file(png);
  ASSERT_GT(bytes.size(), 10'000u) << "a screenshot of a drawn page";
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
}

}  // namespace
}  // namespace laneway::test
