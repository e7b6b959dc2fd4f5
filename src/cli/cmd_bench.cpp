// laneway bench: prompt-processing and generation speed, llama-bench style.
//   laneway bench -m FILE [-p 128,512] [-n 64] [-r 5] [--threads N] [--gpu-layers 0,all] [--json]
// A list of --gpu-layers settings runs each in one invocation (the model is
// loaded once per setting), so the CPU-vs-GPU table comes from one command.
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
#include "cli/units.h"
#include "cli/flag_values.h"

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
  std::string gpu_layers;  // the setting as given ("0", "all", "12")
  std::string backend;     // "cpu", "vulkan", "cpu+vulkan"
  std::string devices;     // ForwardContext::describe_devices()
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

void print_table_header() {
  std::fputs(fmt::format("| {:<40} | {:>10} | {:>10} | {:>4} | {:>7} | {:>8} | {:>16} | {:>10} |\n", "model", "size",
                         "backend", "ngl", "threads", "test", "t/s (mean ± sd)", "median")
                 .c_str(),
             stdout);
  std::fputs(fmt::format("| {:-<40} | {:->10} | {:->10} | {:->4} | {:->7} | {:->8} | {:->16} | {:->10} |\n", "", "", "",
                         "", "", "", "", "")
                 .c_str(),
             stdout);
}

void print_row(const Record& r, const std::string& model_type, uint64_t model_bytes, int threads) {
  const std::string test = r.n_prompt ? fmt::format("pp{}", r.n_prompt) : fmt::format("tg{}", r.n_gen);
  std::fputs(fmt::format("| {:<40.40} | {:>10} | {:>10} | {:>4} | {:>7} | {:>8} | {:>8.2f} ± {:>5.2f} | {:>10.2f} |\n",
                         model_type, format_bytes(model_bytes), r.backend, r.gpu_layers.empty() ? "auto" : r.gpu_layers,
                         threads, test, mean(r.samples_ts), stddev(r.samples_ts), median(r.samples_ts))
                 .c_str(),
             stdout);
  std::fflush(stdout);  // each row as it finishes, as llama-bench prints them
}

// Runs every test of one --gpu-layers setting; the records get the backends' names.
Status bench_setting(const BenchFlags& f, const std::string& gpu_layers, std::vector<Record>& records,
                     std::string& model_type, uint64_t& model_bytes, int& threads, double& load_seconds) {
  EngineFlags ef = f.engine;
  ef.gpu_layers = gpu_layers;
  int64_t longest = 0;
  for (auto p : f.n_prompt) longest = std::max(longest, p);
  for (auto g : f.n_gen) longest = std::max(longest, g);
  if (ef.ctx == 0) ef.ctx = std::max<int64_t>(longest, 512);
  ef.batch = static_cast<int32_t>(std::max<int64_t>(ef.batch, longest));
  LANEWAY_ASSIGN_OR_RETURN(LoadedEngine e, load_engine(ef, 1, /*prefault=*/true));
  ForwardContext& ctx = *e.ctx;
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto& hp = e.model->hparams();
  model_type = fmt::format("{} {}", hp.architecture, hp.name);
  model_bytes = e.model->weight_bytes();
  threads = ctx.options().n_threads;
  load_seconds = e.load_seconds;
  // Where it runs, as a header line: llama-bench users compare devices first.
  const std::string devices = ctx.describe_devices();
  if (!f.json) {
    std::printf("# --gpu-layers %s: %s; model loaded in %.2f s\n", gpu_layers.empty() ? "auto" : gpu_layers.c_str(),
                devices.c_str(), e.load_seconds);
    print_table_header();
  }
  std::string backend;
  const std::string placement = ctx.describe_placement();
  if (placement.find("cpu:") != std::string::npos) backend = "cpu";
  if (placement.find("vulkan:") != std::string::npos) backend += backend.empty() ? "vulkan" : "+vulkan";

  std::vector<Record> mine;
  for (auto p : f.n_prompt) if (p > 0) mine.push_back({gpu_layers, backend, devices, p, 0, {}});
  for (auto g : f.n_gen) if (g > 0) mine.push_back({gpu_layers, backend, devices, 0, g, {}});
  for (auto& r : mine) {
    LANEWAY_TRY(run_once(ctx, r.n_prompt > 0 ? std::min<int64_t>(r.n_prompt, 16) : 0,
                         r.n_gen > 0 ? std::min<int64_t>(r.n_gen, 4) : 0, 99)
                    .status());  // warm-up
    for (int rep = 0; rep < f.reps; ++rep) {
      if (tty) std::fprintf(stderr, "\r%s %s: repetition %d/%d ", r.n_prompt ? "pp" : "tg",
                            std::to_string(r.n_prompt ? r.n_prompt : r.n_gen).c_str(), rep + 1, f.reps);
      LANEWAY_ASSIGN_OR_RETURN(double secs, run_once(ctx, r.n_prompt, r.n_gen, 1000 + static_cast<uint64_t>(rep)));
      r.samples_ts.push_back(static_cast<double>(r.n_prompt + r.n_gen) / secs);
    }
    if (tty) std::fputs("\r\033[K", stderr);
    if (!f.json) print_row(r, model_type, model_bytes, threads);
  }
  if (tty) std::fputs("\r\033[K", stderr);
  records.insert(records.end(), mine.begin(), mine.end());
  return Status::ok();
}

