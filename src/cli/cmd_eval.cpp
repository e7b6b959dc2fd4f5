// laneway eval: hold the engine to a reference dump (../shared/reference format).
//   laneway eval -m FILE --ref-jsonl J --ref-logits F [--json]
//   laneway eval -m FILE --tokens-file T --last K --logits-out F.f32
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "cli/flag_values.h"
#include "core/file_map.h"
#include "model/evaluate.h"

namespace laneway::cli {
namespace {

struct EvalFlags {
  EngineFlags engine;
  std::string ref_jsonl;
  std::string ref_logits;
  std::string tokens_file;
  int64_t last = 0;
  std::string logits_out;
  int64_t chunk = 0;
  bool json = false;
};

Result<std::vector<int32_t>> read_tokens_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return io_error("cannot open {}", path);
  std::vector<int32_t> tokens;
  long long v;
  while (in >> v) tokens.push_back(static_cast<int32_t>(v));
  if (!in.eof()) return invalid_argument_error("{}: expected whitespace-separated token ids", path);
  return tokens;
}

Status write_logits(const std::string& path, const std::vector<float>& logits) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
  if (!out) return io_error("cannot write {}", path);
  return Status::ok();
}

Status run_tokens_mode(const EvalFlags& f, ForwardContext& ctx) {
  LANEWAY_ASSIGN_OR_RETURN(std::vector<int32_t> tokens, read_tokens_file(f.tokens_file));
  LANEWAY_ASSIGN_OR_RETURN(std::vector<float> logits, teacher_forced_logits(ctx, tokens, 0, f.chunk, f.last));
  if (f.logits_out.empty()) return invalid_argument_error("--tokens-file needs --logits-out");
  LANEWAY_TRY(write_logits(f.logits_out, logits));
  std::fprintf(stderr, "wrote %zu rows of %lld logits to %s\n", logits.size() / ctx.model().hparams().n_vocab,
               static_cast<long long>(ctx.model().hparams().n_vocab), f.logits_out.c_str());
  return Status::ok();
}

