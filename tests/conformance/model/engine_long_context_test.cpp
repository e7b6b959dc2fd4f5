// Very long contexts: a KV tensor over 2^31 bytes, positions above 4,000,000.
// These allocate several GiB (the whole context is committed at load), so
// ctest runs them alone (RUN_SERIAL).
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "kv/kv_cache.h"
#include "model/context.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "model/synth.h"
#include "support/testdata.h"

namespace laneway {
namespace {

constexpr int64_t kLongCtx = 4194304;

std::string synth_file(const std::string& name, SynthOptions o) {
  const auto dir = test::scratch_dir(name);
  const std::string path = (dir / (name + ".gguf")).string();
  Status st = synth_model(o, path);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return path;
}

std::vector<float> logits_at(ForwardContext& ctx, const std::vector<int32_t>& tokens, int64_t first_pos) {
  ctx.kv().clear(0);
  ForwardBatch b;
  for (size_t i = 0; i < tokens.size(); ++i) b.add(tokens[i], first_pos + static_cast<int64_t>(i), 0, true);
  Status st = ctx.decode(b);
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  std::vector<float> out;
  for (int64_t i = 0; i < ctx.n_outputs(); ++i) {
    auto row = ctx.logits(i);
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

// (a) One layer, 1024 KV-wide, q4_0 K and V over 4M cells: each KV tensor is
// over 2^31 bytes; decoding at positions above 4,000,000 gives finite logits.
TEST(EngineLongContext, Q4KvBeyond2GiBAndPositionsAbove4M) {
  SynthOptions o;
  o.shape = *find_model_shape("tiny");
  o.type = "F16";
  o.n_layer = 1;
  o.n_embd = 1024;
  o.n_head = 8;
  o.n_head_kv = 8;
  o.n_ff = 1024;
  o.n_threads = 2;
  const std::string path = synth_file("long_ctx_a", o);
  auto m = Model::load(path);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  ASSERT_EQ((*m)->hparams().n_embd_kv(), 1024);
  ContextOptions c;
  c.n_ctx = kLongCtx;
  c.n_threads = 2;
  c.type_k = GgmlType::q4_0;
  c.type_v = GgmlType::q4_0;
  auto ctx = ForwardContext::create(**m, c);
  ASSERT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  EXPECT_GT((*ctx)->kv_bytes() / 2, 1ull << 31);  // each of K and V
  std::vector<int32_t> tokens = {1, 300, 301, 302, 310, 320, 330, 340};
  auto logits = logits_at(**ctx, tokens, 4000000);
  ASSERT_EQ(logits.size(), tokens.size() * static_cast<size_t>((*m)->hparams().n_vocab));
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
  // Keep decoding one token at a time near the end of the context.
  ForwardBatch b;
  b.add(5, 4194300, 0, true);
  ASSERT_TRUE((*ctx)->decode(b).is_ok());
  for (float v : (*ctx)->logits(0)) ASSERT_TRUE(std::isfinite(v));
}

// (b) RoPE depends only on relative position: the same 16 tokens at
// positions 0-15 and 4,000,000-4,000,015 give the same distribution.
TEST(EngineLongContext, RelativePositionsAt4MMatchPositionZero) {
  SynthOptions o;
  o.shape = *find_model_shape("tiny");
  o.type = "F16";
  o.n_threads = 2;
  const std::string path = synth_file("long_ctx_b", o);
  auto m = Model::load(path);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  ContextOptions c;
  c.n_ctx = kLongCtx;
  c.n_threads = 2;
  auto ctx = ForwardContext::create(**m, c);
  ASSERT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  std::vector<int32_t> tokens;
  for (int i = 0; i < 16; ++i) tokens.push_back(1 + (i * 37) % 500);
  auto near = logits_at(**ctx, tokens, 0);
  auto far = logits_at(**ctx, tokens, 4000000);
  auto cmp = compare_logits(near, far, (*m)->hparams().n_vocab);
  std::printf("positions 0-15 vs 4,000,000-4,000,015: mean KL %.3e max %.3e top-1 %.3f\n", cmp.mean_kl, cmp.max_kl,
              cmp.top1);
  EXPECT_LE(cmp.mean_kl, 1e-4);
}

}  // namespace
}  // namespace laneway