Status bench(const BenchFlags& f) {
  // --gpu-layers 0,all: one run per setting.
  std::vector<std::string> settings;
  for (size_t begin = 0;;) {
    const size_t comma = f.engine.gpu_layers.find(',', begin);
    settings.push_back(f.engine.gpu_layers.substr(begin, comma - begin));
    if (comma == std::string::npos) break;
    begin = comma + 1;
  }
  std::vector<Record> records;
  std::string model_type;
  uint64_t model_bytes = 0;
  int threads = 0;
  double load_seconds = 0;
  std::vector<double> load_seconds_of;  // per setting, in records' order
  for (const std::string& s : settings) {
    LANEWAY_TRY(bench_setting(f, s, records, model_type, model_bytes, threads, load_seconds));
    load_seconds_of.resize(records.size(), load_seconds);
  }

  // Text rows were printed as each test finished; JSON comes whole at the end.
  if (f.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : records) {
      out.push_back({{"model_filename", f.engine.model_path}, {"model_type", model_type},
                     {"model_size", model_bytes}, {"model_n_params", 0}, {"backends", r.backend}, {"devices", r.devices},
                     {"n_gpu_layers", r.gpu_layers.empty() ? "auto" : r.gpu_layers},
                     {"n_threads", threads}, {"n_prompt", r.n_prompt}, {"n_gen", r.n_gen},
                     {"type_k", f.engine.cache_type_k}, {"type_v", f.engine.cache_type_v},
                     {"avg_ts", mean(r.samples_ts)}, {"stddev_ts", stddev(r.samples_ts)},
                     {"median_ts", median(r.samples_ts)}, {"samples_ts", r.samples_ts},
                     {"load_seconds", load_seconds_of[&r - records.data()]}});
    }
    std::puts(out.dump(2).c_str());
  }
  return Status::ok();
}

}  // namespace

void register_bench(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<BenchFlags>();
  auto* cmd = app.add_subcommand("bench", "Measure prompt processing and generation speed (llama-bench style)");
  add_engine_flags(cmd, f->engine);
  add_token_counts_option(cmd, "-p,--n-prompt", f->n_prompt, "Prompt sizes in tokens (comma separated, e.g. 128,512,1k)");
  add_token_counts_option(cmd, "-n,--n-gen", f->n_gen, "Generation lengths in tokens (comma separated)");
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
