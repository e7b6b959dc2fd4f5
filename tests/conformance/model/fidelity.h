// Teacher-forced fidelity against ../shared/reference, shared by the CPU and
// GPU conformance tests: KL(reference || laneway) over every row, top-1
// agreement, greedy tokens.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "model/context.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "reference.h"

namespace laneway::test {

struct Engine {
  std::unique_ptr<Model> model;
  std::unique_ptr<ForwardContext> ctx;
};

inline Engine load(const std::string& path, ContextOptions opts = {}, ModelLoadOptions load_opts = {}) {
  Engine e;
  auto m = Model::load(path, load_opts);
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  if (!m.is_ok()) return e;
  e.model = std::move(m).value();
  if (opts.n_ctx == 0) opts.n_ctx = 2048;
  if (opts.n_threads == 0) opts.n_threads = 2;
  auto c = ForwardContext::create(*e.model, opts);
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  if (c.is_ok()) e.ctx = std::move(c).value();
  return e;
}

struct Overall {
  double mean_kl = 0, max_kl = 0, top1 = 0;
  int64_t rows = 0;
  bool greedy_match = true;
};

inline Overall evaluate(Engine& e, const std::vector<test::ReferencePrompt>& ref_llamacpp,
                 const std::vector<float>* exact_rows, Overall* vs_exact, bool check_greedy) {
  Overall o;
  Overall x;
  size_t exact_offset = 0;
  const int64_t n_vocab = e.model->hparams().n_vocab;
  int64_t agree = 0, agree_x = 0;
  for (const auto& p : ref_llamacpp) {
    auto ours = teacher_forced_logits(*e.ctx, p.forced_tokens());
    EXPECT_TRUE(ours.is_ok()) << ours.status().to_string();
    if (!ours.is_ok()) return o;
    auto c = compare_logits(p.logits, *ours, n_vocab);
    EXPECT_EQ(c.rows * n_vocab, static_cast<int64_t>(p.logits.size()));
    o.mean_kl += c.mean_kl * double(c.rows);
    o.max_kl = std::max(o.max_kl, c.max_kl);
    agree += static_cast<int64_t>(c.top1 * double(c.rows) + 0.5);
    o.rows += c.rows;
    if (exact_rows != nullptr) {
      std::span<const float> ex(exact_rows->data() + exact_offset, p.logits.size());
      exact_offset += p.logits.size();
      auto cx = compare_logits(ex, *ours, n_vocab);
      x.mean_kl += cx.mean_kl * double(cx.rows);
      x.max_kl = std::max(x.max_kl, cx.max_kl);
      agree_x += static_cast<int64_t>(cx.top1 * double(cx.rows) + 0.5);
      x.rows += cx.rows;
    }
    if (check_greedy) {
      auto gen = greedy_generate(*e.ctx, p.prompt_tokens, static_cast<int64_t>(p.greedy_tokens.size()), {{2}});
      EXPECT_TRUE(gen.is_ok());
      if (!gen.is_ok() || *gen != p.greedy_tokens) {
        o.greedy_match = false;
        ADD_FAILURE() << "greedy tokens differ for prompt \"" << p.prompt << "\"";
      }
    }
  }
  o.mean_kl /= double(o.rows);
  o.top1 = double(agree) / double(o.rows);
  if (vs_exact != nullptr && x.rows > 0) {
    x.mean_kl /= double(x.rows);
    x.top1 = double(agree_x) / double(x.rows);
    *vs_exact = x;
  }
  return o;
}

// Teacher-forced rows against a reference where a mixture of experts may
// route a token to another expert than the reference did (a router near-tie
// broken the other way by rounding): with count_flips, rows of KL above 0.1
// are counted (and listed in `flips`) and left out of the mean.
struct RoutedFidelity {
  double mean_kl = 0;      // over the rows kept
  double mean_kl_all = 0;  // over every row
  double max_kl = 0;
  double top1 = 0;
  int64_t rows = 0;
  int64_t flipped = 0;
  std::string flips;       // which rows, for messages
};

inline RoutedFidelity evaluate_with_routing_flips(Engine& e, const std::vector<test::ReferencePrompt>& ref,
                                                  bool count_flips) {
  RoutedFidelity f;
  double kl_sum = 0, kl_all = 0, agree = 0;
  for (const auto& p : ref) {
    auto ours = teacher_forced_logits(*e.ctx, p.forced_tokens());
    EXPECT_TRUE(ours.is_ok()) << ours.status().to_string();
    if (!ours.is_ok()) return f;
    const LogitComparison cmp = compare_logits(p.logits, *ours, p.n_vocab);
    EXPECT_EQ(cmp.rows * p.n_vocab, static_cast<int64_t>(p.logits.size()));
    agree += cmp.top1 * static_cast<double>(cmp.rows);
    for (size_t r = 0; r < cmp.row_kl.size(); ++r) {
      const double kl = cmp.row_kl[r];
      kl_all += kl;
      f.max_kl = std::max(f.max_kl, kl);
      ++f.rows;
      if (count_flips && kl > 0.1) {
        ++f.flipped;
        f.flips += " \"" + p.prompt.substr(0, 12) + "...\" row " + std::to_string(r) + " (KL " + std::to_string(kl) + ")";
        continue;
      }
      kl_sum += kl;
    }
  }
  const int64_t kept = f.rows - f.flipped;
  EXPECT_GT(kept, 0);
  f.mean_kl = kept > 0 ? kl_sum / static_cast<double>(kept) : 0;
  f.mean_kl_all = f.rows > 0 ? kl_all / static_cast<double>(f.rows) : 0;
  f.top1 = f.rows > 0 ? agree / static_cast<double>(f.rows) : 0;
  return f;
}

}  // namespace laneway::test
