// The Vulkan backend op by op against the CPU reference (CpuBackend), on
// lavapipe (named explicitly: "auto" never picks a CPU implementation).
// Both backends get the same setup, the same activations written in and
// the same PassInputs; each test compares what read_activation returns
// with a tolerance stated beside it. Without a Vulkan device the tests
// skip, except under LANEWAY_REQUIRE_TESTDATA=1 (CI has lavapipe), where
// they fail.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/isa.h"
#include "backend/vulkan/vulkan_backend.h"
#include "quant/quant.h"
#include "support/testdata.h"

namespace laneway {
namespace {

// lavapipe (seen with Mesa 22.3.6-1+deb12u2) keeps a 128-byte block in a
// static of its own; the Vulkan loader unloads the driver when the instance
// is destroyed, the static goes with it, and LeakSanitizer (the ASan stage of
// .ci/run) then reports the block as leaked. With the driver kept loaded it
// is still referenced, and nothing is reported: so it is kept loaded here.
[[maybe_unused]] void* const g_keep_lavapipe_loaded = dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);

std::unique_ptr<VulkanBackend> open_lavapipe() {
  Result<std::unique_ptr<VulkanBackend>> be = VulkanBackend::create("llvmpipe");
  if (!be.is_ok()) return nullptr;
  return std::move(be).value();
}

#define LANEWAY_REQUIRE_VULKAN(var)                                                                 \
  std::unique_ptr<VulkanBackend> var = open_lavapipe();                                             \
  if (var == nullptr) {                                                                             \
    if (::laneway::test::testdata_required()) {                                                     \
      FAIL() << "no lavapipe Vulkan device (LANEWAY_REQUIRE_TESTDATA=1): install mesa-vulkan-drivers"; \
    }                                                                                               \
    GTEST_SKIP() << "no lavapipe Vulkan device (install mesa-vulkan-drivers to run the Vulkan tests)"; \
  }

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// A weight of `type` holding random values, quantized by the reference quantizer.
struct TestWeight {
  std::vector<uint8_t> bytes;
  WeightView view;
};
std::unique_ptr<TestWeight> make_weight(GgmlType type, int64_t n_rows, int64_t n_cols, uint32_t seed) {
  auto w = std::make_unique<TestWeight>();
  const uint64_t row_bytes = *ggml_row_bytes(type, static_cast<uint64_t>(n_cols));
  w->bytes.resize(row_bytes * static_cast<uint64_t>(n_rows) + 16);
  const std::vector<float> values = random_floats(static_cast<size_t>(n_rows * n_cols), seed);
  for (int64_t r = 0; r < n_rows; ++r) {
    quantize_row(type, values.data() + r * n_cols, w->bytes.data() + r * row_bytes, n_cols);
  }
  w->view = WeightView{type, w->bytes.data(), n_cols, n_rows, row_bytes, false};
  return w;
}

// Max |a - b| over max |ref| (0 when both are all zero), and NaN checks.
double max_rel_error(const std::vector<float>& ref, const std::vector<float>& got) {
  EXPECT_EQ(ref.size(), got.size());
  double max_ref = 0.0, max_err = 0.0;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    if (std::isnan(got[i]) != std::isnan(ref[i])) return INFINITY;
    max_ref = std::max(max_ref, std::fabs(double(ref[i])));
    max_err = std::max(max_err, std::fabs(double(ref[i]) - double(got[i])));
  }
  return max_ref > 0.0 ? max_err / max_ref : max_err;
}

// Normalized mean squared error: sum (a-b)^2 / sum ref^2.
double nmse(const std::vector<float>& ref, const std::vector<float>& got) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    num += (double(ref[i]) - double(got[i])) * (double(ref[i]) - double(got[i]));
    den += double(ref[i]) * double(ref[i]);
  }
  return den > 0.0 ? num / den : num;
}

// y = W x with the weight dequantized by the reference decoder and summed in double.
std::vector<float> exact_matmul(const WeightView& w, const std::vector<float>& x, int64_t n_tokens) {
  std::vector<float> row(static_cast<size_t>(w.n_cols)), y(static_cast<size_t>(n_tokens * w.n_rows));
  for (int64_t r = 0; r < w.n_rows; ++r) {
    dequantize_row(w.type, w.row(r), row.data(), w.n_cols);
    for (int64_t t = 0; t < n_tokens; ++t) {
      double s = 0.0;
      for (int64_t c = 0; c < w.n_cols; ++c) s += double(row[static_cast<size_t>(c)]) * double(x[static_cast<size_t>(t * w.n_cols + c)]);
      y[static_cast<size_t>(t * w.n_rows + r)] = static_cast<float>(s);
    }
  }
  return y;
}

// One graph fragment run on both backends.
struct Fixture {
  std::vector<ActivationDesc> acts;
  std::vector<Op> ops;
  KvStorageDesc kv;
  int64_t max_tokens = 64;

  ActId add_act(std::string name, int64_t width, bool host_output = false) {
    acts.push_back({std::move(name), width, host_output});
    return static_cast<ActId>(acts.size() - 1);
  }
  BackendSetup setup() const { return BackendSetup{acts, max_tokens, ops, kv}; }
};

struct Pair {
  CpuBackend cpu{2, CpuIsa::scalar};
  std::unique_ptr<VulkanBackend> gpu;

  Status allocate(const Fixture& f) {
    LANEWAY_TRY(cpu.allocate(f.setup()));
    return gpu->allocate(f.setup());
  }
  Status write(ActId act, int64_t rows, const std::vector<float>& v) {
    LANEWAY_TRY(cpu.write_activation(act, rows, v.data()));
    return gpu->write_activation(act, rows, v.data());
  }
  Status run(std::span<const Op> ops, const PassInputs& in) {
    LANEWAY_TRY(cpu.run(ops, in));
    return gpu->run(ops, in);
  }
  Status read(ActId act, int64_t rows, int64_t width, std::vector<float>* ref, std::vector<float>* got) {
    ref->assign(static_cast<size_t>(rows * width), 0.0f);
    got->assign(static_cast<size_t>(rows * width), 0.0f);
    LANEWAY_TRY(cpu.read_activation(act, rows, ref->data()));
    return gpu->read_activation(act, rows, got->data());
  }
};

