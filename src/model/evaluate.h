// Teacher-forced evaluation and logit comparison: what `laneway eval` and
// the conformance tests use to hold the engine to a reference.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "model/context.h"

namespace laneway {

// Logits after every position of one pass over `tokens` in sequence `seq`
// (which is cleared first), fed in chunks of at most chunk_tokens:
// [tokens.size()][n_vocab], row i = distribution after token i. When
// last_k > 0 only the last last_k rows are returned.
Result<std::vector<float>> teacher_forced_logits(ForwardContext& ctx, std::span<const int32_t> tokens,
                                                 int32_t seq = 0, int64_t chunk_tokens = 0, int64_t last_k = 0);

// Greedy continuation of `prompt` for up to n_predict tokens, stopping
// after any token in `stop_tokens` (which is included).
Result<std::vector<int32_t>> greedy_generate(ForwardContext& ctx, std::span<const int32_t> prompt, int64_t n_predict,
                                             std::span<const int32_t> stop_tokens, int32_t seq = 0);

struct LogitComparison {
  double mean_kl = 0;   // mean over rows of KL(reference || candidate), float64, full-vocabulary softmax
  double max_kl = 0;
  double top1 = 0;      // fraction of rows whose argmax agrees
  int64_t rows = 0;
  std::vector<double> row_kl;
};

// Compares two [rows][n_vocab] logit arrays.
LogitComparison compare_logits(std::span<const float> reference, std::span<const float> candidate, int64_t n_vocab);

// KL(p || q) of the softmaxes of two logit rows, in float64.
double kl_divergence(std::span<const float> p_logits, std::span<const float> q_logits);
int64_t argmax(std::span<const float> logits);  // ties -> lowest index

}  // namespace laneway
