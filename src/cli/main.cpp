// laneway: one binary, one subcommand per job (see commands.h).
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "core/did_you_mean.h"


int main(int argc, char** argv) {
  CLI::App app{"laneway: a local LLM runtime (GGUF models on CPU and GPU, served through named lanes)", "laneway"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "laneway 0.1.0");
  // --help shows each flag's default ("[512]"), as llama.cpp's and Ollama's do.
  app.option_defaults()->always_capture_default();
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
#ifndef LANEWAY_NO_CMD_LS
  laneway::cli::register_ls(app, exit_code);
#endif
  laneway::cli::register_config(app, exit_code);

  // `laneway`, `laneway help`, `laneway runn`: the commands, and the nearest
  // one when a name was mistyped (CLI11 alone says "A subcommand is required").
  if (argc < 2 || std::string_view(argv[1]) == "help") {
    std::fputs(app.help().c_str(), argc < 2 ? stderr : stdout);
    return argc < 2 ? laneway::cli::kExitUsage : laneway::cli::kExitOk;
  }
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
  if (argv[1][0] != '-' && std::find(names.begin(), names.end(), argv[1]) == names.end()) {
    const std::string near = laneway::nearest_name(argv[1], names);
    std::fprintf(stderr, "laneway: unknown command \"%s\"%s\n\n%s", argv[1],
                 near.empty() ? "" : ("; did you mean \"" + near + "\"?").c_str(), app.help().c_str());
    return laneway::cli::kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? laneway::cli::kExitOk : laneway::cli::kExitUsage;
  }
  return exit_code;
}