Status run_reference_mode(const EvalFlags& f, ForwardContext& ctx, int& exit_code) {
  std::ifstream in(f.ref_jsonl);
  if (!in) return io_error("cannot open {}", f.ref_jsonl);
  LANEWAY_ASSIGN_OR_RETURN(FileMap ref_map, FileMap::open(f.ref_logits));
  const auto* ref_floats = reinterpret_cast<const float*>(ref_map.data());
  const uint64_t ref_n_floats = ref_map.size_bytes() / sizeof(float);
  const int64_t n_vocab = ctx.model().hparams().n_vocab;
  std::vector<int32_t> stop;
  if (auto eos = ctx.model().meta().get_u32("tokenizer.ggml.eos_token_id"); eos.is_ok()) {
    stop.push_back(static_cast<int32_t>(*eos));
  }

  nlohmann::json prompts = nlohmann::json::array();
  double sum_kl = 0, max_kl = 0;
  int64_t rows = 0, agree_rows = 0;
  bool all_greedy = true;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) return invalid_argument_error("{} line {}: not valid JSON", f.ref_jsonl, line_no);
    std::vector<int32_t> prompt, greedy;
    uint64_t offset = 0, n_rows = 0;
    int64_t ref_vocab = 0;
    try {
      prompt = j.at("prompt_tokens").get<std::vector<int32_t>>();
      greedy = j.at("greedy_tokens").get<std::vector<int32_t>>();
      offset = j.at("logits_offset_floats").get<uint64_t>();
      n_rows = j.at("logits_rows").get<uint64_t>();
      ref_vocab = j.at("n_vocab").get<int64_t>();
    } catch (const nlohmann::json::exception& e) {
      return invalid_argument_error("{} line {}: {}", f.ref_jsonl, line_no, e.what());
    }
    if (ref_vocab != n_vocab) {
      return invalid_argument_error("{} line {}: reference has {} logits per row, the model {}", f.ref_jsonl, line_no,
                                    ref_vocab, n_vocab);
    }
    if (offset > ref_n_floats || n_rows * static_cast<uint64_t>(n_vocab) > ref_n_floats - offset) {
      return invalid_argument_error("{} line {}: rows past the end of {}", f.ref_jsonl, line_no, f.ref_logits);
    }
    std::vector<int32_t> tokens = prompt;
    if (!greedy.empty()) tokens.insert(tokens.end(), greedy.begin(), greedy.end() - 1);
    LANEWAY_ASSIGN_OR_RETURN(std::vector<float> ours, teacher_forced_logits(ctx, tokens, 0, f.chunk));
    const std::span<const float> ref(ref_floats + offset, n_rows * static_cast<uint64_t>(n_vocab));
    const LogitComparison c = compare_logits(ref, ours, n_vocab);
    LANEWAY_ASSIGN_OR_RETURN(std::vector<int32_t> gen,
                             greedy_generate(ctx, prompt, static_cast<int64_t>(greedy.size()), stop));
    const bool greedy_match = gen == greedy;
    all_greedy = all_greedy && greedy_match;
    sum_kl += c.mean_kl * static_cast<double>(c.rows);
    max_kl = std::max(max_kl, c.max_kl);
    rows += c.rows;
    agree_rows += static_cast<int64_t>(c.top1 * static_cast<double>(c.rows) + 0.5);
    prompts.push_back({{"prompt", j.value("prompt", "")}, {"rows", c.rows}, {"mean_kl", c.mean_kl},
                       {"max_kl", c.max_kl}, {"top1", c.top1}, {"greedy_match", greedy_match}});
  }
  nlohmann::json result = {{"mean_kl", rows ? sum_kl / static_cast<double>(rows) : 0.0},
                           {"max_kl", max_kl},
                           {"top1", rows ? static_cast<double>(agree_rows) / static_cast<double>(rows) : 0.0},
                           {"rows", rows},
                           {"greedy_match", all_greedy},
                           {"prompts", prompts}};
  if (f.json) {
    std::puts(result.dump(2).c_str());
  } else {
    for (const auto& p : prompts) {
      std::fputs(fmt::format("{:<40.40} rows {:>3}  mean KL {:.3e}  max KL {:.3e}  top-1 {:.3f}  greedy {}\n",
                             p["prompt"].get<std::string>(), p["rows"].get<int64_t>(), p["mean_kl"].get<double>(),
                             p["max_kl"].get<double>(), p["top1"].get<double>(),
                             p["greedy_match"].get<bool>() ? "match" : "DIFFERS")
                     .c_str(),
                 stdout);
    }
    std::fputs(fmt::format("overall: {} rows, mean KL {:.3e}, max KL {:.3e}, top-1 {:.4f}, greedy {}\n", rows,
                           result["mean_kl"].get<double>(), max_kl, result["top1"].get<double>(),
                           all_greedy ? "all match" : "some differ")
                   .c_str(),
               stdout);
  }
  exit_code = kExitOk;
  return Status::ok();
}

}  // namespace

void register_eval(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<EvalFlags>();
  auto* cmd = app.add_subcommand("eval", "Compare the engine's logits with a reference dump (KL, top-1, greedy)");
  add_engine_flags(cmd, f->engine);
  cmd->add_option("--ref-jsonl", f->ref_jsonl, "Reference JSONL (prompt_tokens, greedy_tokens, logits rows)");
  cmd->add_option("--ref-logits", f->ref_logits, "Reference float32 logits file");
  cmd->add_option("--tokens-file", f->tokens_file, "Token ids (whitespace separated) for one teacher-forced pass");
  add_token_count_option(cmd, "--last", f->last, "With --tokens-file: keep the logits of the last K positions");
  cmd->add_option("--logits-out", f->logits_out, "With --tokens-file: write those logits (float32) here");
  add_token_count_option(cmd, "--chunk", f->chunk, "Feed prompts in chunks of this many tokens (0 = whole)");
  cmd->add_flag("--json", f->json, "Print one JSON object");
  cmd->callback([f, &exit_code] {
    const bool ref_mode = !f->ref_jsonl.empty() || !f->ref_logits.empty();
    if (ref_mode == !f->tokens_file.empty() || (ref_mode && (f->ref_jsonl.empty() || f->ref_logits.empty()))) {
      std::fputs("laneway eval: give either --ref-jsonl and --ref-logits, or --tokens-file and --logits-out\n",
                 stderr);
      exit_code = kExitUsage;
      return;
    }
    auto engine = load_engine(f->engine);
    if (!engine.is_ok()) {
      print_error("eval", engine.status());
      exit_code = engine.status().code() == StatusCode::invalid_argument ? kExitUsage : kExitBadInput;
      return;
    }
    Status st = ref_mode ? run_reference_mode(*f, *engine->ctx, exit_code) : run_tokens_mode(*f, *engine->ctx);
    if (!st.is_ok()) {
      print_error("eval", st);
      exit_code = kExitBadInput;
    }
  });
}

}  // namespace laneway::cli