const GgmlType kWeightTypes[] = {GgmlType::f32,  GgmlType::f16,  GgmlType::bf16, GgmlType::q8_0, GgmlType::q4_0,
                                 GgmlType::q4_1, GgmlType::q5_0, GgmlType::q5_1, GgmlType::q2_k, GgmlType::q3_k,
                                 GgmlType::q4_k, GgmlType::q5_k, GgmlType::q6_k};

// Columns for a type: a few blocks (5 of 32, or 3 super-blocks of 256), never
// a multiple of the shader's 64 lanes x 4 for the 32-element types.
int64_t awkward_cols(GgmlType type, int64_t small) {
  const auto block = static_cast<int64_t>(ggml_type_traits(type).block_size);
  return block >= 256 ? 3 * block : small;
}

TEST(VulkanDevice, AutoNeverPicksACpuDeviceAndNamesAreChecked) {
  Result<std::vector<VulkanDeviceInfo>> devices = list_vulkan_devices();
  ASSERT_TRUE(devices.is_ok()) << devices.status().to_string();
  if (devices->empty()) {
    if (::laneway::test::testdata_required()) FAIL() << "no Vulkan device (LANEWAY_REQUIRE_TESTDATA=1)";
    GTEST_SKIP() << "no Vulkan device";
  }
  for (const VulkanDeviceInfo& d : *devices) {
    Result<std::unique_ptr<VulkanDevice>> by_index = select_vulkan_device(std::to_string(d.index));
    ASSERT_TRUE(by_index.is_ok()) << by_index.status().to_string();
    EXPECT_EQ((*by_index)->info().name, d.name);
  }
  Result<std::unique_ptr<VulkanDevice>> automatic = select_vulkan_device("auto");
  if (automatic.is_ok()) {
    EXPECT_FALSE((*automatic)->info().is_cpu()) << "auto picked " << (*automatic)->info().describe();
  } else {
    EXPECT_EQ(automatic.status().code(), StatusCode::not_found);
  }
  Result<std::unique_ptr<VulkanDevice>> missing = select_vulkan_device("no-such-gpu-name");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::not_found);
  EXPECT_NE(missing.status().message().find("devices present"), std::string::npos) << missing.status().message();
}

TEST(VulkanDevice, LavapipeDescribesItself) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  const VulkanDeviceInfo& info = gpu->device_info();
  EXPECT_TRUE(info.is_cpu());
  EXPECT_GT(info.subgroup_size, 0u);
  EXPECT_GT(info.max_storage_buffer_range_bytes, 0u);
  EXPECT_FALSE(info.heaps.empty());
  EXPECT_EQ(gpu->name(), "vulkan");
}

// matmul for every weight type on awkward shapes: 37 output rows (not a
// multiple of anything), 160 columns (5 blocks, not a multiple of the 64
// lanes x 4), 1, 7 and 64 tokens. Output: the logits (host_output) path.
TEST(VulkanOps, MatmulMatchesCpuForEveryWeightType) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  // More rows than one work-group's 256 (64 invocations of 4 rows), the
  // second group partly past the end.
  constexpr int64_t kRows = 300;
  for (GgmlType type : kWeightTypes) {
    SCOPED_TRACE(std::string(ggml_type_name(type)));
    const int64_t kCols = awkward_cols(type, 160);
    ASSERT_TRUE(gpu->supports_weight_type(type));
    auto w = make_weight(type, kRows, kCols, 7);
    Fixture f;
    const ActId x = f.add_act("x", kCols);
    const ActId y = f.add_act("y", kRows);
    const ActId logits = f.add_act("logits", kRows, /*host_output=*/true);
    f.ops.push_back(Op{.kind = OpKind::matmul, .dst = y, .a = x, .weight = &w->view});
    f.ops.push_back(Op{.kind = OpKind::matmul, .dst = logits, .a = x, .weight = &w->view});
    Pair p{.gpu = std::move(gpu)};
    ASSERT_TRUE(p.allocate(f).is_ok());
    for (int64_t n : {1, 7, 64}) {
      const std::vector<float> xs = random_floats(static_cast<size_t>(n * kCols), 11 + static_cast<uint32_t>(n));
      ASSERT_TRUE(p.write(x, n, xs).is_ok());
      std::vector<float> logits_cpu(static_cast<size_t>(n * kRows)), logits_gpu(logits_cpu.size());
      PassInputs in;
      in.n_tokens = n;
      in.n_outputs = n;
      in.logits = logits_cpu.data();
      ASSERT_TRUE(p.cpu.run(f.ops, in).is_ok());
      in.logits = logits_gpu.data();
      Status s = p.gpu->run(f.ops, in);
      ASSERT_TRUE(s.is_ok()) << s.to_string();
      std::vector<float> ref, got;
      ASSERT_TRUE(p.read(y, n, kRows, &ref, &got).is_ok());
      // The GPU multiplies the exactly dequantized weights by f32 activations:
      // against a double-precision sum only f32 rounding remains.
      const std::vector<float> exact = exact_matmul(w->view, xs, n);
      EXPECT_LT(max_rel_error(exact, got), 2e-5) << n << " tokens";
      EXPECT_LT(max_rel_error(exact, logits_gpu), 2e-5) << n << " tokens (logits)";
      EXPECT_EQ(std::memcmp(got.data(), logits_gpu.data(), got.size() * sizeof(float)), 0);
      // The CPU's fast kernels quantize activations to Q8 for the quantized
      // types (about 0.4% per value): NMSE bound 1e-4 there, f32 rounding otherwise.
      const bool q8_acts = type != GgmlType::f32 && type != GgmlType::f16 && type != GgmlType::bf16;
      EXPECT_LT(nmse(ref, got), q8_acts ? 1e-4 : 1e-10) << n << " tokens vs CpuBackend";
      EXPECT_LT(nmse(logits_cpu, logits_gpu), q8_acts ? 1e-4 : 1e-10) << n << " tokens (logits) vs CpuBackend";
    }
    gpu = std::move(p.gpu);
  }
}

