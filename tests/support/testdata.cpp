#include "support/testdata.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <fcntl.h>
#include <unistd.h>

namespace laneway::test {
namespace {
std::filesystem::path env_or(const char* name, const std::filesystem::path& fallback) {
  const char* v = std::getenv(name);
  if (v != nullptr && *v != '\0') return v;
  return fallback;
}
}  // namespace

std::filesystem::path testdata_dir() {
  return env_or("LANEWAY_TESTDATA", std::filesystem::path(LANEWAY_SHARED_DEFAULT) / "testdata");
}
std::filesystem::path reference_dir() {
  return env_or("LANEWAY_REFERENCE", std::filesystem::path(LANEWAY_SHARED_DEFAULT) / "reference");
}
std::string testdata_path(const std::string& relative) { return (testdata_dir() / relative).string(); }
std::string reference_path(const std::string& relative) { return (reference_dir() / relative).string(); }

bool testdata_required() {
  const char* v = std::getenv("LANEWAY_REQUIRE_TESTDATA");
  return v != nullptr && std::string(v) == "1";
}

std::filesystem::path laneway_binary() {
  return std::filesystem::path(LANEWAY_BINARY_DIR) / "src" / "cli" / "laneway";
}

std::vector<std::string> laneway_argv0() {
#if defined(LANEWAY_CLI_EMULATOR)
  return {LANEWAY_CLI_EMULATOR, laneway_binary().string()};
#else
  return {laneway_binary().string()};
#endif
}

std::string laneway_command() {
  std::string cmd;
  for (const std::string& w : laneway_argv0()) cmd += (cmd.empty() ? "" : " ") + w;
  return cmd;
}

std::filesystem::path scratch_dir(const std::string& name) {
  auto dir = std::filesystem::path(LANEWAY_BINARY_DIR) / "test-scratch" /
             (name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool drop_from_page_cache(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  (void)::fdatasync(fd);  // best effort: dirty pages are not dropped (a read-only mount may refuse it)
  const bool ok = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  ::close(fd);
  return ok;
}

}  // namespace laneway::test
