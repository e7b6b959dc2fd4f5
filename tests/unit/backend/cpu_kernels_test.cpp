// Every SIMD kernel against the scalar reference, on awkward shapes (one
// block, many blocks, odd row counts), and the grouping invariance the
// determinism guarantee rests on: a (row, activation) pair gives the same
// bits whether computed alone or with up to kMaxActs activations.
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/kernels.h"
#include "quant/quant.h"

namespace laneway {
namespace {

std::vector<float> gaussian(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<uint8_t> encode(GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> out(*ggml_row_bytes(t, x.size()));
  quantize_row(t, x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

std::vector<CpuIsa> simd_levels() {
  std::vector<CpuIsa> v;
  for (CpuIsa i : {CpuIsa::avx2, CpuIsa::avx512}) {
    if (cpu_supports(i)) v.push_back(i);
  }
  return v;
}

struct Acts {
  std::vector<std::vector<uint8_t>> q8;
  std::vector<std::vector<int16_t>> sums;
  std::vector<std::vector<float>> f32;
};

Acts make_acts(const CpuKernels& k, int64_t n, int count) {
  Acts a;
  for (int j = 0; j < count; ++j) {
    a.f32.push_back(gaussian(n, 100 + j, j == 2 ? 30.0f : 1.0f));  // one large-magnitude row
    a.q8.emplace_back(static_cast<size_t>(n / 32 * 34));
    a.sums.emplace_back(static_cast<size_t>(n / 16));
    k.quantize_q8_0(a.f32.back().data(), a.q8.back().data(), a.sums.back().data(), n);
  }
  return a;
}

// dot of `row` with every activation, through the kernel for `type`.
std::vector<float> dots(const CpuKernels& k, GgmlType type, const std::vector<uint8_t>& row, const Acts& a,
                        int first, int n_act, int64_t n) {
  std::vector<const uint8_t*> q;
  std::vector<const int16_t*> s;
  std::vector<const float*> f;
  for (int j = first; j < first + n_act; ++j) {
    q.push_back(a.q8[j].data());
    s.push_back(a.sums[j].data());
    f.push_back(a.f32[j].data());
  }
  std::vector<float> out(static_cast<size_t>(n_act));
  switch (type) {
    case GgmlType::q8_0: k.dot_q8_0(row.data(), q.data(), n_act, n, out.data()); break;
    case GgmlType::q4_0: k.dot_q4_0(row.data(), q.data(), n_act, n, out.data()); break;
    case GgmlType::q4_k: k.dot_q4_k(row.data(), q.data(), s.data(), n_act, n, out.data()); break;
    case GgmlType::q6_k: k.dot_q6_k(row.data(), q.data(), s.data(), n_act, n, out.data()); break;
    case GgmlType::f16: k.dot_f16(row.data(), f.data(), n_act, n, out.data()); break;
    default: k.dot_f32(row.data(), f.data(), n_act, n, out.data()); break;
  }
  return out;
}

class CpuKernelTypes : public ::testing::TestWithParam<GgmlType> {};

TEST_P(CpuKernelTypes, SimdMatchesScalarOnAwkwardShapes) {
  const GgmlType type = GetParam();
  const bool kquant = type == GgmlType::q4_k || type == GgmlType::q6_k;
  const CpuKernels& ref = cpu_kernels(CpuIsa::scalar);
  for (int64_t n : kquant ? std::vector<int64_t>{256, 512, 2816} : std::vector<int64_t>{32, 64, 96, 2080}) {
    const auto w = gaussian(n, 7);
    const auto row = encode(type, w);
    const Acts a = make_acts(ref, n, kMaxActs);
    const auto want = dots(ref, type, row, a, 0, kMaxActs, n);
    // The scalar reference is itself the exact integer dot of the decoded row.
    std::vector<float> wd(static_cast<size_t>(n));
    dequantize_row(type, row.data(), wd.data(), n);
    for (CpuIsa isa : simd_levels()) {
      const CpuKernels& k = cpu_kernels(isa);
      const Acts ak = make_acts(k, n, kMaxActs);
      // The activations quantize to the same bytes at every level.
      for (int j = 0; j < kMaxActs; ++j) {
        ASSERT_EQ(ak.q8[j], a.q8[j]) << cpu_isa_name(isa);
        ASSERT_EQ(ak.sums[j], a.sums[j]) << cpu_isa_name(isa);
      }
      const auto got = dots(k, type, row, ak, 0, kMaxActs, n);
      for (int j = 0; j < kMaxActs; ++j) {
        double mag = 0;
        for (int64_t i = 0; i < n; ++i) mag += std::fabs(double(wd[i]) * a.f32[j][i]);
        EXPECT_NEAR(got[j], want[j], 1e-5 * mag + 1e-6) << cpu_isa_name(isa) << " n " << n << " act " << j;
      }
    }
  }
}

TEST_P(CpuKernelTypes, GroupingNeverChangesABit) {
  const GgmlType type = GetParam();
  const int64_t n = 512;
  const auto row = encode(type, gaussian(n, 11));
  std::vector<CpuIsa> levels = simd_levels();
  levels.push_back(CpuIsa::scalar);
  for (CpuIsa isa : levels) {
    const CpuKernels& k = cpu_kernels(isa);
    const Acts a = make_acts(k, n, kMaxActs);
    const auto all = dots(k, type, row, a, 0, kMaxActs, n);
    for (int j = 0; j < kMaxActs; ++j) {
      const auto alone = dots(k, type, row, a, j, 1, n);
      EXPECT_EQ(std::memcmp(&alone[0], &all[j], sizeof(float)), 0) << cpu_isa_name(isa) << " act " << j;
    }
    const auto pair = dots(k, type, row, a, 1, 2, n);
    EXPECT_EQ(std::memcmp(pair.data(), &all[1], 2 * sizeof(float)), 0) << cpu_isa_name(isa);
  }
}

INSTANTIATE_TEST_SUITE_P(FastTypes, CpuKernelTypes,
                         ::testing::Values(GgmlType::q8_0, GgmlType::q4_0, GgmlType::q4_k, GgmlType::q6_k,
                                           GgmlType::f16, GgmlType::f32),
                         [](const auto& p) { return std::string(ggml_type_name(p.param)); });

TEST(CpuKernels, F16ConversionMatchesScalarForEveryPattern) {
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < 65536; ++i) all[i] = static_cast<uint16_t>(i);
  std::vector<float> want(65536), got(65536);
  cpu_kernels(CpuIsa::scalar).f16_to_f32(reinterpret_cast<const uint8_t*>(all.data()), want.data(), 65536);
  for (CpuIsa isa : simd_levels()) {
    cpu_kernels(isa).f16_to_f32(reinterpret_cast<const uint8_t*>(all.data()), got.data(), 65536);
    for (size_t i = 0; i < all.size(); ++i) {
      // Bit-identical, except that F16C quiets signaling NaNs: NaN stays NaN.
      if (std::isnan(want[i])) {
        EXPECT_TRUE(std::isnan(got[i])) << i;
      } else {
        ASSERT_EQ(std::memcmp(&want[i], &got[i], 4), 0) << cpu_isa_name(isa) << " pattern " << i;
      }
    }
  }
}

// The whole matmul: odd row counts and every token count up to 9 give
// each token the bits it gets alone, on every ISA level.
TEST(CpuBackendMatmul, OddRowsAndTokenCountsAreDeterministic) {
  const int64_t n_cols = 256, n_rows = 37;
  for (GgmlType type : {GgmlType::q4_0, GgmlType::q6_k, GgmlType::f16, GgmlType::q5_1}) {
    std::vector<uint8_t> data;
    for (int64_t r = 0; r < n_rows; ++r) {
      auto row = encode(type, gaussian(n_cols, 1000 + static_cast<uint32_t>(r)));
      data.insert(data.end(), row.begin(), row.end());
    }
    WeightMatrix w{type, data.data(), n_cols, n_rows, *ggml_row_bytes(type, n_cols)};
    const auto x = gaussian(9 * n_cols, 5);
    std::vector<CpuIsa> levels = simd_levels();
    levels.push_back(CpuIsa::scalar);
    for (CpuIsa isa : levels) {
      for (int threads : {1, 2, 3}) {
        CpuBackend be(threads, n_cols, 16, isa);
        std::vector<float> alone(static_cast<size_t>(9 * n_rows)), batch(static_cast<size_t>(9 * n_rows));
        for (int t = 0; t < 9; ++t) be.matmul(w, x.data() + t * n_cols, 1, alone.data() + t * n_rows);
        be.matmul(w, x.data(), 9, batch.data());
        EXPECT_EQ(std::memcmp(alone.data(), batch.data(), alone.size() * 4), 0)
            << ggml_type_name(type) << " " << cpu_isa_name(isa) << " threads " << threads;
      }
    }
  }
}

}  // namespace
}  // namespace laneway