TEST(VulkanOps, GetRowsMatchesCpuForEveryWeightType) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  constexpr int64_t kRows = 50;
  for (GgmlType type : kWeightTypes) {
    SCOPED_TRACE(std::string(ggml_type_name(type)));
    const int64_t kCols = awkward_cols(type, 96);
    auto w = make_weight(type, kRows, kCols, 3);
    Fixture f;
    const ActId dst = f.add_act("emb", kCols);
    f.ops.push_back(Op{.kind = OpKind::get_rows, .dst = dst, .weight = &w->view});
    Pair p{.gpu = std::move(gpu)};
    ASSERT_TRUE(p.allocate(f).is_ok());
    std::vector<int32_t> tokens(64);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 17 + 3) % kRows);
    for (int64_t n : {1, 7, 64}) {
      PassInputs in;
      in.tokens = tokens.data();
      in.n_tokens = n;
      ASSERT_TRUE(p.run(f.ops, in).is_ok());
      std::vector<float> ref, got;
      ASSERT_TRUE(p.read(dst, n, kCols, &ref, &got).is_ok());
      // One multiply (and add) per value: equal up to a fused multiply-add.
      EXPECT_LT(max_rel_error(ref, got), 1e-6) << n << " tokens";
    }
    // A token id outside the table is an error, not a read out of bounds.
    const int32_t bad = kRows;
    PassInputs in;
    in.tokens = &bad;
    in.n_tokens = 1;
    EXPECT_EQ(p.gpu->run(f.ops, in).code(), StatusCode::invalid_argument);
    gpu = std::move(p.gpu);
  }
}

TEST(VulkanOps, UnsupportedWeightTypeIsAnErrorAtAllocate) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  // IQ4_NL: a type the engine does not run (zero bytes are enough: nothing is decoded).
  const uint64_t row_bytes = *ggml_row_bytes(GgmlType::iq4_nl, 256);
  std::vector<uint8_t> bytes(4 * row_bytes, 0);
  const WeightView w{GgmlType::iq4_nl, bytes.data(), 256, 4, row_bytes, false};
  EXPECT_FALSE(gpu->supports_weight_type(GgmlType::iq4_nl));
  Fixture f;
  const ActId x = f.add_act("x", 256);
  const ActId y = f.add_act("y", 4);
  f.ops.push_back(Op{.kind = OpKind::matmul, .dst = y, .a = x, .weight = &w});
  const Status s = gpu->allocate(f.setup());
  EXPECT_EQ(s.code(), StatusCode::unsupported) << s.to_string();
}

// rms_norm, rope (normal and neox, partial rope_dim), swiglu, add and
// gather_outputs in one chain, on 1, 7 and 64 tokens.
TEST(VulkanOps, ElementwiseChainMatchesCpu) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  constexpr int64_t kWidth = 36;  // 3 heads of 12; not a multiple of the work-group
  constexpr int64_t kFfn = 300;
  std::vector<float> norm_w = random_floats(kWidth, 5);
  WeightView norm_view{GgmlType::f32, reinterpret_cast<const uint8_t*>(norm_w.data()), kWidth, 1, kWidth * 4, false};
  for (bool neox : {false, true}) {
    SCOPED_TRACE(neox ? "neox" : "normal");
    Fixture f;
    const ActId x = f.add_act("x", kWidth);
    const ActId normed = f.add_act("normed", kWidth);
    const ActId gate = f.add_act("gate", kFfn);
    const ActId up = f.add_act("up", kFfn);
    const ActId act = f.add_act("act", kFfn);
    const ActId out = f.add_act("out", kWidth);
    f.ops.push_back(Op{.kind = OpKind::rms_norm, .dst = normed, .a = x, .weight = &norm_view, .eps = 1e-5f});
    f.ops.push_back(Op{.kind = OpKind::rope, .dst = normed, .n_heads = 3, .head_dim = 12, .rope_dim = 8, .neox = neox});
    f.ops.push_back(Op{.kind = OpKind::swiglu, .dst = act, .a = gate, .b = up});
    f.ops.push_back(Op{.kind = OpKind::add, .dst = normed, .a = x});
    f.ops.push_back(Op{.kind = OpKind::gather_outputs, .rows = OpRows::outputs, .dst = out, .a = normed});
    Pair p{.gpu = std::move(gpu)};
    ASSERT_TRUE(p.allocate(f).is_ok());
    for (int64_t n : {1, 7, 64}) {
      ASSERT_TRUE(p.write(x, n, random_floats(static_cast<size_t>(n * kWidth), 21, 3.0f)).is_ok());
      ASSERT_TRUE(p.write(gate, n, random_floats(static_cast<size_t>(n * kFfn), 22, 4.0f)).is_ok());
      ASSERT_TRUE(p.write(up, n, random_floats(static_cast<size_t>(n * kFfn), 23)).is_ok());
      const std::vector<float> rope = random_floats(static_cast<size_t>(n * 4 * 2), 24);
      std::vector<int32_t> rows;
      for (int32_t t = static_cast<int32_t>(n) - 1; t >= 0; t -= 3) rows.insert(rows.begin(), t);
      PassInputs in;
      in.n_tokens = n;
      in.rope_cos_sin = rope.data();
      in.rope_pairs = 4;
      in.output_rows = rows.data();
      in.n_outputs = static_cast<int64_t>(rows.size());
      ASSERT_TRUE(p.run(f.ops, in).is_ok());
      std::vector<float> ref, got;
      ASSERT_TRUE(p.read(normed, n, kWidth, &ref, &got).is_ok());
      EXPECT_LT(max_rel_error(ref, got), 1e-5) << "rms_norm + rope + add, " << n << " tokens";
      ASSERT_TRUE(p.read(act, n, kFfn, &ref, &got).is_ok());
      EXPECT_LT(max_rel_error(ref, got), 1e-5) << "swiglu, " << n << " tokens";
      ASSERT_TRUE(p.read(out, in.n_outputs, kWidth, &ref, &got).is_ok());
      EXPECT_LT(max_rel_error(ref, got), 1e-5) << "gather_outputs, " << n << " tokens";
    }
    gpu = std::move(p.gpu);
  }
}

