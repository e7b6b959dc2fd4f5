// Black-box tests of the tools around the engine (issue 22): `ls`, `config
// check`, colour, the man page and bash completion.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/cli_runner.h"
#include "support/pty_runner.h"
#include "support/testdata.h"

namespace laneway {
namespace {

using test::run_laneway;
namespace fs = std::filesystem;

std::string stories() { return test::testdata_path("models/stories260K.gguf"); }
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Sets an environment variable for one test (the binary inherits it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) setenv(name_, old_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(LsCli, ListsAFolderWithWhatAModelNeeds) {
  LANEWAY_REQUIRE_FILE(stories());
  const auto dir = test::scratch_dir("ls_folder");
  fs::copy_file(stories(), dir / "Stories260K.gguf");
  auto r = run_laneway("ls " + dir.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "1 model\n")) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(Stories260K +llama +\d+K +F32 +1\.\d+ MiB +2k +yes \(needs )")))
      << r.out;
  EXPECT_TRUE(contains(r.out, "usable memory: ")) << r.out;
  auto j = run_laneway("ls " + dir.string() + " --json");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto a = nlohmann::json::parse(j.out);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["architecture"], "llama");
  EXPECT_GT(a[0]["parameters"].get<uint64_t>(), 200000u);
  EXPECT_EQ(a[0]["trained_context"], 2048);
  EXPECT_EQ(a[0]["fits_at_trained_context"], true);
}

TEST(LsCli, EmptyAndMissingFolders) {
  auto empty = run_laneway("ls " + test::scratch_dir("ls_empty").string());
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_TRUE(contains(empty.out, "no GGUF models found there")) << empty.out;
  auto missing = run_laneway("ls /nonexistent/models");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_TRUE(contains(missing.err, "/nonexistent/models")) << missing.err;
}

TEST(LsCli, WithoutAFolderListsWhereServeLooks) {
  LANEWAY_REQUIRE_FILE(stories());
  const auto dir = test::scratch_dir("ls_discover");
  fs::create_directories(dir / "models");
  fs::create_directories(dir / "home");
  fs::copy_file(stories(), dir / "models" / "tiny-story.gguf");
  ScopedEnv models("LANEWAY_MODELS", (dir / "models").string());
  ScopedEnv home("HOME", (dir / "home").string());
  auto r = run_laneway("ls");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "$LANEWAY_MODELS (" + (dir / "models").string() + "): 1 model")) << r.out;
  EXPECT_TRUE(contains(r.out, "tiny-story")) << r.out;
}

TEST(ConfigCli, CheckPrintsTheResolvedLanes) {
  LANEWAY_REQUIRE_FILE(stories());
  const auto dir = test::scratch_dir("config_check");
  const auto file = dir / "lanes.yaml";
  std::ofstream(file) << "lanes:\n  - name: story\n    model: " << stories()
                      << "\n    context: 1k\n    slots: 2\n  - name: later\n    model: /nonexistent/x.gguf\n"
                         "    load: on_demand\n";
  auto r = run_laneway("config check " + file.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, file.string() + ": valid; 2 lanes, 0 services")) << r.out;
  EXPECT_TRUE(contains(r.out, "lane story (default)") || contains(r.out, "lane story [line")) << r.out;
  EXPECT_TRUE(contains(r.out, "context 1k tokens x 2 slots, queue 8, KV f16/f16")) << r.out;
  EXPECT_TRUE(contains(r.out, "not found on this machine")) << r.out;
  EXPECT_TRUE(contains(r.out, "load on_demand, unloads after 300 s idle")) << r.out;
  auto j = run_laneway("config check " + file.string() + " --json");
  ASSERT_EQ(j.exit_code, 0) << j.err;
  auto c = nlohmann::json::parse(j.out);
  EXPECT_EQ(c["lanes"][0]["context_tokens"], 1024);
  EXPECT_EQ(c["lanes"][1]["model_exists"], false);
}

TEST(ConfigCli, UnknownKeyGetsDidYouMeanAndExit2) {
  const auto dir = test::scratch_dir("config_typo");
  const auto file = dir / "lanes.yaml";
  std::ofstream(file) << "lanes:\n  - name: story\n    model: /x.gguf\n    contxt: 4096\n";
  auto r = run_laneway("config check " + file.string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "lanes.yaml:4")) << r.err;
  EXPECT_TRUE(contains(r.err, "unknown key; did you mean 'context'?")) << r.err;
  auto missing = run_laneway("config check /nonexistent/lanes.yaml");
  EXPECT_EQ(missing.exit_code, 2);
}

TEST(ColourCli, OnATerminalOnlyAndNeverWithNoColor) {
  auto tty = test::run_laneway_pty("run -m /nonexistent.gguf -p hi");
  EXPECT_TRUE(contains(tty.output, "\033[31mlaneway run:\033[0m")) << tty.output;
  auto no_color = test::run_laneway_pty("run -m /nonexistent.gguf -p hi", "", 60, "NO_COLOR=1");
  EXPECT_TRUE(contains(no_color.output, "laneway run:")) << no_color.output;
  EXPECT_FALSE(contains(no_color.output, "\033[")) << no_color.output;
  auto pipe = run_laneway("run -m /nonexistent.gguf -p hi");
  EXPECT_FALSE(contains(pipe.err, "\033[")) << pipe.err;
  auto doctor = test::run_laneway_pty("doctor --no-vulkan");
  EXPECT_TRUE(contains(doctor.output, "\033[32m[ok]")) << doctor.output;
  auto doctor_pipe = run_laneway("doctor --no-vulkan");
  EXPECT_FALSE(contains(doctor_pipe.out, "\033[")) << doctor_pipe.out;
}

TEST(InstallFiles, ManPageComesFromTheHelpText) {
  const auto page = test::laneway_binary().parent_path() / "laneway.1";
  ASSERT_TRUE(fs::exists(page)) << page << " (the laneway_man target writes it)";
  const std::string text = test::read_file(page);
  EXPECT_TRUE(contains(text, ".TH LANEWAY 1")) << text.substr(0, 200);
  for (const char* cmd : {"run", "serve", "plan", "ls", "config", "doctor"}) {
    EXPECT_TRUE(contains(text, std::string(".SH \"laneway ") + cmd + "\"")) << cmd;
  }
  EXPECT_TRUE(contains(text, "--n-predict")) << "run's flags";
  EXPECT_TRUE(contains(text, "Usage: laneway config check")) << "config check's flags";
}

TEST(InstallFiles, BashCompletionOffersCommandsAndFlags) {
  const std::string script = std::string(LANEWAY_SOURCE_DIR) + "/share/bash-completion/laneway";
  const std::string bin = test::laneway_binary().string();
  auto complete = [&](const std::string& words, int cword) {
    const std::string cmd = "bash -c 'source " + script + "; COMP_WORDS=(" + bin + " " + words + "); COMP_CWORD=" +
                            std::to_string(cword) + "; _laneway; echo \"${COMPREPLY[*]}\"' 2>/dev/null";
    std::string out;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
  };
  EXPECT_EQ(complete("ru", 1), "run\n");
  EXPECT_TRUE(contains(complete("se", 1), "serve")) << complete("se", 1);
  const std::string flags = complete("run --n-p", 2);
  EXPECT_EQ(flags, "--n-predict\n") << flags;
  EXPECT_TRUE(contains(complete("serve --log-format ''", 3), "json")) << complete("serve --log-format ''", 3);
}

}  // namespace
}  // namespace laneway
