// Where tests find ../shared: $LANEWAY_TESTDATA / $LANEWAY_REFERENCE, else
// the ../shared folder beside the checkout.
//
// A test that needs a file calls LANEWAY_REQUIRE_FILE(path): when the file is
// missing it fails if LANEWAY_REQUIRE_TESTDATA=1 (CI) and skips with a clear
// message otherwise.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace laneway::test {

std::filesystem::path testdata_dir();   // .../shared/testdata
std::filesystem::path reference_dir();  // .../shared/reference
std::string testdata_path(const std::string& relative);
std::string reference_path(const std::string& relative);
bool testdata_required();  // LANEWAY_REQUIRE_TESTDATA=1
// The laneway binary built beside the tests (for black-box CLI tests).
std::filesystem::path laneway_binary();
// What starts it: {laneway_binary()}, or the emulator and then the binary in
// a cross build whose tests run under qemu-user (which does not follow exec).
std::vector<std::string> laneway_argv0();
// The same as one shell word list (for popen / sh -c).
std::string laneway_command();
// A fresh empty directory under the build tree, removed at process exit is
// not guaranteed; names are unique per test.
std::filesystem::path scratch_dir(const std::string& name);
// Whole file as bytes / text.
std::string read_file(const std::filesystem::path& path);
// Asks the kernel to drop the file's clean pages from the page cache
// (posix_fadvise DONTNEED after fdatasync), so the next reader reads it from
// disk the way a model is read after a reboot, not from the pages a test
// just wrote (which the kernel caches differently). False when it could not.
bool drop_from_page_cache(const std::filesystem::path& path);

}  // namespace laneway::test

#define LANEWAY_REQUIRE_FILE(path)                                                            \
  do {                                                                                        \
    if (!std::filesystem::exists(path)) {                                                     \
      if (::laneway::test::testdata_required()) {                                             \
        FAIL() << "test data missing: " << (path)                                             \
               << " (LANEWAY_REQUIRE_TESTDATA=1; set LANEWAY_TESTDATA/LANEWAY_REFERENCE)";   \
      } else {                                                                                \
        GTEST_SKIP() << "test data missing: " << (path)                                       \
                     << " (set LANEWAY_TESTDATA / LANEWAY_REFERENCE to run this test)";       \
      }                                                                                       \
    }                                                                                         \
  } while (0)