// store_kv then attention, three sequences with different used counts and
// position gaps, GQA (4 query heads over 2 KV heads), for each cache type;
// then a decode step of one token per sequence.
TEST(VulkanOps, StoreKvAndAttentionMatchCpu) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  constexpr int64_t kHead = 4, kHeadKv = 2, kCells = 80;
  constexpr int32_t kSeqs = 3;
  // Head size 38: not a multiple of 4 (the f16 scores go 4 elements at a
  // time, then a last pair).
  for (auto [kv_type, kHeadDim] : {std::pair{GgmlType::f16, int64_t{64}}, std::pair{GgmlType::q8_0, int64_t{64}},
                                   std::pair{GgmlType::q4_0, int64_t{64}}, std::pair{GgmlType::f16, int64_t{38}}}) {
    SCOPED_TRACE(std::string(ggml_type_name(kv_type)) + " head " + std::to_string(kHeadDim));
    Fixture f;
    f.kv = KvStorageDesc{2, 4, kCells, kSeqs, kHeadKv * kHeadDim, kHeadKv * kHeadDim, kv_type, kv_type};
    const ActId q = f.add_act("q", kHead * kHeadDim);
    const ActId k = f.add_act("k", kHeadKv * kHeadDim);
    const ActId v = f.add_act("v", kHeadKv * kHeadDim);
    const ActId out = f.add_act("attn", kHead * kHeadDim);
    const AttentionShape shape{kHead, kHeadKv, kHeadDim, 1.0f / std::sqrt(float(kHeadDim))};
    f.ops.push_back(Op{.kind = OpKind::store_kv, .layer = 3, .a = k, .b = v});
    f.ops.push_back(Op{.kind = OpKind::attention, .layer = 3, .dst = out, .a = q, .attn = shape});
    Pair p{.gpu = std::move(gpu)};
    const Status as = p.allocate(f);
    ASSERT_TRUE(as.is_ok()) << as.to_string();

    std::vector<int64_t> positions(kSeqs * kCells, 0);
    std::vector<int64_t> used(kSeqs, 0);
    // Pass 1: 64 tokens; sequence s gets tokens t with t % 3 == s (22, 21, 21
    // cells), at positions 2 * cell + s (gaps, different per sequence).
    // Pass 2: one token per sequence.
    for (int pass = 0; pass < 2; ++pass) {
      const int64_t n = pass == 0 ? 64 : kSeqs;
      std::vector<TokenSlot> slots(static_cast<size_t>(n));
      for (int64_t t = 0; t < n; ++t) {
        const int32_t s = static_cast<int32_t>(t % kSeqs);
        const int64_t cell = used[static_cast<size_t>(s)]++;
        slots[static_cast<size_t>(t)] = TokenSlot{s, cell, 2 * cell + s};
        positions[static_cast<size_t>(s * kCells + cell)] = 2 * cell + s;
      }
      const uint32_t seed = 100 + static_cast<uint32_t>(pass);
      ASSERT_TRUE(p.write(q, n, random_floats(static_cast<size_t>(n * kHead * kHeadDim), seed)).is_ok());
      ASSERT_TRUE(p.write(k, n, random_floats(static_cast<size_t>(n * kHeadKv * kHeadDim), seed + 10)).is_ok());
      ASSERT_TRUE(p.write(v, n, random_floats(static_cast<size_t>(n * kHeadKv * kHeadDim), seed + 20)).is_ok());
      PassInputs in;
      in.n_tokens = n;
      in.slots = slots.data();
      in.cells = KvCellsView{positions.data(), used.data(), kCells, kSeqs};
      Status rs = p.run(f.ops, in);
      ASSERT_TRUE(rs.is_ok()) << rs.to_string();
      std::vector<float> ref, got;
      ASSERT_TRUE(p.read(out, n, kHead * kHeadDim, &ref, &got).is_ok());
      // f16 rows convert exactly on both sides; quantized rows may differ in
      // a rare rounding of a level, hence the looser bound.
      const double tol = kv_type == GgmlType::f16 ? 1e-5 : 2e-3;
      EXPECT_LT(max_rel_error(ref, got), tol) << "pass " << pass;
    }
    gpu = std::move(p.gpu);
  }
}

// Wide GQA (12 query heads over one KV head: the shader splits the group
// into chunks of at most 4 heads, one work-group each) and different K and V
// cache types (one shader variant per pair), 70 cells (two blocks of 64).
TEST(VulkanOps, AttentionWideGroupsAndMixedCacheTypes) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  constexpr int64_t kHeadDim = 32, kHead = 12, kHeadKv = 1, kCells = 80, kN = 70;
  for (auto [type_k, type_v] : {std::pair{GgmlType::q8_0, GgmlType::f16}, std::pair{GgmlType::f16, GgmlType::q4_0}}) {
    SCOPED_TRACE(std::string(ggml_type_name(type_k)) + "/" + std::string(ggml_type_name(type_v)));
    Fixture f;
    f.max_tokens = kN;
    f.kv = KvStorageDesc{0, 1, kCells, 1, kHeadKv * kHeadDim, kHeadKv * kHeadDim, type_k, type_v};
    const ActId q = f.add_act("q", kHead * kHeadDim);
    const ActId k = f.add_act("k", kHeadKv * kHeadDim);
    const ActId v = f.add_act("v", kHeadKv * kHeadDim);
    const ActId out = f.add_act("attn", kHead * kHeadDim);
    f.ops.push_back(Op{.kind = OpKind::store_kv, .layer = 0, .a = k, .b = v});
    f.ops.push_back(Op{.kind = OpKind::attention, .layer = 0, .dst = out, .a = q,
                       .attn = AttentionShape{kHead, kHeadKv, kHeadDim, 1.0f / std::sqrt(float(kHeadDim))}});
    Pair p{.gpu = std::move(gpu)};
    const Status as = p.allocate(f);
    ASSERT_TRUE(as.is_ok()) << as.to_string();
    std::vector<TokenSlot> slots(kN);
    std::vector<int64_t> positions(kCells, 0);
    for (int64_t t = 0; t < kN; ++t) {
      slots[static_cast<size_t>(t)] = TokenSlot{0, t, t};
      positions[static_cast<size_t>(t)] = t;
    }
    const int64_t used = kN;
    ASSERT_TRUE(p.write(q, kN, random_floats(static_cast<size_t>(kN * kHead * kHeadDim), 31)).is_ok());
    ASSERT_TRUE(p.write(k, kN, random_floats(static_cast<size_t>(kN * kHeadKv * kHeadDim), 32)).is_ok());
    ASSERT_TRUE(p.write(v, kN, random_floats(static_cast<size_t>(kN * kHeadKv * kHeadDim), 33)).is_ok());
    PassInputs in;
    in.n_tokens = kN;
    in.slots = slots.data();
    in.cells = KvCellsView{positions.data(), &used, kCells, 1};
    const Status rs = p.run(f.ops, in);
    ASSERT_TRUE(rs.is_ok()) << rs.to_string();
    std::vector<float> ref, got;
    ASSERT_TRUE(p.read(out, kN, kHead * kHeadDim, &ref, &got).is_ok());
    EXPECT_LT(max_rel_error(ref, got), 2e-3);
    gpu = std::move(p.gpu);
  }
}

