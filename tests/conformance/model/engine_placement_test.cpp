// The backend seam: a model split across two backends (a second CPU backend
// standing in for the GPU) gives the logits of a one-backend run, with only
// the residual stream crossing over; KV rows live with the layer's backend.
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "model/context.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "reference.h"
#include "support/testdata.h"

namespace laneway {
namespace {

ContextOptions options(int32_t n_seq = 1) {
  ContextOptions o;
  o.n_ctx = 256 * n_seq;
  o.n_seq = n_seq;
  o.n_threads = 2;
  o.n_batch = 16;  // several chunks per prompt
  return o;
}

// A second CPU backend in the GPU's place.
ContextOptions split_options(int32_t n_seq = 1) {
  ContextOptions o = options(n_seq);
  o.make_gpu_backend = []() -> Result<std::unique_ptr<Backend>> {
    LANEWAY_ASSIGN_OR_RETURN(CpuIsa isa, select_cpu_isa());
    return std::unique_ptr<Backend>(std::make_unique<CpuBackend>(2, isa));
  };
  return o;
}

std::vector<int32_t> prompt() {
  auto ref = test::load_reference(test::reference_path("stories260K/llamacpp.jsonl"),
                                  test::reference_path("stories260K/llamacpp.f32"));
  EXPECT_GE(ref.size(), 2u);
  return ref.empty() ? std::vector<int32_t>{1, 2, 3} : ref[1].forced_tokens();
}

void check_split(const std::string& file, int64_t gpu_layers) {
  const std::string path = test::testdata_path(file);
  LANEWAY_REQUIRE_FILE(path);
  const auto tokens = prompt();

  auto whole_model = Model::load(path);
  ASSERT_TRUE(whole_model.is_ok()) << whole_model.status().to_string();
  auto whole_ctx = ForwardContext::create(**whole_model, options());
  ASSERT_TRUE(whole_ctx.is_ok()) << whole_ctx.status().to_string();
  auto whole = teacher_forced_logits(**whole_ctx, tokens);
  ASSERT_TRUE(whole.is_ok());

  ModelLoadOptions lo;
  lo.gpu_layers = gpu_layers;
  auto split_model = Model::load(path, lo);
  ASSERT_TRUE(split_model.is_ok()) << split_model.status().to_string();
  const int64_t n_layer = (*split_model)->hparams().n_layer;
  EXPECT_EQ((*split_model)->first_gpu_layer(), gpu_layers < 0 ? 0 : n_layer - gpu_layers);
  auto split_ctx = ForwardContext::create(**split_model, split_options());
  ASSERT_TRUE(split_ctx.is_ok()) << split_ctx.status().to_string();
  const std::string placement = (*split_ctx)->describe_placement();
  if (gpu_layers >= 0 && gpu_layers < n_layer) {
    // Two ranges; only the residual stream crosses.
    EXPECT_NE(placement.find("\ncpu: "), std::string::npos) << placement;
    EXPECT_NE(placement.find("<- x\n"), std::string::npos) << placement;
    EXPECT_EQ(placement.find("<- h"), std::string::npos) << placement;
  }
  // The KV rows are split between the backends, not held twice.
  EXPECT_EQ((*split_ctx)->kv_bytes(), (*whole_ctx)->kv_bytes());
  auto split = teacher_forced_logits(**split_ctx, tokens);
  ASSERT_TRUE(split.is_ok());
  ASSERT_EQ(split->size(), whole->size());
  // The GPU layers' weights keep the file layout (untiled); the CPU kernels
  // give the tiled layout's bits for these types.
  EXPECT_EQ(std::memcmp(split->data(), whole->data(), whole->size() * sizeof(float)), 0) << file << "\n" << placement;
}

TEST(EnginePlacement, SplitMatchesOneBackendStories260K) { check_split("models/stories260K.gguf", 2); }
TEST(EnginePlacement, SplitMatchesOneBackendTinyQ4_0) { check_split("models/synthetic/tiny-Q4_0.gguf", 1); }
TEST(EnginePlacement, SplitMatchesOneBackendTinyQ8_0) { check_split("models/synthetic/tiny-Q8_0.gguf", 3); }
TEST(EnginePlacement, AllLayersOnTheSecondBackend) { check_split("models/synthetic/tiny-Q4_K_M.gguf", -1); }

TEST(EnginePlacement, CopySequenceCopiesRowsOnEveryBackend) {
  const std::string path = test::testdata_path("models/synthetic/tiny-Q4_0.gguf");
  LANEWAY_REQUIRE_FILE(path);
  ModelLoadOptions lo;
  lo.gpu_layers = 2;
  auto m = Model::load(path, lo);
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  auto ctx = ForwardContext::create(**m, split_options(2));
  ASSERT_TRUE(ctx.is_ok()) << ctx.status().to_string();
  ForwardBatch b;
  const std::vector<int32_t> tokens = {1, 40, 41, 42, 43};
  for (size_t i = 0; i < tokens.size(); ++i) b.add(tokens[i], static_cast<int64_t>(i), 0, false);
  ASSERT_TRUE((*ctx)->decode(b).is_ok());
  ASSERT_TRUE((*ctx)->copy_sequence(0, 1).is_ok());
  EXPECT_EQ((*ctx)->kv().used(1), 5);
  b.clear();
  b.add(44, 5, 0, true);
  b.add(44, 5, 1, true);
  ASSERT_TRUE((*ctx)->decode(b).is_ok());
  const auto a = (*ctx)->logits(0), c = (*ctx)->logits(1);
  EXPECT_EQ(std::memcmp(a.data(), c.data(), a.size_bytes()), 0);
  EXPECT_FALSE((*ctx)->copy_sequence(0, 2).is_ok());
}

TEST(EnginePlacement, GraphReadsLikeTheModel) {
  const std::string path = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(path);
  auto m = Model::load(path);
  ASSERT_TRUE(m.is_ok());
  auto ctx = ForwardContext::create(**m, options());
  ASSERT_TRUE(ctx.is_ok());
  const ForwardGraph& g = (*ctx)->graph();
  const int64_t n_layer = (*m)->hparams().n_layer;
  // Embedding, 16 ops per block, then gather + norm + head.
  EXPECT_EQ(static_cast<int64_t>(g.ops().size()), 1 + 16 * n_layer + 3);
  const std::string text = g.describe();
  EXPECT_EQ(text.rfind("input   get_rows", 0), 0u) << text;
  EXPECT_NE(text.find("blk.0   attention      attn["), std::string::npos) << text;
  EXPECT_NE(text.find("output  matmul         logits["), std::string::npos) << text;
  EXPECT_EQ((*ctx)->describe_placement().find("cpu: ops 0.."), 0u);
}

TEST(EnginePlacement, GpuLayersWithoutAGpuBackendIsAnError) {
  const std::string path = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(path);
  ModelLoadOptions lo;
  lo.gpu_layers = 1;
  lo.device = "no-such-device";
  auto m = Model::load(path, lo);
  ASSERT_TRUE(m.is_ok());
  auto ctx = ForwardContext::create(**m, options());
  ASSERT_FALSE(ctx.is_ok());
  EXPECT_NE(ctx.status().message().find("no-such-device"), std::string::npos) << ctx.status().to_string();
}

}  // namespace
}  // namespace laneway
