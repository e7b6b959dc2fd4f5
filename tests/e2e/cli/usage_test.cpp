// Black-box tests of the first thing a newcomer types: no command, `help`,
// a mistyped command.
#include <string>

#include <gtest/gtest.h>

#include "support/cli_runner.h"

namespace laneway {
namespace {

using test::run_laneway;

TEST(UsageCli, NoCommandListsTheCommands) {
  auto r = run_laneway("");
  EXPECT_EQ(r.exit_code, 1);
  for (const char* cmd : {"run", "serve", "plan", "doctor", "bench"}) {
    EXPECT_NE(r.err.find(std::string("  ") + cmd), std::string::npos) << cmd << "\n" << r.err;
  }
  auto help = run_laneway("help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("  serve"), std::string::npos) << help.out;
}

TEST(UsageCli, MistypedCommandGetsTheNearestOne) {
  auto r = run_laneway("runn -m x.gguf");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown command \"runn\"; did you mean \"run\"?"), std::string::npos) << r.err;
  auto swapped = run_laneway("sevre");
  EXPECT_NE(swapped.err.find("did you mean \"serve\"?"), std::string::npos) << swapped.err;
  auto far = run_laneway("frobnicate");
  EXPECT_EQ(far.exit_code, 1);
  EXPECT_NE(far.err.find("unknown command \"frobnicate\"\n"), std::string::npos) << far.err;
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << far.err;
}

}  // namespace
}  // namespace laneway