// add_bias, scale, softcap and geglu (issue 18's element-wise ops) in one
// chain on awkward widths: values up to ~40 so that tanh saturates (the
// shaders clamp its argument) and GELU's cubic is large.
TEST(VulkanOps, ArchElementwiseOpsMatchCpu) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  constexpr int64_t kWidth = 37, kFfn = 300;
  std::vector<float> bias = random_floats(kWidth, 41, 2.0f);
  WeightView bias_view{GgmlType::f32, reinterpret_cast<const uint8_t*>(bias.data()), kWidth, 1, kWidth * 4, false};
  Fixture f;
  const ActId x = f.add_act("x", kWidth);
  const ActId gate = f.add_act("gate", kFfn);
  const ActId up = f.add_act("up", kFfn);
  const ActId act = f.add_act("act", kFfn);
  const ActId logits = f.add_act("logits", kWidth, /*host_output=*/true);
  f.ops.push_back(Op{.kind = OpKind::add_bias, .dst = x, .weight = &bias_view});
  f.ops.push_back(Op{.kind = OpKind::scale, .dst = x, .value = 1.7f});
  f.ops.push_back(Op{.kind = OpKind::softcap, .dst = x, .value = 5.0f});
  f.ops.push_back(Op{.kind = OpKind::geglu, .dst = act, .a = gate, .b = up});
  // In place, as gemma2's graph runs it (dst is the gate).
  f.ops.push_back(Op{.kind = OpKind::geglu, .dst = gate, .a = gate, .b = up});
  f.ops.push_back(Op{.kind = OpKind::gather_outputs, .rows = OpRows::outputs, .dst = logits, .a = x});
  f.ops.push_back(Op{.kind = OpKind::softcap, .rows = OpRows::outputs, .dst = logits, .value = 0.5f});
  Pair p{.gpu = std::move(gpu)};
  ASSERT_TRUE(p.allocate(f).is_ok());
  for (int64_t n : {1, 7, 64}) {
    ASSERT_TRUE(p.write(x, n, random_floats(static_cast<size_t>(n * kWidth), 42, 8.0f)).is_ok());
    ASSERT_TRUE(p.write(gate, n, random_floats(static_cast<size_t>(n * kFfn), 43, 15.0f)).is_ok());
    ASSERT_TRUE(p.write(up, n, random_floats(static_cast<size_t>(n * kFfn), 44)).is_ok());
    std::vector<int32_t> rows;
    for (int32_t t = static_cast<int32_t>(n) - 1; t >= 0; t -= 2) rows.insert(rows.begin(), t);
    std::vector<float> logits_cpu(rows.size() * kWidth), logits_gpu(logits_cpu.size());
    PassInputs in;
    in.n_tokens = n;
    in.output_rows = rows.data();
    in.n_outputs = static_cast<int64_t>(rows.size());
    in.logits = logits_cpu.data();
    ASSERT_TRUE(p.cpu.run(f.ops, in).is_ok());
    in.logits = logits_gpu.data();
    const Status s = p.gpu->run(f.ops, in);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    std::vector<float> ref, got;
    ASSERT_TRUE(p.read(x, n, kWidth, &ref, &got).is_ok());
    EXPECT_LT(max_rel_error(ref, got), 1e-5) << "add_bias + scale + softcap, " << n << " tokens";
    ASSERT_TRUE(p.read(act, n, kFfn, &ref, &got).is_ok());
    EXPECT_LT(max_rel_error(ref, got), 1e-5) << "geglu, " << n << " tokens";
    std::vector<float> in_place_ref, in_place_got;
    ASSERT_TRUE(p.read(gate, n, kFfn, &in_place_ref, &in_place_got).is_ok());
    EXPECT_LT(max_rel_error(in_place_ref, in_place_got), 1e-5) << "geglu in place, " << n << " tokens";
    EXPECT_EQ(std::memcmp(got.data(), in_place_got.data(), got.size() * sizeof(float)), 0) << "geglu in place";
    EXPECT_LT(max_rel_error(logits_cpu, logits_gpu), 1e-5) << "softcap of the logits, " << n << " tokens";
  }
}

TEST(VulkanOps, SoftcapOfZeroIsRejected) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  Fixture f;
  const ActId x = f.add_act("x", 8);
  f.ops.push_back(Op{.kind = OpKind::softcap, .dst = x, .value = 0.0f});
  EXPECT_EQ(gpu->allocate(f.setup()).code(), StatusCode::invalid_argument);
}

// moe_route then moe_combine: 7 experts, 3 per token, logits on a coarse grid
// so that ties are common (the lower index goes first on both backends).
TEST(VulkanOps, MoeRouteAndCombineMatchCpu) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  constexpr int64_t kExperts = 7, kUsed = 3, kWidth = 45;
  Fixture f;
  const ActId router = f.add_act("router", kExperts);
  const ActId route = f.add_act("route", 2 * kUsed);
  const ActId experts = f.add_act("experts", kUsed * kWidth);
  const ActId out = f.add_act("out", kWidth);
  f.ops.push_back(Op{.kind = OpKind::moe_route, .dst = route, .a = router, .n_expert = kExperts, .n_expert_used = kUsed});
  f.ops.push_back(Op{.kind = OpKind::moe_combine, .dst = out, .a = experts, .b = route, .n_expert_used = kUsed});
  Pair p{.gpu = std::move(gpu)};
  ASSERT_TRUE(p.allocate(f).is_ok());
  for (int64_t n : {1, 7, 64}) {
    std::vector<float> logits = random_floats(static_cast<size_t>(n * kExperts), 51, 2.0f);
    for (float& l : logits) l = std::round(l * 2.0f) / 2.0f;
    int ties = 0;
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t e = 1; e < kExperts; ++e) ties += logits[static_cast<size_t>(t * kExperts + e)] == logits[static_cast<size_t>(t * kExperts)];
    }
    if (n == 64) {
      EXPECT_GT(ties, 10) << "the logits should tie often";
    }
    ASSERT_TRUE(p.write(router, n, logits).is_ok());
    ASSERT_TRUE(p.write(experts, n, random_floats(static_cast<size_t>(n * kUsed * kWidth), 52)).is_ok());
    PassInputs in;
    in.n_tokens = n;
    const Status s = p.run(f.ops, in);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    std::vector<float> ref, got;
    ASSERT_TRUE(p.read(route, n, 2 * kUsed, &ref, &got).is_ok());
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t j = 0; j < kUsed; ++j) {
        const auto i = static_cast<size_t>(t * 2 * kUsed + j);
        EXPECT_EQ(ref[i], got[i]) << "expert of token " << t << " slot " << j;
        EXPECT_NEAR(ref[i + kUsed], got[i + kUsed], 1e-6) << "weight of token " << t << " slot " << j;
      }
    }
    ASSERT_TRUE(p.read(out, n, kWidth, &ref, &got).is_ok());
    EXPECT_LT(max_rel_error(ref, got), 1e-5) << "moe_combine, " << n << " tokens";
  }
}

