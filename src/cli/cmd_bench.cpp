// laneway bench: prompt-processing and generation speed, llama-bench style.
//   laneway bench -m FILE [-p 128,512] [-n 64] [-r 5] [--threads N] [--json]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/engine_flags.h"

namespace laneway::cli {
namespace {

struct BenchFlags {
  EngineFlags engine;
  std::vector<int64_t> n_prompt = {128, 512};
  std::vector<int64_t> n_gen = {64};
  int reps = 5;
  bool json = false;
};

struct Record {
  int64_t n_prompt = 0;
  int64_t n_gen = 0;
  std::vector<double> samples_ts;
};

// One timed test: evaluate n_prompt tokens in one batch, or n_gen tokens one
// at a time, from an empty cache. Returns seconds.
Result<double> run_once(ForwardContext& ctx, int64_t n_prompt, int64_t n_gen, uint64_t seed) {
  using clock = std::chrono::steady_clock;
  const int64_t n_vocab = ctx.model().hparams().n_vocab;
  uint64_t s = seed;
  auto next_token = [&] {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(n_vocab));
  };
  ctx.kv().clear(0);
  ForwardBatch b;
  const auto t0 = clock::now();
  if (n_prompt > 0) {
    for (int64_t i = 0; i < n_prompt; ++i) b.add(next_token(), i, 0, i + 1 == n_prompt);
    LANEWAY_TRY(ctx.decode(b));
  } else {
    for (int64_t i = 0; i < n_gen; ++i) {
      b.clear();
      b.add(next_token(), i, 0, true);
      LANEWAY_TRY(ctx.decode(b));
    }
  }
  return std::chrono::duration<double>(clock::now() - t0).count();
}

double mean(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / double(v.size()); }
double stddev(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double acc = 0;
  for (double x : v) acc += (x - m) * (x - m);
  return std::sqrt(acc / double(v.size() - 1));
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Status bench(const BenchFlags& f) {
  EngineFlags ef = f.engine;
  int64_t longest = 0;
  for (auto p : f.n_prompt) longest = std::max(longest, p);
  for (auto g : f.n_gen) longest = std::max(longest, g);
  if (ef.ctx == 0) ef.ctx = std::max<int64_t>(longest, 512);
  ef.batch = static_cast<int32_t>(std::max<int64_t>(ef.batch, longest));
  LANEWAY_ASSIGN_OR_RETURN(LoadedEngine e, load_engine(ef, 1, /*prefault=*/true));
  ForwardContext& ctx = *e.ctx;
  const bool tty = isatty(STDERR_FILENO) != 0;

  std::vector<Record> records;
  for (auto p : f.n_prompt) if (p > 0) records.push_back({p, 0, {}});
  for (auto g : f.n_gen) if (g > 0) records.push_back({0, g, {}});
  for (auto& r : records) {
    LANEWAY_TRY(run_once(ctx, r.n_prompt > 0 ? std::min<int64_t>(r.n_prompt, 16) : 0,
                         r.n_gen > 0 ? std::min<int64_t>(r.n_gen, 4) : 0, 99)
                    .status());  // warm-up
    for (int rep = 0; rep < f.reps; ++rep) {
      if (tty) std::fprintf(stderr, "\r%s %s: repetition %d/%d ", r.n_prompt ? "pp" : "tg",
                            std::to_string(r.n_prompt ? r.n_prompt : r.n_gen).c_str(), rep + 1, f.reps);
      LANEWAY_ASSIGN_OR_RETURN(double secs, run_once(ctx, r.n_prompt, r.n_gen, 1000 + static_cast<uint64_t>(rep)));
      r.samples_ts.push_back(static_cast<double>(r.n_prompt + r.n_gen) / secs);
    }
  }
  if (tty) std::fputs("\r\033[K", stderr);

  const auto& hp = e.model->hparams();
  const std::string model_type = fmt::format("{} {}", hp.architecture, hp.name);
  const int threads = ctx.options().n_threads;
  if (f.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : records) {
      out.push_back({{"model_filename", ef.model_path}, {"model_type", model_type},
                     {"model_size", e.model->weight_bytes()}, {"model_n_params", 0},
                     {"n_threads", threads}, {"n_prompt", r.n_prompt}, {"n_gen", r.n_gen},
                     {"type_k", ef.cache_type_k}, {"type_v", ef.cache_type_v},
                     {"avg_ts", mean(r.samples_ts)}, {"stddev_ts", stddev(r.samples_ts)},
                     {"median_ts", median(r.samples_ts)}, {"samples_ts", r.samples_ts}});
    }
    std::puts(out.dump(2).c_str());
    return Status::ok();
  }
  std::fputs(fmt::format("| {:<40} | {:>10} | {:>7} | {:>8} | {:>16} | {:>10} |\n", "model", "size", "threads", "test",
                         "t/s (mean ± sd)", "median")
                 .c_str(),
             stdout);
  std::fputs(fmt::format("| {:-<40} | {:->10} | {:->7} | {:->8} | {:->16} | {:->10} |\n", "", "", "", "", "", "").c_str(),
             stdout);
  for (const auto& r : records) {
    const std::string test = r.n_prompt ? fmt::format("pp{}", r.n_prompt) : fmt::format("tg{}", r.n_gen);
    std::fputs(fmt::format("| {:<40.40} | {:>6.2f} GiB | {:>7} | {:>8} | {:>8.2f} ± {:>5.2f} | {:>10.2f} |\n",
                           model_type, double(e.model->weight_bytes()) / double(1ull << 30), threads, test,
                           mean(r.samples_ts), stddev(r.samples_ts), median(r.samples_ts))
                   .c_str(),
               stdout);
  }
  return Status::ok();
}

}  // namespace

void register_bench(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<BenchFlags>();
  auto* cmd = app.add_subcommand("bench", "Measure prompt processing and generation speed (llama-bench style)");
  add_engine_flags(cmd, f->engine);
  cmd->add_option("-p,--n-prompt", f->n_prompt, "Prompt sizes (comma separated)")->delimiter(',');
  cmd->add_option("-n,--n-gen", f->n_gen, "Generation lengths (comma separated)")->delimiter(',');
  cmd->add_option("-r,--repetitions", f->reps, "Repetitions per test")->check(CLI::PositiveNumber);
  cmd->add_flag("--json", f->json, "Print a JSON array of records (llama-bench field names + median_ts)");
  cmd->callback([f, &exit_code] {
    Status st = bench(*f);
    if (!st.is_ok()) {
      print_error("bench", st);
      exit_code = kExitBadInput;
      return;
    }
    exit_code = kExitOk;
  });
}

}  // namespace laneway::cli
