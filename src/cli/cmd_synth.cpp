// laneway synth: random-weight GGUF files of real model shapes.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "cli/flag_values.h"
#include "cli/progress.h"
#include "gguf/writer.h"
#include "model/synth.h"

namespace laneway::cli {

void register_synth(CLI::App& app, int& exit_code) {
  struct Flags {
    std::string shape;
    std::string type = "Q4_0";
    std::string out;
    std::string tokenizer;
    int64_t ctx = 0;
    int64_t layers = 0, embd = 0, heads = 0, kv_heads = 0, ff = 0, vocab = 0;
    int64_t experts = -1, experts_used = 0;
    uint64_t seed = 1;
    int threads = 0;
  };
  auto f = std::make_shared<Flags>();
  std::string shapes;
  for (auto n : model_shape_names()) shapes += (shapes.empty() ? "" : "|") + std::string(n);
  auto* cmd = app.add_subcommand("synth", "Write a random-weight GGUF of a real model shape");
  cmd->add_option("--shape", f->shape, shapes)->required();
  cmd->add_option("--type", f->type, "F32|F16|BF16|Q8_0|Q4_0|Q4_1|Q5_0|Q5_1|Q2_K..Q6_K|Q4_K_M|Q5_K_M");
  cmd->add_option("-o,--output", f->out, "Output GGUF path")->required();
  cmd->add_option("--tokenizer", f->tokenizer, "Copy the tokenizer from this GGUF (default: a built-in one)");
  add_token_count_option(cmd, "--ctx", f->ctx, "context_length to write, e.g. 8k (0 = the shape's)");
  cmd->add_option("--layers", f->layers, "Override: number of blocks");
  cmd->add_option("--embd", f->embd, "Override: embedding width");
  cmd->add_option("--heads", f->heads, "Override: attention heads");
  cmd->add_option("--kv-heads", f->kv_heads, "Override: KV heads");
  cmd->add_option("--ff", f->ff, "Override: feed-forward width");
  cmd->add_option("--vocab", f->vocab, "Override: vocabulary size (built-in tokenizer)");
  cmd->add_option("--experts", f->experts, "Override: experts per block (a Mixtral-style mixture; 0 = dense)");
  cmd->add_option("--experts-used", f->experts_used, "Override: experts per token");
  cmd->add_option("--seed", f->seed, "Random seed");
  cmd->add_option("-t,--threads", f->threads, "Threads (0 = all)");
  cmd->callback([f, &exit_code] {
    auto shape = find_model_shape(f->shape);
    if (!shape) {
      std::fprintf(stderr, "laneway synth: unknown shape \"%s\"\n", f->shape.c_str());
      exit_code = kExitUsage;
      return;
    }
    SynthOptions o;
    o.shape = *shape;
    o.type = f->type;
    o.tokenizer_path = f->tokenizer;
    o.n_ctx = f->ctx;
    o.n_layer = f->layers;
    o.n_embd = f->embd;
    o.n_head = f->heads;
    o.n_head_kv = f->kv_heads;
    o.n_ff = f->ff;
    o.n_vocab = f->vocab;
    o.n_expert = f->experts;
    o.n_expert_used = f->experts_used;
    o.seed = f->seed;
    o.n_threads = f->threads;
    Status st;
    {
      // On a terminal, the bytes written so far (a 1.1B model takes tens of seconds).
      FileGrowthProgress progress("writing " + f->out, GgufWriter::partial_path(f->out));
      st = synth_model(o, f->out);
    }
    if (!st.is_ok()) {
      print_error("synth", st);
      exit_code = st.code() == StatusCode::invalid_argument ? kExitUsage : kExitBadInput;
      return;
    }
    std::fprintf(stderr, "wrote %s\n", f->out.c_str());
    exit_code = kExitOk;
  });
}

}  // namespace laneway::cli