// Routes for the matmul_id tests: expert 1 takes 3 of 4 tokens in slot 0
// (more than one block of 32 pairs at 64 tokens), the last expert none.
std::vector<float> test_route(int64_t n, int64_t n_expert, int64_t n_used, uint32_t seed) {
  std::vector<float> route = random_floats(static_cast<size_t>(n * 2 * n_used), seed);
  const int64_t reachable = n_expert - 1;
  for (int64_t t = 0; t < n; ++t) {
    float* r = route.data() + t * 2 * n_used;
    const int64_t e0 = t % 4 != 3 ? 1 : t % reachable;
    for (int64_t j = 0; j < n_used; ++j) r[j] = static_cast<float>((e0 + j * (1 + t % 2)) % reachable);
  }
  return route;
}

// y[t][j] = W_e x with the expert's rows dequantized by the reference decoder, summed in double.
std::vector<float> exact_matmul_id(const WeightView& stacked, int64_t n_expert, int64_t n_used, bool per_slot,
                                   const std::vector<float>& x, const std::vector<float>& route, int64_t n_tokens) {
  const int64_t rows = stacked.n_rows / n_expert;
  std::vector<float> row(static_cast<size_t>(stacked.n_cols)), y(static_cast<size_t>(n_tokens * n_used * rows));
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t j = 0; j < n_used; ++j) {
      const auto e = static_cast<int64_t>(route[static_cast<size_t>(t * 2 * n_used + j)]);
      const float* xt = x.data() + (per_slot ? t * n_used + j : t) * stacked.n_cols;
      for (int64_t r = 0; r < rows; ++r) {
        dequantize_row(stacked.type, stacked.row(e * rows + r), row.data(), stacked.n_cols);
        double s = 0.0;
        for (int64_t c = 0; c < stacked.n_cols; ++c) s += double(row[static_cast<size_t>(c)]) * double(xt[c]);
        y[static_cast<size_t>((t * n_used + j) * rows + r)] = static_cast<float>(s);
      }
    }
  }
  return y;
}

// matmul_id on stacked f16, q8_0 and q4_K weights: 6 experts of 37 rows, 2
// per token, one input per token and one per slot (the down projection), on
// 1, 7 and 64 tokens; a token's rows are bit-identical alone and batched.
TEST(VulkanOps, MatmulIdMatchesCpu) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  constexpr int64_t kExperts = 6, kUsed = 2, kRows = 101;  // an invocation's second row in range, its third not
  for (GgmlType type : {GgmlType::f16, GgmlType::q8_0, GgmlType::q4_k}) {
    const int64_t kCols = awkward_cols(type, 160);
    auto w = make_weight(type, kExperts * kRows, kCols, 61);
    for (bool per_slot : {false, true}) {
      SCOPED_TRACE(std::string(ggml_type_name(type)) + (per_slot ? " per slot" : " per token"));
      const int64_t in_width = per_slot ? kUsed * kCols : kCols;
      Fixture f;
      const ActId x = f.add_act("x", in_width);
      const ActId route = f.add_act("route", 2 * kUsed);
      const ActId y = f.add_act("y", kUsed * kRows);
      f.ops.push_back(Op{.kind = OpKind::matmul_id, .dst = y, .a = x, .b = route, .weight = &w->view,
                         .n_expert = kExperts, .n_expert_used = kUsed, .per_slot = per_slot});
      Pair p{.gpu = std::move(gpu)};
      const Status as = p.allocate(f);
      ASSERT_TRUE(as.is_ok()) << as.to_string();
      std::vector<float> batched;
      std::vector<float> xs, routes;
      for (int64_t n : {1, 7, 64}) {
        xs = random_floats(static_cast<size_t>(n * in_width), 62 + static_cast<uint32_t>(n));
        routes = test_route(n, kExperts, kUsed, 63);
        ASSERT_TRUE(p.write(x, n, xs).is_ok());
        ASSERT_TRUE(p.write(route, n, routes).is_ok());
        PassInputs in;
        in.n_tokens = n;
        const Status s = p.run(f.ops, in);
        ASSERT_TRUE(s.is_ok()) << s.to_string();
        std::vector<float> ref, got;
        ASSERT_TRUE(p.read(y, n, kUsed * kRows, &ref, &got).is_ok());
        const std::vector<float> exact = exact_matmul_id(w->view, kExperts, kUsed, per_slot, xs, routes, n);
        EXPECT_LT(max_rel_error(exact, got), 2e-5) << n << " tokens";
        // As for matmul: the CPU quantizes activations to Q8 for quantized weights.
        EXPECT_LT(nmse(ref, got), type == GgmlType::f16 ? 1e-10 : 1e-4) << n << " tokens vs CpuBackend";
        batched = got;
      }
      // Token 37 of the 64 alone: the same bits.
      constexpr int64_t kT = 37;
      ASSERT_TRUE(p.gpu->write_activation(x, 1, xs.data() + kT * in_width).is_ok());
      ASSERT_TRUE(p.gpu->write_activation(route, 1, routes.data() + kT * 2 * kUsed).is_ok());
      PassInputs in;
      in.n_tokens = 1;
      ASSERT_TRUE(p.gpu->run(f.ops, in).is_ok());
      std::vector<float> alone(kUsed * kRows);
      ASSERT_TRUE(p.gpu->read_activation(y, 1, alone.data()).is_ok());
      EXPECT_EQ(std::memcmp(alone.data(), batched.data() + kT * kUsed * kRows, alone.size() * sizeof(float)), 0);
      gpu = std::move(p.gpu);
    }
  }
}

