// laneway run: load a model, generate from a prompt, stream the text.
//   laneway run -m FILE -p PROMPT [-n N] [--temp T] [--seed S] [--threads N] [--ctx N] [--mlock] [--stats]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/engine_flags.h"
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

Status run(const RunFlags& f, int& exit_code) {
  using clock = std::chrono::steady_clock;
  // --stats prefaults the weights so the RSS it reports is the real cost.
  LANEWAY_ASSIGN_OR_RETURN(LoadedEngine e, load_engine(f.engine, 1, f.stats));
  LANEWAY_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::from_gguf(e.model->meta()));
  ForwardContext& ctx = *e.ctx;

  std::string prompt = f.prompt;
  if (!f.prompt_file.empty()) {
    std::ifstream in(f.prompt_file, std::ios::binary);
    if (!in) return io_error("cannot open {}", f.prompt_file);
    prompt.assign(std::istreambuf_iterator<char>(in), {});
  }
  EncodeOptions eo;
  eo.add_special = !f.no_bos;
  std::vector<int32_t> tokens = tok.encode(prompt, eo);
  if (tokens.empty()) return invalid_argument_error("the prompt is empty");
  const int64_t n_ctx = ctx.n_ctx_per_seq();
  if (static_cast<int64_t>(tokens.size()) > n_ctx) {
    exit_code = kExitBadInput;
    return invalid_argument_error("the prompt is {} tokens, longer than the context of {} tokens (raise --ctx)",
                                  tokens.size(), n_ctx);
  }
  LANEWAY_ASSIGN_OR_RETURN(Sampler sampler, Sampler::create(f.sampling, static_cast<int32_t>(e.model->hparams().n_vocab)));
  for (int32_t t : tokens) sampler.accept(t);

  const auto t0 = clock::now();
  ForwardBatch batch;
  for (size_t i = 0; i < tokens.size(); ++i) {
    batch.add(tokens[i], static_cast<int64_t>(i), 0, i + 1 == tokens.size());
  }
  LANEWAY_TRY(ctx.decode(batch));
  const auto t1 = clock::now();

  StreamingDetokenizer detok(tok);
  int64_t pos = static_cast<int64_t>(tokens.size());
  int64_t generated = 0;
  while (generated < f.n_predict && pos < n_ctx) {
    LANEWAY_ASSIGN_OR_RETURN(const int32_t next, sampler.sample(ctx.logits(0)));
    sampler.accept(next);
    ++generated;
    if (tok.is_end_of_generation(next)) break;
    const std::string text = detok.push(next);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    batch.clear();
    batch.add(next, pos++, 0, true);
    LANEWAY_TRY(ctx.decode(batch));
  }
  const std::string rest = detok.flush();
  std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::fflush(stdout);
  const auto t2 = clock::now();

  const double prompt_s = std::chrono::duration<double>(t1 - t0).count();
  const double gen_s = std::chrono::duration<double>(t2 - t1).count();
  std::fputs(fmt::format("\nprompt: {} tokens in {:.3f} s, {:.2f} tokens/s\n", tokens.size(), prompt_s,
                         static_cast<double>(tokens.size()) / prompt_s)
                 .c_str(),
             stderr);
  std::fputs(fmt::format("generation: {} tokens in {:.3f} s, {:.2f} tokens/s\n", generated, gen_s,
                         generated > 0 ? static_cast<double>(generated) / gen_s : 0.0)
                 .c_str(),
             stderr);
  if (f.stats) {
    // locked_bytes: what the kernel counts as pinned (VmLck; weights + KV with --mlock, else 0).
    std::fputs(fmt::format("weights_bytes: {}\nfile_bytes: {}\nkv_bytes: {}\ncompute_bytes: {}\npeak_rss_bytes: {}\n"
                           "locked_bytes: {}\n",
                           e.model->weight_bytes(), e.model->gguf().total_size_bytes(), ctx.kv_bytes(),
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
  auto* cmd = app.add_subcommand("run", "Generate text from a prompt");
  add_engine_flags(cmd, f->engine);
  cmd->add_option("-p,--prompt", f->prompt, "Prompt text");
  cmd->add_option("-f,--file", f->prompt_file, "Read the prompt from a file");
  cmd->add_option("-n,--n-predict", f->n_predict, "Tokens to generate")->check(CLI::NonNegativeNumber);
  cmd->add_option("--temp", f->sampling.temperature, "Temperature (0 = greedy)");
  cmd->add_option("--top-k", f->sampling.top_k, "Top-k (0 = off)");
  cmd->add_option("--top-p", f->sampling.top_p, "Top-p (1 = off)");
  cmd->add_option("--min-p", f->sampling.min_p, "Min-p (0 = off)");
  cmd->add_option("--repeat-penalty", f->sampling.repeat_penalty, "Repetition penalty (1 = off)");
  cmd->add_option("--presence-penalty", f->sampling.presence_penalty, "Presence penalty");
  cmd->add_option("--frequency-penalty", f->sampling.frequency_penalty, "Frequency penalty");
  cmd->add_option("--penalty-last-n", f->sampling.penalty_last_n, "Tokens the penalties look back over (-1 = all)");
  cmd->add_option("-s,--seed", f->sampling.seed, "Random seed");
  cmd->add_flag("--no-bos", f->no_bos, "Do not add the BOS token");
  cmd->add_flag("--stats", f->stats,
                "Prefault weights and print memory figures (peak_rss_bytes, locked_bytes) at exit");
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
