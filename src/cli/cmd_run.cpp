// laneway run: load a model, generate from a prompt, stream the text.
//   laneway run -m FILE -p PROMPT [-n N] [--temp T] [--seed S] [--threads N] [--ctx N] [--mlock] [--stats]
//   echo PROMPT | laneway run -m FILE          the prompt from standard input
//   laneway run -m FILE                        on a terminal: a chat (cli/run_chat.h)
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>
#include <unistd.h>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "cli/flag_values.h"
#include "cli/generate.h"
#include "cli/run_chat.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace laneway::cli {
namespace {

struct RunFlags {
  EngineFlags engine;
  std::string prompt;
  std::string prompt_file;
  int64_t n_predict = 128;
  SamplingParams sampling;
  CLI::Option* seed_opt = nullptr;
  bool stats = false;
  bool no_bos = false;
};

// A "Key:  N kB" line of /proc/self/status, in bytes (0 when absent).
uint64_t proc_status_bytes(std::string_view key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 && line[key.size()] == ':') {
      return std::stoull(line.substr(key.size() + 1)) * 1024;
    }
  }
  return 0;
}

// The prompt: -p, -f, else piped standard input. nullopt: none at all (a
// terminal on standard input: the caller opens a chat).
Result<std::optional<std::string>> read_prompt(const RunFlags& f) {
  if (!f.prompt_file.empty()) {
    std::ifstream in(f.prompt_file, std::ios::binary);
    if (!in) return io_error("cannot open {}", f.prompt_file);
    return std::optional<std::string>(std::string(std::istreambuf_iterator<char>(in), {}));
  }
  if (!f.prompt.empty()) return std::optional<std::string>(f.prompt);
  if (isatty(STDIN_FILENO) != 0) return std::optional<std::string>();
  std::string text(std::istreambuf_iterator<char>(std::cin), {});
  if (text.empty()) {
    return invalid_argument_error("no prompt: give -p TEXT or -f FILE, pipe the prompt on standard input "
                                  "(echo hi | laneway run -m FILE), or run it on a terminal to chat");
  }
  return std::optional<std::string>(std::move(text));
}