// The expert FFN of a mixture as the llama graph runs it, router to
// combine, on q8_0 experts: routed on both backends, then compared.
TEST(VulkanOps, ExpertFeedForwardChainMatchesCpu) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  constexpr int64_t kExperts = 4, kUsed = 2, kEmbd = 64, kFf = 96;
  auto router_w = make_weight(GgmlType::f16, kExperts, kEmbd, 71);
  auto gate_w = make_weight(GgmlType::q8_0, kExperts * kFf, kEmbd, 72);
  auto up_w = make_weight(GgmlType::q8_0, kExperts * kFf, kEmbd, 73);
  auto down_w = make_weight(GgmlType::q8_0, kExperts * kEmbd, kFf, 74);
  Fixture f;
  const ActId h = f.add_act("h", kEmbd);
  const ActId router = f.add_act("router", kExperts);
  const ActId route = f.add_act("route", 2 * kUsed);
  const ActId gate = f.add_act("gate", kUsed * kFf);
  const ActId up = f.add_act("up", kUsed * kFf);
  const ActId experts = f.add_act("experts", kUsed * kEmbd);
  const ActId out = f.add_act("out", kEmbd);
  auto with = [&](Op op) {
    op.n_expert = kExperts;
    op.n_expert_used = kUsed;
    return op;
  };
  f.ops.push_back(Op{.kind = OpKind::matmul, .dst = router, .a = h, .weight = &router_w->view});
  f.ops.push_back(with(Op{.kind = OpKind::moe_route, .dst = route, .a = router}));
  f.ops.push_back(with(Op{.kind = OpKind::matmul_id, .dst = gate, .a = h, .b = route, .weight = &gate_w->view}));
  f.ops.push_back(with(Op{.kind = OpKind::matmul_id, .dst = up, .a = h, .b = route, .weight = &up_w->view}));
  f.ops.push_back(Op{.kind = OpKind::swiglu, .dst = gate, .a = gate, .b = up});
  f.ops.push_back(with(Op{.kind = OpKind::matmul_id, .dst = experts, .a = gate, .b = route, .weight = &down_w->view,
                          .per_slot = true}));
  f.ops.push_back(with(Op{.kind = OpKind::moe_combine, .dst = out, .a = experts, .b = route}));
  Pair p{.gpu = std::move(gpu)};
  const Status as = p.allocate(f);
  ASSERT_TRUE(as.is_ok()) << as.to_string();
  for (int64_t n : {1, 9, 64}) {
    ASSERT_TRUE(p.write(h, n, random_floats(static_cast<size_t>(n * kEmbd), 75)).is_ok());
    PassInputs in;
    in.n_tokens = n;
    const Status s = p.run(f.ops, in);
    ASSERT_TRUE(s.is_ok()) << s.to_string();
    std::vector<float> ref, got;
    ASSERT_TRUE(p.read(route, n, 2 * kUsed, &ref, &got).is_ok());
    int64_t same = 0;
    for (int64_t t = 0; t < n; ++t) {
      same += ref[static_cast<size_t>(t * 2 * kUsed)] == got[static_cast<size_t>(t * 2 * kUsed)] &&
              ref[static_cast<size_t>(t * 2 * kUsed + 1)] == got[static_cast<size_t>(t * 2 * kUsed + 1)];
    }
    // f16 router logits summed in another order: a near-tie may flip, rarely.
    EXPECT_GE(same, n - 1) << n << " tokens";
    if (same != n) continue;
    ASSERT_TRUE(p.read(out, n, kEmbd, &ref, &got).is_ok());
    // Three matmuls deep, each quantizing its activations to Q8 on the CPU
    // (1e-4 for one, MatmulIdMatchesCpu): 1e-3 for the chain.
    EXPECT_LT(nmse(ref, got), 1e-3) << n << " tokens";
  }
}

// Attention with a sliding window (shorter than a block of 64 cells, so
// whole blocks fall outside it) and soft-capped scores, GQA, for an f16
// and a q8_0 cache: a 130-token prefill, then one decode step.
TEST(VulkanOps, AttentionWindowAndSoftcapMatchCpu) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  constexpr int64_t kHeadDim = 96, kHead = 6, kHeadKv = 2, kCells = 140, kPrefill = 130;  // 96: 3 q8_0 blocks
  struct Case {
    int64_t window;
    float softcap;
  };
  for (GgmlType kv_type : {GgmlType::f16, GgmlType::q8_0}) {
    for (Case c : {Case{40, 0.0f}, Case{0, 1.5f}, Case{7, 2.0f}}) {
      SCOPED_TRACE(std::string(ggml_type_name(kv_type)) + " window " + std::to_string(c.window) + " softcap " +
                   std::to_string(c.softcap));
      Fixture f;
      f.max_tokens = kPrefill;
      f.kv = KvStorageDesc{0, 1, kCells, 1, kHeadKv * kHeadDim, kHeadKv * kHeadDim, kv_type, kv_type};
      const ActId q = f.add_act("q", kHead * kHeadDim);
      const ActId k = f.add_act("k", kHeadKv * kHeadDim);
      const ActId v = f.add_act("v", kHeadKv * kHeadDim);
      const ActId out = f.add_act("attn", kHead * kHeadDim);
      // A large scale: scores of several units, where the cap bends them.
      AttentionShape shape{kHead, kHeadKv, kHeadDim, 0.5f, c.softcap, c.window};
      f.ops.push_back(Op{.kind = OpKind::store_kv, .layer = 0, .a = k, .b = v});
      f.ops.push_back(Op{.kind = OpKind::attention, .layer = 0, .dst = out, .a = q, .attn = shape});
      Pair p{.gpu = std::move(gpu)};
      const Status as = p.allocate(f);
      ASSERT_TRUE(as.is_ok()) << as.to_string();
      std::vector<int64_t> positions(kCells, 0);
      int64_t used = 0;
      for (int pass = 0; pass < 2; ++pass) {
        const int64_t n = pass == 0 ? kPrefill : 1;
        std::vector<TokenSlot> slots(static_cast<size_t>(n));
        for (int64_t t = 0; t < n; ++t) {
          const int64_t cell = used++;
          const int64_t pos = cell + cell / 10;  // a gap every 10 positions
          slots[static_cast<size_t>(t)] = TokenSlot{0, cell, pos};
          positions[static_cast<size_t>(cell)] = pos;
        }
        const uint32_t seed = 200 + static_cast<uint32_t>(pass);
        ASSERT_TRUE(p.write(q, n, random_floats(static_cast<size_t>(n * kHead * kHeadDim), seed)).is_ok());
        ASSERT_TRUE(p.write(k, n, random_floats(static_cast<size_t>(n * kHeadKv * kHeadDim), seed + 10)).is_ok());
        ASSERT_TRUE(p.write(v, n, random_floats(static_cast<size_t>(n * kHeadKv * kHeadDim), seed + 20)).is_ok());
        PassInputs in;
        in.n_tokens = n;
        in.slots = slots.data();
        in.cells = KvCellsView{positions.data(), &used, kCells, 1};
        const Status rs = p.run(f.ops, in);
        ASSERT_TRUE(rs.is_ok()) << rs.to_string();
        std::vector<float> ref, got;
        ASSERT_TRUE(p.read(out, n, kHead * kHeadDim, &ref, &got).is_ok());
        const double tol = kv_type == GgmlType::f16 ? 1e-5 : 2e-3;
        EXPECT_LT(max_rel_error(ref, got), tol) << "pass " << pass;
      }
      gpu = std::move(p.gpu);
    }
  }
}

