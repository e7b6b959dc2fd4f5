// One sampler step (sample + accept) over a Llama-3-sized vocabulary:
//   ./sampling_chain_bench
// The time per iteration is the cost per generated token. Logits are
// Gaussian (sd 3) with a few strong candidates, roughly what a model emits.
#include <cstdint>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "sampling/sampler.h"

namespace {

constexpr int32_t kVocab = 128256;

std::vector<float> model_like_logits() {
  std::mt19937 gen(1234);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(kVocab);
  for (float& l : logits) l = normal(gen);
  for (int32_t id : {17, 9001, 64000, 128000}) logits[static_cast<size_t>(id)] = 18.0f;
  return logits;
}

void run_chain(benchmark::State& state, laneway::SamplingParams params) {
  const std::vector<float> logits = model_like_logits();
  params.seed = 42;
  auto sampler = laneway::Sampler::create(params, kVocab);
  if (!sampler.is_ok()) {
    state.SkipWithError(sampler.status().to_string().c_str());
    return;
  }
  for (auto _ : state) {
    auto token = sampler->sample(logits);
    benchmark::DoNotOptimize(token);
    sampler->accept(token.value());
  }
  state.SetItemsProcessed(state.iterations());
}

// temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, repeat_penalty 1.1
// over the last 64 tokens.
void BM_DefaultChain(benchmark::State& state) {
  laneway::SamplingParams p;
  p.repeat_penalty = 1.1f;
  run_chain(state, p);
}
BENCHMARK(BM_DefaultChain);

void BM_Greedy(benchmark::State& state) {
  laneway::SamplingParams p;
  p.temperature = 0.0f;
  run_chain(state, p);
}
BENCHMARK(BM_Greedy);

// OpenAI-style request: no top-k, so top-p has to rank the whole vocabulary
// (incrementally, never a full sort unless the cut-off needs it).
void BM_TopPOnly(benchmark::State& state) {
  laneway::SamplingParams p;
  p.top_k = 0;
  p.min_p = 0.0f;
  p.top_p = 0.9f;
  p.temperature = 1.0f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = 0.5f;
  p.penalty_last_n = -1;
  run_chain(state, p);
}
BENCHMARK(BM_TopPOnly);

}  // namespace
