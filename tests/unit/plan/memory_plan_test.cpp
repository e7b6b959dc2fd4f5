#include <gtest/gtest.h>

#include "plan/memory_plan.h"

namespace laneway {
namespace {

PlanModel shape(const char* name, const char* type) {
  auto s = find_model_shape(name);
  EXPECT_TRUE(s.has_value());
  auto m = plan_model_from_shape(*s, type);
  EXPECT_TRUE(m.is_ok()) << m.status().to_string();
  return *m;
}

constexpr uint64_t kGiB = 1ull << 30;

TEST(MemoryPlan, Llama31_8bKvPerTokenByType) {
  PlanModel m = shape("llama-3.1-8b", "Q4_K_M");
  PlanSettings s;
  s.n_ctx = 1 << 20;
  s.type_k = GgmlType::q8_0;
  s.type_v = GgmlType::f16;
  auto bill = plan_memory(m, s);
  ASSERT_TRUE(bill.is_ok());
  EXPECT_EQ(bill->kv_bytes_per_token, 100352u);
  EXPECT_EQ(bill->kv_bytes, 100352ull << 20);  // 98 GiB
  EXPECT_NEAR(double(bill->kv_bytes) / double(kGiB), 98.0, 1e-9);
  s.type_k = s.type_v = GgmlType::f16;
  EXPECT_EQ(plan_memory(m, s)->kv_bytes_per_token, 131072u);
  s.type_k = s.type_v = GgmlType::q4_0;
  EXPECT_EQ(plan_memory(m, s)->kv_bytes_per_token, 36864u);
  // 4.58 GiB of weights, like the real Q4_K_M file.
  EXPECT_NEAR(double(m.weight_bytes) / double(kGiB), 4.58, 0.02);
  EXPECT_FALSE(bill->warnings.empty());  // 1M is beyond the trained 128k
}

TEST(MemoryPlan, MaxContextFitsAndGrowsWithUsableMemory) {
  PlanModel m = shape("tinyllama-1.1b", "Q4_0");
  PlanSettings s;
  const int64_t small = max_context_that_fits(m, s, 1ull * kGiB);
  const int64_t large = max_context_that_fits(m, s, 4ull * kGiB);
  EXPECT_GT(small, 0);
  EXPECT_GT(large, small);
  s.n_ctx = small;
  EXPECT_LE(plan_memory(m, s)->total_bytes, 1ull * kGiB);
  s.n_ctx = small + 256;
  EXPECT_GT(plan_memory(m, s)->total_bytes, 1ull * kGiB);
  EXPECT_EQ(max_context_that_fits(m, PlanSettings{}, 100ull << 20), 0);  // weights alone are 607 MiB
}

TEST(MemoryPlan, TotalIsTheSumOfItsParts) {
  PlanModel m = shape("tiny", "F16");
  PlanSettings s;
  s.n_ctx = 4096;
  s.n_seq = 4;
  auto b = plan_memory(m, s);
  ASSERT_TRUE(b.is_ok());
  EXPECT_EQ(b->total_bytes, b->weights_bytes + b->kv_bytes + b->compute_bytes + b->overhead_bytes);
  EXPECT_EQ(b->kv_bytes, b->kv_bytes_per_token * 4096);
}

// The GPU layers' share: their blocks' weights and KV rows, the output head,
// and the device's buffers; the host bill does not change (the file stays mapped).
TEST(MemoryPlan, DeviceBillOfTheGpuLayers) {
  PlanModel m = shape("tinyllama-1.1b", "Q4_0");
  PlanSettings s;
  s.n_ctx = 4096;
  auto cpu = plan_memory(m, s);
  ASSERT_TRUE(cpu.is_ok());
  EXPECT_EQ(cpu->device.total_bytes, 0u);
  s.gpu_layers = 11;  // half of 22 blocks
  auto half = plan_memory(m, s);
  ASSERT_TRUE(half.is_ok());
  EXPECT_EQ(half->total_bytes, cpu->total_bytes);
  EXPECT_EQ(half->device.n_blocks, 11);
  EXPECT_EQ(half->device.kv_bytes, cpu->kv_bytes / 2);
  uint64_t blocks = 0;
  for (size_t l = 11; l < 22; ++l) blocks += m.layer_weight_bytes[l];
  EXPECT_EQ(half->device.weights_bytes, blocks + m.output_weight_bytes - m.embedding_bytes);
  EXPECT_GT(half->device.compute_bytes, 0u);
  EXPECT_EQ(half->device.total_bytes, half->device.weights_bytes + half->device.kv_bytes + half->device.compute_bytes);
  s.gpu_layers = -1;
  auto all = plan_memory(m, s);
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all->device.n_blocks, 22);
  EXPECT_EQ(all->device.kv_bytes, cpu->kv_bytes);
  EXPECT_EQ(all->device.weights_bytes, m.weight_bytes);
  s.gpu_layers = 100;  // more than the model has: all of them
  EXPECT_EQ(plan_memory(m, s)->device.n_blocks, 22);
}

TEST(MemoryPlan, RefusesWhatItCannotPlan) {
  PlanModel m = shape("tiny", "F16");
  PlanSettings s;
  s.type_k = GgmlType::q4_k;
  EXPECT_FALSE(plan_memory(m, s).is_ok());
  EXPECT_FALSE(plan_model_from_shape(*find_model_shape("tiny"), "Q9_9").is_ok());
}

TEST(MemoryPlan, AdmissionCheckSaysWhatToChange) {
  PlanModel m = shape("tinyllama-1.1b", "Q4_0");
  PlanSettings s;
  s.n_ctx = 16384;
  auto bill = plan_memory(m, s);
  ASSERT_TRUE(bill.is_ok());
  EXPECT_TRUE(check_memory_fits(m, s, *bill, bill->total_bytes, "test").is_ok());
  const uint64_t usable = 900ull << 20;  // the weights (607 MiB) fit, 16k of f16 KV (352 MiB) on top do not
  ASSERT_GT(bill->total_bytes, usable);
  Status st = check_memory_fits(m, s, *bill, usable, "cgroup limit 900 MiB");
  ASSERT_EQ(st.code(), StatusCode::resource_exhausted);
  const std::string& msg = st.message();
  EXPECT_NE(msg.find("does not fit in memory"), std::string::npos) << msg;
  EXPECT_NE(msg.find("900 MiB is usable (cgroup limit 900 MiB)"), std::string::npos) << msg;
  const int64_t max_ctx = max_context_that_fits(m, s, usable);
  EXPECT_NE(msg.find("a context of at most " + std::to_string(max_ctx) + " tokens"), std::string::npos) << msg;
  EXPECT_NE(msg.find("K/V cache type q8_0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("K/V cache type q4_0"), std::string::npos) << msg;
  // Not even the weights: say so.
  st = check_memory_fits(m, s, *bill, 100ull << 20, "test");
  EXPECT_NE(st.message().find("smaller quantization"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace laneway
