// laneway: one binary, one subcommand per job (see commands.h).
#include <cstdio>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"laneway: a local LLM runtime (GGUF models on CPU and GPU, served through named lanes)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "laneway 0.1.0");
  int exit_code = laneway::cli::kExitOk;
  // LANEWAY_NO_CMD_<NAME> is defined when a module is left out of the build
  // (LANEWAY_SKIP_MODULES); a normal build registers every command.

  laneway::cli::register_inspect(app, exit_code);
  laneway::cli::register_eval(app, exit_code);
  laneway::cli::register_synth(app, exit_code);
  laneway::cli::register_bench(app, exit_code);
#ifndef LANEWAY_NO_CMD_RUN
  laneway::cli::register_run(app, exit_code);
#endif
#ifndef LANEWAY_NO_CMD_PLAN
  laneway::cli::register_plan(app, exit_code);
#endif
#ifndef LANEWAY_NO_CMD_TOKENIZE
  laneway::cli::register_tokenize(app, exit_code);
#endif
#ifndef LANEWAY_NO_CMD_DOCTOR
  laneway::cli::register_doctor(app, exit_code);
#endif
#ifndef LANEWAY_NO_CMD_TEMPLATE
  laneway::cli::register_template(app, exit_code);
#endif
#ifndef LANEWAY_NO_CMD_SERVE
  laneway::cli::register_serve(app, exit_code);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? laneway::cli::kExitOk : laneway::cli::kExitUsage;
  }
  return exit_code;
}
