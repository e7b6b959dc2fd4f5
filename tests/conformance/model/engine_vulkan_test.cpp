// The whole model on the Vulkan backend (lavapipe, Mesa's software device,
// named as users would: --device llvmpipe) against ../shared/reference, with
// the GPU tolerances of the Vulkan work (looser than the CPU's: the shaders
// sum in another order and dequantize without 8-bit activations), the
// greedy text of stories260K equal to the CPU's, batch invariance on the
// device, a split run (half the blocks on each backend), and the
// architectures of issue 18 (qwen2, gemma2, experts, YaRN) wholly on the device.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend/vulkan/vulkan_device.h"
#include "fidelity.h"
#include "model/evaluate.h"
#include "support/testdata.h"

namespace laneway {
namespace {

using test::Engine;
using test::Overall;

bool lavapipe_present() {
  auto devices = list_vulkan_devices();
  if (!devices.is_ok()) return false;
  return std::any_of(devices->begin(), devices->end(),
                     [](const VulkanDeviceInfo& d) { return d.name.find("llvmpipe") != std::string::npos; });
}

#define LANEWAY_REQUIRE_LAVAPIPE()                                                                         \
  if (!lavapipe_present()) {                                                                               \
    if (::laneway::test::testdata_required()) FAIL() << "no lavapipe Vulkan device: install mesa-vulkan-drivers"; \
    GTEST_SKIP() << "no lavapipe Vulkan device (install mesa-vulkan-drivers to run the Vulkan tests)";     \
  }

ModelLoadOptions on_gpu(int64_t gpu_layers = -1) {
  ModelLoadOptions o;
  o.gpu_layers = gpu_layers;
  o.device = "llvmpipe";
  return o;
}

TEST(EngineVulkan, Stories260KGreedyMatchesCpu) {
  LANEWAY_REQUIRE_LAVAPIPE();
  const std::string model = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(model);
  auto ref = test::load_reference(test::reference_path("stories260K/llamacpp.jsonl"),
                                  test::reference_path("stories260K/llamacpp.f32"));
  ASSERT_EQ(ref.size(), 8u);
  Engine gpu = test::load(model, {}, on_gpu());
  ASSERT_TRUE(gpu.ctx);
  EXPECT_EQ(gpu.ctx->describe_placement().rfind("vulkan: ", 0), 0u) << gpu.ctx->describe_placement();
  Engine cpu = test::load(model);
  ASSERT_TRUE(cpu.ctx);
  for (const auto& p : ref) {
    const auto n = static_cast<int64_t>(p.greedy_tokens.size());
    auto g = greedy_generate(*gpu.ctx, p.prompt_tokens, n, {{2}});
    auto c = greedy_generate(*cpu.ctx, p.prompt_tokens, n, {{2}});
    ASSERT_TRUE(g.is_ok() && c.is_ok());
    EXPECT_EQ(*g, *c) << "prompt \"" << p.prompt << "\"";
    EXPECT_EQ(*g, p.greedy_tokens) << "prompt \"" << p.prompt << "\"";
  }
  Overall o = test::evaluate(gpu, ref, nullptr, nullptr, /*check_greedy=*/false);
  std::printf("stories260K on vulkan: mean KL %.3e max %.3e top-1 %.4f\n", o.mean_kl, o.max_kl, o.top1);
  EXPECT_LE(o.mean_kl, 1e-3);
  EXPECT_GE(o.top1, 0.95);
}

struct GpuCase {
  const char* name;
  double max_mean_kl;
  double min_top1;
};

class EngineVulkanSynthetic : public ::testing::TestWithParam<GpuCase> {};

void check_against_references(const GpuCase& c, int64_t gpu_layers) {
  const std::string model = test::testdata_path(std::string("models/synthetic/") + c.name + ".gguf");
  LANEWAY_REQUIRE_FILE(model);
  const std::string base = test::reference_path(std::string("synthetic/") + c.name);
  auto ref = test::load_reference(base + ".llamacpp.jsonl", base + ".llamacpp.f32");
  auto exact = test::load_f32(base + ".exact.f32");
  Engine e = test::load(model, {}, on_gpu(gpu_layers));
  ASSERT_TRUE(e.ctx);
  Overall x;
  Overall o = test::evaluate(e, ref, &exact, &x, /*check_greedy=*/false);
  std::printf("%s on vulkan (gpu layers %lld): vs llama.cpp mean KL %.3e max %.3e top-1 %.4f | vs exact mean KL %.3e "
              "max %.3e top-1 %.4f\n",
              c.name, static_cast<long long>(gpu_layers), o.mean_kl, o.max_kl, o.top1, x.mean_kl, x.max_kl, x.top1);
  EXPECT_LE(o.mean_kl, c.max_mean_kl);
  EXPECT_LE(x.mean_kl, c.max_mean_kl);
  EXPECT_GE(o.top1, c.min_top1);
  EXPECT_GE(x.top1, c.min_top1);
}

TEST_P(EngineVulkanSynthetic, MatchesBothReferences) {
  LANEWAY_REQUIRE_LAVAPIPE();
  check_against_references(GetParam(), -1);
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, EngineVulkanSynthetic,
    ::testing::Values(GpuCase{"tiny-f16", 1e-3, 0.95}, GpuCase{"tiny-Q8_0", 6e-3, 0.90},
                      GpuCase{"tiny-Q4_0", 6e-3, 0.90}, GpuCase{"tiny-Q4_1", 6e-3, 0.90},
                      GpuCase{"tiny-Q5_0", 6e-3, 0.90}, GpuCase{"tiny-Q5_1", 6e-3, 0.90},
                      GpuCase{"tiny-Q2_K", 6e-3, 0.90}, GpuCase{"tiny-Q3_K_M", 6e-3, 0.90},
                      GpuCase{"tiny-Q4_K_M", 6e-3, 0.90}, GpuCase{"tiny-Q5_K_M", 6e-3, 0.90},
                      GpuCase{"tiny-Q6_K", 6e-3, 0.90}, GpuCase{"arch-llama31-f16", 1e-3, 0.95},
                      GpuCase{"arch-llama31-Q8_0", 6e-3, 0.90}),
    [](const auto& p) {
      std::string n = p.param.name;
      for (auto& ch : n) if (ch == '-') ch = '_';
      return n;
    });

// The architectures beside llama with every block and the output head on
// the device, against their references (engine_arch_test.cpp runs them on
// the CPU), with the GPU tolerances. arch-granite is left out: its
// reference does not match on the CPU either yet.
struct GpuArchCase {
  const char* name;       // models/synthetic/<name>.gguf
  const char* reference;  // "llamacpp" or "ikllama"
  double max_mean_kl;
  double min_top1;
  // Mixtures of experts: rows where a token went to another expert than in
  // the reference (a router near-tie broken the other way by rounding; KL
  // above 0.1) are counted, at most this many, and left out of the mean.
  int max_routing_flips = 0;
};

class EngineVulkanArch : public ::testing::TestWithParam<GpuArchCase> {};

TEST_P(EngineVulkanArch, MatchesReferenceWhollyOnDevice) {
  LANEWAY_REQUIRE_LAVAPIPE();
  const GpuArchCase& c = GetParam();
  const std::string model = test::testdata_path(std::string("models/synthetic/") + c.name + ".gguf");
  LANEWAY_REQUIRE_FILE(model);
  const std::string base = test::reference_path(std::string("synthetic/") + c.name + "." + c.reference);
  auto ref = test::load_reference(base + ".jsonl", base + ".f32");
  ASSERT_FALSE(ref.empty());
  Engine e = test::load(model, {}, on_gpu());
  ASSERT_TRUE(e.ctx);
  const std::string placement = e.ctx->describe_placement();
  EXPECT_EQ(placement.rfind("vulkan: ", 0), 0u) << placement;
  EXPECT_EQ(placement.find("cpu"), std::string::npos) << "every op on the device:\n" << placement;
  const test::RoutedFidelity f = test::evaluate_with_routing_flips(e, ref, c.max_routing_flips > 0);
  std::printf("%s on vulkan: vs %s mean KL %.3e (all rows %.3e) max %.3e top-1 %.4f over %lld rows\n", c.name,
              c.reference, f.mean_kl, f.mean_kl_all, f.max_kl, f.top1, static_cast<long long>(f.rows));
  if (!f.flips.empty()) std::printf("%s on vulkan: rows routed to other experts:%s\n", c.name, f.flips.c_str());
  RecordProperty("mean_kl", std::to_string(f.mean_kl));
  EXPECT_LE(f.mean_kl, c.max_mean_kl);
  EXPECT_GE(f.top1, c.min_top1);
  EXPECT_LE(f.flipped, c.max_routing_flips) << f.flips;
}

INSTANTIATE_TEST_SUITE_P(
    Architectures, EngineVulkanArch,
    ::testing::Values(GpuArchCase{"arch-qwen2-f16", "llamacpp", 1e-3, 0.95},
                      GpuArchCase{"arch-qwen2-Q8_0", "llamacpp", 6e-3, 0.90},
                      GpuArchCase{"arch-gemma2-f16", "llamacpp", 1e-3, 0.95},
                      GpuArchCase{"arch-gemma2-Q8_0", "llamacpp", 6e-3, 0.90},
                      GpuArchCase{"arch-moe-f16", "llamacpp", 1e-3, 0.95},
                      // As on the CPU, ~1% of the Q8_0 rows route to another expert
                      // than in the reference: 5 of 368 here, 3 on the CPU, two rows
                      // shared, and one the CPU flips the GPU does not. The shaders
                      // keep activations in f32 where llama.cpp and the CPU quantize
                      // them to Q8, so router near-ties break differently; hence 8.
                      GpuArchCase{"arch-moe-Q8_0", "llamacpp", 6e-3, 0.90, 8},
                      GpuArchCase{"arch-yarn-f16", "ikllama", 1e-3, 0.95}),
    [](const auto& p) {
      std::string n = p.param.name;
      for (auto& ch : n) if (ch == '-') ch = '_';
      return n;
    });

// Half the blocks on the CPU, half (and the output head) on the GPU.
TEST(EngineVulkan, SplitRunWithinTolerances) {
  LANEWAY_REQUIRE_LAVAPIPE();
  check_against_references({"tiny-Q4_K_M", 6e-3, 0.90}, 2);
  check_against_references({"tiny-f16", 1e-3, 0.95}, 2);
}

// A sequence's logits on the device are bit-identical alone, batched with
// other sequences, and in chunks (same device, same build).
TEST(EngineVulkan, BatchAndChunkInvariance) {
  LANEWAY_REQUIRE_LAVAPIPE();
  const std::string path = test::testdata_path("models/synthetic/tiny-Q4_0.gguf");
  LANEWAY_REQUIRE_FILE(path);
  auto ref = test::load_reference(test::reference_path("stories260K/llamacpp.jsonl"),
                                  test::reference_path("stories260K/llamacpp.f32"));
  ASSERT_GE(ref.size(), 4u);
  auto m = Model::load(path, on_gpu());
  ASSERT_TRUE(m.is_ok()) << m.status().to_string();
  auto make = [&](int32_t n_seq, int32_t n_batch) {
    ContextOptions o;
    o.n_ctx = 256 * n_seq;
    o.n_seq = n_seq;
    o.n_batch = n_batch;
    o.n_threads = 2;
    auto c = ForwardContext::create(**m, o);
    EXPECT_TRUE(c.is_ok()) << c.status().to_string();
    return c.is_ok() ? std::move(c).value() : nullptr;
  };
  const int64_t V = (*m)->hparams().n_vocab;
  const std::vector<int32_t> target = ref[1].forced_tokens();
  auto alone_ctx = make(1, 512);
  ASSERT_TRUE(alone_ctx);
  auto alone = teacher_forced_logits(*alone_ctx, target);
  ASSERT_TRUE(alone.is_ok());
  auto chunked = teacher_forced_logits(*alone_ctx, target, 0, static_cast<int64_t>(target.size() + 2) / 3);
  ASSERT_TRUE(chunked.is_ok());
  EXPECT_EQ(std::memcmp(alone->data(), chunked->data(), alone->size() * sizeof(float)), 0) << "3 chunks";

  // The same prompt alone in sequence 1 of a four-sequence context.
  {
    auto ctx4 = make(4, 512);
    ASSERT_TRUE(ctx4);
    auto other_seq = teacher_forced_logits(*ctx4, target, 1);
    ASSERT_TRUE(other_seq.is_ok());
    EXPECT_EQ(std::memcmp(alone->data(), other_seq->data(), alone->size() * sizeof(float)), 0) << "sequence 1 of 4";
    auto small = make(1, 7);
    auto chunks7 = teacher_forced_logits(*small, target);
    ASSERT_TRUE(chunks7.is_ok());
    EXPECT_EQ(std::memcmp(alone->data(), chunks7->data(), alone->size() * sizeof(float)), 0) << "n_batch 7";
  }
  // Four prompts interleaved in one batch, split into micro-batches of 7.
  auto batch_ctx = make(4, 7);
  ASSERT_TRUE(batch_ctx);
  ForwardBatch b;
  std::vector<std::pair<size_t, size_t>> order;  // (prompt, position) of each batch row
  std::vector<std::vector<int32_t>> prompts;
  size_t longest = 0;
  for (size_t i = 0; i < 4; ++i) {
    prompts.push_back(ref[i].forced_tokens());
    longest = std::max(longest, prompts.back().size());
  }
  for (size_t i = 0; i < longest; ++i) {
    for (size_t s = 0; s < prompts.size(); ++s) {
      if (i >= prompts[s].size()) continue;
      b.add(prompts[s][i], static_cast<int64_t>(i), static_cast<int32_t>(s), true);
      order.emplace_back(s, i);
    }
  }
  ASSERT_TRUE(batch_ctx->decode(b).is_ok());
  std::vector<float> batched(target.size() * static_cast<size_t>(V));
  for (size_t k = 0; k < order.size(); ++k) {
    if (order[k].first != 1) continue;
    const auto row = batch_ctx->logits(static_cast<int64_t>(k));
    std::memcpy(batched.data() + order[k].second * static_cast<size_t>(V), row.data(), row.size_bytes());
  }
  EXPECT_EQ(std::memcmp(alone->data(), batched.data(), alone->size() * sizeof(float)), 0) << "batch of 4, n_batch 7";
}

// gemma2's windowed blocks keep rings on the device too (window 16, n_batch
// 64: 128 cells per sequence): 160 tokens, past the ring's end, give the
// whole-context layout's logits bit for bit, in passes of 64 and of 50.
TEST(EngineVulkan, Gemma2RingsGiveTheWholeContextsLogits) {
  LANEWAY_REQUIRE_LAVAPIPE();
  const std::string model = test::testdata_path("models/synthetic/arch-gemma2-f16.gguf");
  LANEWAY_REQUIRE_FILE(model);
  auto make = [&](bool swa_full) {
    ContextOptions o;
    o.n_ctx = 512;
    o.n_batch = 64;
    o.swa_full = swa_full;
    return test::load(model, o, on_gpu());
  };
  Engine ring = make(false);
  Engine whole = make(true);
  ASSERT_TRUE(ring.ctx && whole.ctx);
  EXPECT_EQ(ring.ctx->describe_placement().rfind("vulkan: ", 0), 0u) << ring.ctx->describe_placement();
  EXPECT_EQ(ring.ctx->kv().ring_cells(), 128);
  EXPECT_EQ(ring.ctx->kv_bytes() * 8, whole.ctx->kv_bytes() * 5);
  std::vector<int32_t> tokens(160);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>(3 + (i * 7919) % 509);
  auto expected = teacher_forced_logits(*whole.ctx, tokens);
  ASSERT_TRUE(expected.is_ok()) << expected.status().to_string();
  auto alone = teacher_forced_logits(*ring.ctx, tokens);
  ASSERT_TRUE(alone.is_ok()) << alone.status().to_string();
  EXPECT_EQ(std::memcmp(expected->data(), alone->data(), expected->size() * 4), 0) << "ring, alone";
  auto chunked = teacher_forced_logits(*ring.ctx, tokens, 0, 50);
  ASSERT_TRUE(chunked.is_ok()) << chunked.status().to_string();
  EXPECT_EQ(std::memcmp(expected->data(), chunked->data(), expected->size() * 4), 0) << "ring, chunks of 50";
}

TEST(EngineVulkan, MissingDeviceIsAClearError) {
  LANEWAY_REQUIRE_LAVAPIPE();
  const std::string path = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(path);
  ModelLoadOptions lo = on_gpu();
  lo.device = "radeon-that-is-not-here";
  auto m = Model::load(path, lo);
  ASSERT_TRUE(m.is_ok());
  auto ctx = ForwardContext::create(**m, {});
  ASSERT_FALSE(ctx.is_ok());
  // Names what was asked for and what is present.
  EXPECT_NE(ctx.status().message().find("radeon-that-is-not-here"), std::string::npos) << ctx.status().to_string();
  EXPECT_NE(ctx.status().message().find("llvmpipe"), std::string::npos) << ctx.status().to_string();
}

}  // namespace
}  // namespace laneway