// A token's rows are bit-identical whether it runs alone or in a batch.
TEST(VulkanOps, BatchInvariance) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  constexpr int64_t kCols = 256, kRows = 67;
  auto w = make_weight(GgmlType::q4_0, kRows, kCols, 9);
  std::vector<float> norm_w = random_floats(kCols, 5);
  WeightView norm_view{GgmlType::f32, reinterpret_cast<const uint8_t*>(norm_w.data()), kCols, 1, kCols * 4, false};
  Fixture f;
  const ActId x = f.add_act("x", kCols);
  const ActId normed = f.add_act("normed", kCols);
  const ActId y = f.add_act("y", kRows);
  f.ops.push_back(Op{.kind = OpKind::rms_norm, .dst = normed, .a = x, .weight = &norm_view, .eps = 1e-6f});
  f.ops.push_back(Op{.kind = OpKind::matmul, .dst = y, .a = normed, .weight = &w->view});
  ASSERT_TRUE(gpu->allocate(f.setup()).is_ok());
  const std::vector<float> xs = random_floats(64 * kCols, 77);
  std::vector<float> batched(64 * kRows), alone(kRows);
  PassInputs in;
  in.n_tokens = 64;
  ASSERT_TRUE(gpu->write_activation(x, 64, xs.data()).is_ok());
  ASSERT_TRUE(gpu->run(f.ops, in).is_ok());
  ASSERT_TRUE(gpu->read_activation(y, 64, batched.data()).is_ok());
  for (int64_t t : {0, 5, 13, 63}) {
    in.n_tokens = 1;
    ASSERT_TRUE(gpu->write_activation(x, 1, xs.data() + t * kCols).is_ok());
    ASSERT_TRUE(gpu->run(f.ops, in).is_ok());
    ASSERT_TRUE(gpu->read_activation(y, 1, alone.data()).is_ok());
    EXPECT_EQ(std::memcmp(alone.data(), batched.data() + t * kRows, kRows * sizeof(float)), 0) << "token " << t;
  }
}

// Attention too: the last token of a 64-token prefill equals the same token
// decoded alone after a 63-token prefill (q8_0 cache: quantization included).
TEST(VulkanOps, AttentionBatchInvariance) {
  LANEWAY_REQUIRE_VULKAN(gpu);
  constexpr int64_t kHeadDim = 64, kHead = 4, kHeadKv = 1, kCells = 70, kN = 64;
  Fixture f;
  f.kv = KvStorageDesc{0, 1, kCells, 1, kHeadKv * kHeadDim, kHeadKv * kHeadDim, GgmlType::q8_0, GgmlType::q8_0};
  const ActId q = f.add_act("q", kHead * kHeadDim);
  const ActId k = f.add_act("k", kHeadKv * kHeadDim);
  const ActId v = f.add_act("v", kHeadKv * kHeadDim);
  const ActId out = f.add_act("attn", kHead * kHeadDim);
  f.ops.push_back(Op{.kind = OpKind::store_kv, .layer = 0, .a = k, .b = v});
  f.ops.push_back(Op{.kind = OpKind::attention, .layer = 0, .dst = out, .a = q,
                     .attn = AttentionShape{kHead, kHeadKv, kHeadDim, 0.125f}});
  const std::vector<float> qs = random_floats(kN * kHead * kHeadDim, 1);
  const std::vector<float> ks = random_floats(kN * kHeadKv * kHeadDim, 2);
  const std::vector<float> vs = random_floats(kN * kHeadKv * kHeadDim, 3);
  std::vector<TokenSlot> slots(kN);
  std::vector<int64_t> positions(kCells, 0);
  for (int64_t t = 0; t < kN; ++t) {
    slots[static_cast<size_t>(t)] = TokenSlot{0, t, t};
    positions[static_cast<size_t>(t)] = t;
  }
  auto run_rows = [&](int64_t first, int64_t n, std::vector<float>* result) -> Status {
    LANEWAY_TRY(gpu->write_activation(q, n, qs.data() + first * kHead * kHeadDim));
    LANEWAY_TRY(gpu->write_activation(k, n, ks.data() + first * kHeadKv * kHeadDim));
    LANEWAY_TRY(gpu->write_activation(v, n, vs.data() + first * kHeadKv * kHeadDim));
    const int64_t used = first + n;
    PassInputs in;
    in.n_tokens = n;
    in.slots = slots.data() + first;
    in.cells = KvCellsView{positions.data(), &used, kCells, 1};
    LANEWAY_TRY(gpu->run(f.ops, in));
    result->assign(static_cast<size_t>(n * kHead * kHeadDim), 0.0f);
    return gpu->read_activation(out, n, result->data());
  };
  std::vector<float> batched, prefix, alone;
  ASSERT_TRUE(gpu->allocate(f.setup()).is_ok());
  ASSERT_TRUE(run_rows(0, kN, &batched).is_ok());
  ASSERT_TRUE(gpu->allocate(f.setup()).is_ok());
  ASSERT_TRUE(run_rows(0, kN - 1, &prefix).is_ok());
  ASSERT_TRUE(run_rows(kN - 1, 1, &alone).is_ok());
  EXPECT_EQ(std::memcmp(alone.data(), batched.data() + (kN - 1) * kHead * kHeadDim, alone.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(prefix.data(), batched.data(), prefix.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace laneway
