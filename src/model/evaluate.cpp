#include "model/evaluate.h"

#include <algorithm>
#include <cmath>

namespace laneway {

Result<std::vector<float>> teacher_forced_logits(ForwardContext& ctx, std::span<const int32_t> tokens, int32_t seq,
                                                 int64_t chunk_tokens, int64_t last_k) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const int64_t n_vocab = ctx.model().hparams().n_vocab;
  if (n == 0) return invalid_argument_error("no tokens to evaluate");
  if (n > ctx.context_tokens()) {
    return invalid_argument_error("{} tokens do not fit in the context of {} tokens", n, ctx.context_tokens());
  }
  if (chunk_tokens <= 0) chunk_tokens = n;
  const int64_t first_out = last_k > 0 ? std::max<int64_t>(0, n - last_k) : 0;
  std::vector<float> out(static_cast<size_t>((n - first_out) * n_vocab));
  ctx.kv().clear(seq);
  ForwardBatch batch;
  for (int64_t begin = 0; begin < n; begin += chunk_tokens) {
    const int64_t end = std::min(n, begin + chunk_tokens);
    batch.clear();
    for (int64_t i = begin; i < end; ++i) batch.add(tokens[static_cast<size_t>(i)], i, seq, i >= first_out);
    LANEWAY_TRY(ctx.decode(batch));
    int64_t o = 0;
    for (int64_t i = std::max(begin, first_out); i < end; ++i, ++o) {
      auto row = ctx.logits(o);
      std::copy(row.begin(), row.end(), out.begin() + (i - first_out) * n_vocab);
    }
  }
  return out;
}

Result<std::vector<int32_t>> greedy_generate(ForwardContext& ctx, std::span<const int32_t> prompt, int64_t n_predict,
                                             std::span<const int32_t> stop_tokens, int32_t seq) {
  if (prompt.empty()) return invalid_argument_error("empty prompt");
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  if (n_prompt + n_predict > ctx.context_tokens() + 1) {
    return invalid_argument_error("{} prompt tokens + {} to generate exceed the context of {}", n_prompt, n_predict,
                                  ctx.context_tokens());
  }
  ctx.kv().clear(seq);
  ForwardBatch batch;
  for (int64_t i = 0; i < n_prompt; ++i) batch.add(prompt[static_cast<size_t>(i)], i, seq, i == n_prompt - 1);
  LANEWAY_TRY(ctx.decode(batch));
  std::vector<int32_t> out;
  int64_t pos = n_prompt;
  for (int64_t step = 0; step < n_predict; ++step) {
    const auto tok = static_cast<int32_t>(argmax(ctx.logits(0)));
    out.push_back(tok);
    if (std::find(stop_tokens.begin(), stop_tokens.end(), tok) != stop_tokens.end()) break;
    if (step + 1 == n_predict) break;
    batch.clear();
    batch.add(tok, pos++, seq, true);
    LANEWAY_TRY(ctx.decode(batch));
  }
  return out;
}

int64_t argmax(std::span<const float> logits) {
  int64_t best = 0;
  for (int64_t i = 1; i < static_cast<int64_t>(logits.size()); ++i) {
    if (logits[static_cast<size_t>(i)] > logits[static_cast<size_t>(best)]) best = i;
  }
  return best;
}

double kl_divergence(std::span<const float> p_logits, std::span<const float> q_logits) {
  auto log_softmax = [](std::span<const float> x, std::vector<double>& out) {
    double m = -INFINITY;
    for (float v : x) m = std::max(m, static_cast<double>(v));
    double sum = 0;
    for (float v : x) sum += std::exp(static_cast<double>(v) - m);
    const double lse = m + std::log(sum);
    out.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) out[i] = static_cast<double>(x[i]) - lse;
  };
  std::vector<double> lp, lq;
  log_softmax(p_logits, lp);
  log_softmax(q_logits, lq);
  double kl = 0;
  for (size_t i = 0; i < lp.size(); ++i) {
    const double p = std::exp(lp[i]);
    if (p > 0) kl += p * (lp[i] - lq[i]);
  }
  return std::max(0.0, kl);
}

LogitComparison compare_logits(std::span<const float> reference, std::span<const float> candidate, int64_t n_vocab) {
  LogitComparison c;
  const int64_t rows = std::min(reference.size(), candidate.size()) / static_cast<size_t>(n_vocab);
  c.rows = rows;
  int64_t agree = 0;
  for (int64_t r = 0; r < rows; ++r) {
    auto p = reference.subspan(static_cast<size_t>(r * n_vocab), static_cast<size_t>(n_vocab));
    auto q = candidate.subspan(static_cast<size_t>(r * n_vocab), static_cast<size_t>(n_vocab));
    const double kl = kl_divergence(p, q);
    c.row_kl.push_back(kl);
    c.mean_kl += kl;
    c.max_kl = std::max(c.max_kl, kl);
    if (argmax(p) == argmax(q)) ++agree;
  }
  if (rows > 0) {
    c.mean_kl /= static_cast<double>(rows);
    c.top1 = static_cast<double>(agree) / static_cast<double>(rows);
  }
  return c;
}

}  // namespace laneway
