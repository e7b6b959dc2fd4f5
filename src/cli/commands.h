// Each command lives in its own cmd_<name>.cpp and registers a CLI11
// subcommand. The callback stores the process exit code in `exit_code`:
// 0 success, 1 usage error, 2 bad input (bad file, bad template, ...).
#pragma once

#include <CLI/CLI.hpp>

namespace laneway::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 1;
inline constexpr int kExitBadInput = 2;

void register_inspect(CLI::App& app, int& exit_code);
void register_eval(CLI::App& app, int& exit_code);
void register_synth(CLI::App& app, int& exit_code);
void register_bench(CLI::App& app, int& exit_code);
void register_run(CLI::App& app, int& exit_code);
void register_plan(CLI::App& app, int& exit_code);
void register_tokenize(CLI::App& app, int& exit_code);  // tokenize + detokenize
void register_doctor(CLI::App& app, int& exit_code);
void register_template(CLI::App& app, int& exit_code);
void register_serve(CLI::App& app, int& exit_code);
void register_ls(CLI::App& app, int& exit_code);      // needs the planner
void register_config(CLI::App& app, int& exit_code);  // config check

}  // namespace laneway::cli