Status run(RunFlags& f, int& exit_code) {
  // Before loading: a missing prompt is a usage error, found in a second.
  exit_code = kExitUsage;
  LANEWAY_ASSIGN_OR_RETURN(const std::optional<std::string> prompt, read_prompt(f));
  exit_code = kExitBadInput;
  // A seed nobody gave is drawn, so two runs differ; --stats prints it to repeat one.
  if (f.seed_opt->count() == 0) f.sampling.seed = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
  // --stats prefaults the weights so the RSS it reports is the real cost.
  LANEWAY_ASSIGN_OR_RETURN(LoadedEngine e, load_engine(f.engine, 1, f.stats));
  LANEWAY_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::from_gguf(e.model->meta()));
  ForwardContext& ctx = *e.ctx;
  LANEWAY_ASSIGN_OR_RETURN(Sampler sampler, Sampler::create(f.sampling, static_cast<int32_t>(e.model->hparams().n_vocab)));
  SequenceSession session(ctx, tok);

  if (!prompt) {
#ifndef LANEWAY_NO_CMD_RUN_CHAT
    LANEWAY_TRY(run_chat(*e.model, tok, session, sampler, f.n_predict));
    exit_code = kExitOk;
    return Status::ok();
#else
    return invalid_argument_error("no prompt: give -p TEXT or -f FILE (this build has no chat)");
#endif
  }

  EncodeOptions eo;
  eo.add_special = !f.no_bos;
  const std::vector<int32_t> tokens = tok.encode(*prompt, eo);
  if (tokens.empty()) return invalid_argument_error("the prompt is empty");
  const int64_t n_ctx = ctx.context_tokens();
  if (static_cast<int64_t>(tokens.size()) > n_ctx) {
    exit_code = kExitBadInput;
    return invalid_argument_error("the prompt is {} tokens, longer than the context of {} tokens (raise --ctx)",
                                  tokens.size(), n_ctx);
  }
  bool ends_in_newline = true;  // nothing printed yet
  LANEWAY_ASSIGN_OR_RETURN(const GenerateStats g,
                           session.generate(tokens, sampler, f.n_predict, {}, [&](std::string_view text) {
                             std::fwrite(text.data(), 1, text.size(), stdout);
                             std::fflush(stdout);
                             if (!text.empty()) ends_in_newline = text.back() == '\n';
                           }));
  // The shell's prompt starts on a line of its own.
  if (!ends_in_newline) std::fputc('\n', stdout);
  std::fflush(stdout);

  std::fputs(fmt::format("prompt: {} tokens in {:.3f} s, {:.2f} tokens/s\n", g.prompt_tokens, g.prompt_seconds,
                         static_cast<double>(g.prompt_tokens) / g.prompt_seconds)
                 .c_str(),
             stderr);
  std::fputs(fmt::format("generation: {} tokens in {:.3f} s, {:.2f} tokens/s\n", g.generated_tokens,
                         g.generation_seconds,
                         g.generated_tokens > 0 ? static_cast<double>(g.generated_tokens) / g.generation_seconds : 0.0)
                 .c_str(),
             stderr);
  if (f.stats) {
    // locked_bytes: what the kernel counts as pinned (VmLck; weights + KV with --mlock, else 0).
    std::fputs(fmt::format("seed: {}\nload_seconds: {:.3f}\nweights_bytes: {}\nfile_bytes: {}\nkv_bytes: {}\n"
                           "compute_bytes: {}\npeak_rss_bytes: {}\nlocked_bytes: {}\n",
                           f.sampling.seed, e.load_seconds, e.model->weight_bytes(),
                           e.model->gguf().total_size_bytes(), ctx.kv_bytes(),
                           ForwardContext::compute_bytes(e.model->hparams(), ctx.options()),
                           proc_status_bytes("VmHWM"), proc_status_bytes("VmLck"))
                   .c_str(),
               stderr);
  }
  exit_code = kExitOk;
  return Status::ok();
}

}  // namespace

void register_run(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<RunFlags>();
  f->sampling = SamplingParams{};
  auto* cmd = app.add_subcommand(
      "run", "Generate text from a prompt (-p, -f or standard input); with none on a terminal, chat");
  add_engine_flags(cmd, f->engine);
  cmd->add_option("-p,--prompt", f->prompt, "Prompt text");
  cmd->add_option("-f,--file", f->prompt_file, "Read the prompt from a file");
  add_token_count_option(cmd, "-n,--n-predict", f->n_predict, "Tokens to generate (a chat: per reply)");
  cmd->add_option("--temp", f->sampling.temperature, "Temperature (0 = greedy)");
  cmd->add_option("--top-k", f->sampling.top_k, "Top-k (0 = off)");
  cmd->add_option("--top-p", f->sampling.top_p, "Top-p (1 = off)");
  cmd->add_option("--min-p", f->sampling.min_p, "Min-p (0 = off)");
  cmd->add_option("--repeat-penalty", f->sampling.repeat_penalty, "Repetition penalty (1 = off)");
  cmd->add_option("--presence-penalty", f->sampling.presence_penalty, "Presence penalty");
  cmd->add_option("--frequency-penalty", f->sampling.frequency_penalty, "Frequency penalty");
  cmd->add_option("--penalty-last-n", f->sampling.penalty_last_n, "Tokens the penalties look back over (-1 = all)");
  f->seed_opt = cmd->add_option("-s,--seed", f->sampling.seed, "Random seed (--stats prints the one drawn)")
                    ->default_str("random");
  cmd->add_flag("--no-bos", f->no_bos, "Do not add the BOS token");
  cmd->add_flag("--stats", f->stats,
                "Prefault weights and print the seed, load time and memory figures (peak_rss_bytes, locked_bytes)");
  cmd->callback([f, &exit_code] {
    exit_code = kExitBadInput;
    Status st = run(*f, exit_code);
    if (!st.is_ok()) {
      print_error("run", st);
      if (exit_code == kExitOk) exit_code = kExitBadInput;
    }
  });
}

}  // namespace laneway::cli
