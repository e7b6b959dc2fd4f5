// Every SIMD kernel against the scalar reference on awkward shapes (one
// block, many blocks, odd row and token counts): the quantized kernels bit
// for bit (kernels.h specifies their arithmetic), the float kernels within
// rounding and invariant to grouping, which the determinism guarantee rests on.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/testdata.h"

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/vec.h"
#include "backend/cpu/weight_tiles.h"
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
  for (CpuIsa i : {CpuIsa::avx2, CpuIsa::avx512, CpuIsa::neon, CpuIsa::neon_dotprod, CpuIsa::neon_i8mm}) {
    if (cpu_supports(i)) v.push_back(i);
  }
  return v;
}

// Quantized activations of `count` tokens (one with a large magnitude).
struct Planes {
  int64_t n = 0;
  std::vector<float> x;
  std::vector<int8_t> qs;
  std::vector<uint8_t> qu;
  std::vector<float> d;
  std::vector<int16_t> s16;
  QuantActs acts() const { return {n, qs.data(), qu.data(), d.data(), s16.data()}; }
};

Planes quantize_tokens(const CpuKernels& k, int64_t n, int count) {
  Planes p;
  p.n = n;
  for (int j = 0; j < count; ++j) {
    const auto row = gaussian(n, 100 + static_cast<uint32_t>(j), j == 2 ? 30.0f : 1.0f);
    p.x.insert(p.x.end(), row.begin(), row.end());
  }
  p.qs.resize(p.x.size());
  p.qu.resize(p.x.size());
  p.d.resize(p.x.size() / 32);
  p.s16.resize(p.x.size() / 16);
  for (int j = 0; j < count; ++j) {
    k.quantize_acts(p.x.data() + j * n, n, p.qs.data() + j * n, p.qu.data() + j * n, p.d.data() + j * (n / 32),
                    p.s16.data() + j * (n / 16));
  }
  return p;
}

std::vector<uint8_t> random_matrix(GgmlType type, int64_t n_rows, int64_t n, uint32_t seed) {
  std::vector<uint8_t> data;
  for (int64_t r = 0; r < n_rows; ++r) {
    const auto row = encode(type, gaussian(n, seed + static_cast<uint32_t>(r)));
    data.insert(data.end(), row.begin(), row.end());
  }
  return data;
}

// y[t][r] over rows [r0, r1) and tokens [t0, t1), the rest NaN.
std::vector<float> quant_matmul(const CpuKernels& k, GgmlType type, const std::vector<uint8_t>& w, int64_t n_rows,
                                const Planes& p, int64_t r0, int64_t r1, int64_t t0, int64_t t1,
                                bool tiled = false) {
  const int64_t n_tokens = static_cast<int64_t>(p.x.size()) / p.n;
  std::vector<float> y(static_cast<size_t>(n_tokens * n_rows), std::nanf(""));
  std::vector<uint8_t> scratch(quant_matmul_scratch_bytes(p.n));
  MatmulRange m;
  m.type = type;
  m.w = w.data();
  m.row_bytes = *ggml_row_bytes(type, p.n);
  m.tiled = tiled;
  m.r0 = r0;
  m.r1 = r1;
  m.t0 = t0;
  m.t1 = t1;
  m.y = y.data();
  m.y_stride = n_rows;
  k.quant_matmul(m, p.acts(), scratch.data());
  return y;
}

class QuantKernelTypes : public ::testing::TestWithParam<GgmlType> {};

TEST_P(QuantKernelTypes, ActivationsQuantizeToTheSameBytesAtEveryLevel) {
  const int64_t n = 2080;
  const Planes want = quantize_tokens(cpu_kernels(CpuIsa::scalar), n, 4);
  for (CpuIsa isa : simd_levels()) {
    const Planes got = quantize_tokens(cpu_kernels(isa), n, 4);
    EXPECT_EQ(got.qs, want.qs) << cpu_isa_name(isa);
    EXPECT_EQ(got.qu, want.qu) << cpu_isa_name(isa);
    EXPECT_EQ(got.s16, want.s16) << cpu_isa_name(isa);
    EXPECT_EQ(std::memcmp(got.d.data(), want.d.data(), want.d.size() * 4), 0) << cpu_isa_name(isa);
  }
}

// Blocks the Q8_0 arithmetic treats specially: NaN and infinities (the
// reference's NaN block), all zeros, values so small the f16 scale underflows
// to zero, so large it is clipped to the largest f16 (levels clamped to 127),
// and exact ties. Every level gives the scalar reference's bytes.
TEST(CpuKernels, ActivationQuantizationEdgeCasesMatchTheScalarReference) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<std::vector<float>> blocks;
  auto block = [&](auto&& f) {
    std::vector<float> b(32);
    for (int i = 0; i < 32; ++i) b[static_cast<size_t>(i)] = f(i);
    blocks.push_back(b);
  };
  block([&](int i) { return i == 5 ? nan : float(i); });
  block([&](int i) { return i == 31 ? inf : -float(i); });
  block([&](int i) { return i == 0 ? -inf : 1.0f; });
  block([](int) { return 0.0f; });
  block([](int i) { return (i % 2 ? -1e-30f : 1e-30f) * float(i); });
  block([](int i) { return i == 3 ? 3e38f : float(i) * 1e30f; });
  block([](int i) { return i == 0 ? 127.0f : float(i) + 0.5f; });  // d = 1: every other level a tie
  block([](int i) { return -float(i) - 0.5f; });
  std::vector<float> x;
  for (const auto& b : blocks) x.insert(x.end(), b.begin(), b.end());
  const int64_t n = static_cast<int64_t>(x.size()), nb = n / 32;
  auto run = [&](const CpuKernels& k) {
    Planes p;
    p.n = n;
    p.qs.resize(static_cast<size_t>(n));
    p.qu.resize(static_cast<size_t>(n));
    p.d.resize(static_cast<size_t>(nb));
    p.s16.resize(static_cast<size_t>(2 * nb));
    k.quantize_acts(x.data(), n, p.qs.data(), p.qu.data(), p.d.data(), p.s16.data());
    return p;
  };
  const Planes want = run(cpu_kernels(CpuIsa::scalar));
  for (CpuIsa isa : simd_levels()) {
    const Planes got = run(cpu_kernels(isa));
    for (int64_t b = 0; b < nb; ++b) {
      const auto s = static_cast<size_t>(b * 32);
      EXPECT_TRUE(std::equal(got.qs.begin() + s, got.qs.begin() + s + 32, want.qs.begin() + s))
          << cpu_isa_name(isa) << " block " << b;
      EXPECT_EQ(std::memcmp(&got.d[static_cast<size_t>(b)], &want.d[static_cast<size_t>(b)], 4), 0)
          << cpu_isa_name(isa) << " block " << b << ": d " << got.d[static_cast<size_t>(b)] << " vs "
          << want.d[static_cast<size_t>(b)];
    }
    EXPECT_EQ(got.qu, want.qu) << cpu_isa_name(isa);
    EXPECT_EQ(got.s16, want.s16) << cpu_isa_name(isa);
  }
}

// The scalar reference is the dot of the decoded weights with the decoded
// activations (up to float rounding): the specification computes the right thing.
TEST_P(QuantKernelTypes, ScalarReferenceIsTheDotOfTheDecodedValues) {
  const GgmlType type = GetParam();
  const int64_t n = 512, n_rows = 5, n_tokens = 3;
  const auto w = random_matrix(type, n_rows, n, 7);
  const Planes p = quantize_tokens(cpu_kernels(CpuIsa::scalar), n, n_tokens);
  const auto y = quant_matmul(cpu_kernels(CpuIsa::scalar), type, w, n_rows, p, 0, n_rows, 0, n_tokens);
  const uint64_t row_bytes = *ggml_row_bytes(type, n);
  std::vector<float> wd(static_cast<size_t>(n));
  for (int64_t r = 0; r < n_rows; ++r) {
    dequantize_row(type, w.data() + r * row_bytes, wd.data(), n);
    for (int64_t t = 0; t < n_tokens; ++t) {
      double want = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double a = double(p.qs[t * n + i]) * p.d[t * (n / 32) + i / 32];
        want += double(wd[i]) * a;
        mag += std::fabs(double(wd[i]) * a);
      }
      EXPECT_NEAR(y[t * n_rows + r], want, 1e-5 * mag + 1e-6) << "row " << r << " token " << t;
    }
  }
}

// Every level gives the scalar reference's bits, for awkward row counts (a
// partial tile), widths (one block, odd blocks) and token counts (the
// direct path, the tiled path, and their tails), over sub-ranges too.
TEST_P(QuantKernelTypes, SimdMatchesScalarBitForBit) {
  const GgmlType type = GetParam();
  const bool kquant = type == GgmlType::q4_k || type == GgmlType::q6_k;
  const int64_t n_tokens = 19;
  for (int64_t n : kquant ? std::vector<int64_t>{256, 768} : std::vector<int64_t>{32, 96, 2080}) {
    for (int64_t n_rows : {1, 7, 37}) {
      const auto w = random_matrix(type, n_rows, n, 11);
      const Planes p = quantize_tokens(cpu_kernels(CpuIsa::scalar), n, n_tokens);
      for (auto [t0, t1] : std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {0, 3}, {2, 10}, {0, 19}, {5, 17}}) {
        const int64_t r0 = n_rows > 7 ? 3 : 0;
        const auto want = quant_matmul(cpu_kernels(CpuIsa::scalar), type, w, n_rows, p, r0, n_rows, t0, t1);
        for (CpuIsa isa : simd_levels()) {
          const auto got = quant_matmul(cpu_kernels(isa), type, w, n_rows, p, r0, n_rows, t0, t1);
          for (size_t i = 0; i < want.size(); ++i) {
            if (std::isnan(want[i])) {
              ASSERT_TRUE(std::isnan(got[i])) << "wrote outside its range at " << i << " " << cpu_isa_name(isa);
            } else {
              ASSERT_EQ(std::memcmp(&want[i], &got[i], 4), 0)
                  << cpu_isa_name(isa) << " n " << n << " rows " << n_rows << " tokens " << t0 << ".." << t1
                  << " at " << i << ": " << got[i] << " vs " << want[i];
            }
          }
        }
      }
    }
  }
}

std::vector<uint8_t> tiled_copy(GgmlType type, const std::vector<uint8_t>& w, int64_t n_rows, int64_t n) {
  const uint64_t row_bytes = *ggml_row_bytes(type, n);
  std::vector<uint8_t> out(weight_tiles_bytes(n_rows, row_bytes));
  tile_weight_rows(type, w.data(), row_bytes, n_rows, 0, (n_rows + 15) / 16, out.data());
  return out;
}

TEST_P(QuantKernelTypes, TilesHoldTheRowBytesAndGiveTheSameBits) {
  const GgmlType type = GetParam();
  const bool kquant = type == GgmlType::q4_k || type == GgmlType::q6_k;
  const int64_t n = kquant ? 512 : 96;
  const uint64_t row_bytes = *ggml_row_bytes(type, n);
  ASSERT_TRUE(weight_tiles_supported(type, n));
  const int64_t n_tokens = 11;
  for (int64_t n_rows : {1, 7, 37, 48}) {
    const auto w = random_matrix(type, n_rows, n, 23);
    const auto tiled = tiled_copy(type, w, n_rows, n);
    ASSERT_EQ(tiled.size(), static_cast<size_t>((n_rows + 15) / 16 * 16) * row_bytes);
    // Untiling gives back every row's bytes (padding rows repeat the last row).
    std::vector<uint8_t> chunk(weight_tile_chunk_bytes(type));
    for (int64_t r = 0; r < (n_rows + 15) / 16 * 16; ++r) {
      const int64_t src_row = std::min(r, n_rows - 1);
      for (uint64_t c = 0; c < row_bytes / chunk.size(); ++c) {
        untile_row_chunk(type, tiled.data() + (r / 16) * 16 * row_bytes, static_cast<int>(r % 16),
                         static_cast<int64_t>(c), chunk.data());
        ASSERT_EQ(std::memcmp(chunk.data(), w.data() + src_row * row_bytes + c * chunk.size(), chunk.size()), 0)
            << "row " << r << " chunk " << c;
      }
    }
    const Planes p = quantize_tokens(cpu_kernels(CpuIsa::scalar), n, n_tokens);
    std::vector<CpuIsa> levels = simd_levels();
    levels.push_back(CpuIsa::scalar);
    for (int64_t r0 : {int64_t{0}, int64_t{16}}) {
      if (r0 >= n_rows) continue;
      for (auto [t0, t1] : std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {3, 7}, {0, 11}}) {
        const auto want = quant_matmul(cpu_kernels(CpuIsa::scalar), type, w, n_rows, p, r0, n_rows, t0, t1);
        for (CpuIsa isa : levels) {
          const auto got = quant_matmul(cpu_kernels(isa), type, tiled, n_rows, p, r0, n_rows, t0, t1, true);
          for (size_t i = 0; i < want.size(); ++i) {
            if (std::isnan(want[i])) {
              ASSERT_TRUE(std::isnan(got[i])) << "wrote outside its range at " << i << " " << cpu_isa_name(isa);
            } else {
              ASSERT_EQ(std::memcmp(&want[i], &got[i], 4), 0)
                  << cpu_isa_name(isa) << " rows " << r0 << ".." << n_rows << " tokens " << t0 << ".." << t1
                  << " at " << i;
            }
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(QuantTypes, QuantKernelTypes,
                         ::testing::Values(GgmlType::q8_0, GgmlType::q4_0, GgmlType::q4_k, GgmlType::q6_k),
                         [](const auto& p) { return std::string(ggml_type_name(p.param)); });

// F16 / F32 rows times f32 activations, rows [r0, r1) x tokens [t0, t1).
std::vector<float> float_matmul(const CpuKernels& k, GgmlType type, const std::vector<uint8_t>& w, int64_t n_rows,
                                const std::vector<float>& x, int64_t n, int64_t r0, int64_t r1, int64_t t0,
                                int64_t t1, bool tiled = false) {
  const int64_t n_tokens = static_cast<int64_t>(x.size()) / n;
  std::vector<float> y(static_cast<size_t>(n_tokens * n_rows), std::nanf(""));
  MatmulRange m;
  m.type = type;
  m.w = w.data();
  m.row_bytes = *ggml_row_bytes(type, n);
  m.r0 = r0;
  m.r1 = r1;
  m.t0 = t0;
  m.t1 = t1;
  m.y = y.data();
  m.y_stride = n_rows;
  m.tiled = tiled;
  k.float_matmul(m, x.data(), n);
  return y;
}

std::vector<float> float_tokens(int64_t n, int count) {
  std::vector<float> x;
  for (int j = 0; j < count; ++j) {
    const auto row = gaussian(n, 100 + static_cast<uint32_t>(j), j == 2 ? 30.0f : 1.0f);
    x.insert(x.end(), row.begin(), row.end());
  }
  return x;
}

class FloatKernelTypes : public ::testing::TestWithParam<GgmlType> {};

TEST_P(FloatKernelTypes, SimdMatchesScalarOnAwkwardShapes) {
  const GgmlType type = GetParam();
  const int64_t n_rows = 9, n_tokens = 8;
  for (int64_t n : {32, 64, 96, 2080, 2081, 7}) {
    const auto w = random_matrix(type, n_rows, n, 7);
    const auto x = float_tokens(n, n_tokens);
    const auto want = float_matmul(cpu_kernels(CpuIsa::scalar), type, w, n_rows, x, n, 0, n_rows, 0, n_tokens);
    const uint64_t row_bytes = *ggml_row_bytes(type, n);
    std::vector<float> wd(static_cast<size_t>(n));
    for (CpuIsa isa : simd_levels()) {
      const auto got = float_matmul(cpu_kernels(isa), type, w, n_rows, x, n, 0, n_rows, 0, n_tokens);
      for (int64_t r = 0; r < n_rows; ++r) {
        dequantize_row(type, w.data() + r * row_bytes, wd.data(), n);
        for (int64_t t = 0; t < n_tokens; ++t) {
          double mag = 0;
          for (int64_t i = 0; i < n; ++i) mag += std::fabs(double(wd[i]) * x[t * n + i]);
          EXPECT_NEAR(got[t * n_rows + r], want[t * n_rows + r], 1e-5 * mag + 1e-6)
              << cpu_isa_name(isa) << " n " << n << " row " << r << " token " << t;
        }
      }
    }
  }
}

// Each (row, token) pair gets the same bits computed alone or in any tile.
TEST_P(FloatKernelTypes, TilingNeverChangesABit) {
  const GgmlType type = GetParam();
  const int64_t n = 530, n_rows = 11, n_tokens = 13;
  const auto w = random_matrix(type, n_rows, n, 11);
  const auto x = float_tokens(n, n_tokens);
  std::vector<CpuIsa> levels = simd_levels();
  levels.push_back(CpuIsa::scalar);
  for (CpuIsa isa : levels) {
    const CpuKernels& k = cpu_kernels(isa);
    const auto all = float_matmul(k, type, w, n_rows, x, n, 0, n_rows, 0, n_tokens);
    for (int64_t r = 0; r < n_rows; ++r) {
      for (int64_t t = 0; t < n_tokens; ++t) {
        const auto alone = float_matmul(k, type, w, n_rows, x, n, r, r + 1, t, t + 1);
        ASSERT_EQ(std::memcmp(&alone[t * n_rows + r], &all[t * n_rows + r], 4), 0)
            << cpu_isa_name(isa) << " row " << r << " token " << t;
      }
    }
    const auto part = float_matmul(k, type, w, n_rows, x, n, 3, 10, 2, 11);
    for (int64_t t = 2; t < 11; ++t) {
      EXPECT_EQ(std::memcmp(&part[t * n_rows + 3], &all[t * n_rows + 3], 7 * 4), 0) << cpu_isa_name(isa);
    }
  }
}

// Tiled F16 (as the model loads F16 matrices): every level gives the bits of
// one fused multiply-add per column in order, computed here from the
// row-major values, for padded tiles, sub-ranges and any token count.
TEST(CpuKernels, TiledF16IsOneFmaPerColumnAtEveryLevel) {
  const GgmlType type = GgmlType::f16;
  std::vector<CpuIsa> levels = simd_levels();
  levels.push_back(CpuIsa::scalar);
  for (int64_t n : {32, 96, 2080}) {
    ASSERT_TRUE(weight_tiles_supported(type, n));
    const uint64_t row_bytes = *ggml_row_bytes(type, n);
    for (int64_t n_rows : {1, 9, 37, 80}) {
      const auto w = random_matrix(type, n_rows, n, 31);
      const auto tiled = tiled_copy(type, w, n_rows, n);
      const int64_t n_tokens = 13;
      const auto x = float_tokens(n, n_tokens);
      std::vector<float> want(static_cast<size_t>(n_tokens * n_rows));
      std::vector<float> wd(static_cast<size_t>(n));
      for (int64_t r = 0; r < n_rows; ++r) {
        dequantize_row(type, w.data() + r * row_bytes, wd.data(), n);
        for (int64_t t = 0; t < n_tokens; ++t) {
          float acc = 0.0f;
          for (int64_t k = 0; k < n; ++k) acc = std::fma(wd[k], x[t * n + k], acc);
          want[t * n_rows + r] = acc;
        }
      }
      for (int64_t r0 : {int64_t{0}, int64_t{16}, int64_t{64}}) {
        if (r0 >= n_rows) continue;
        for (auto [t0, t1] : std::vector<std::pair<int64_t, int64_t>>{{0, 1}, {2, 9}, {0, 13}}) {
          for (CpuIsa isa : levels) {
            const auto got = float_matmul(cpu_kernels(isa), type, tiled, n_rows, x, n, r0, n_rows, t0, t1, true);
            for (int64_t t = 0; t < n_tokens; ++t) {
              for (int64_t r = 0; r < n_rows; ++r) {
                const float g = got[t * n_rows + r];
                if (t < t0 || t >= t1 || r < r0) {
                  ASSERT_TRUE(std::isnan(g)) << "wrote outside its range " << cpu_isa_name(isa);
                } else {
                  ASSERT_EQ(std::memcmp(&g, &want[t * n_rows + r], 4), 0)
                      << cpu_isa_name(isa) << " n " << n << " rows " << n_rows << " row " << r << " token " << t;
                }
              }
            }
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(FloatTypes, FloatKernelTypes, ::testing::Values(GgmlType::f16, GgmlType::f32),
                         [](const auto& p) { return std::string(ggml_type_name(p.param)); });

// Attention's score and accumulate kernels give vec.h's bits at every level,
// for any number of query rows and cells (partial groups) and head sizes
// that are and are not multiples of 8.
TEST(CpuKernels, AttentionKernelsMatchVecHBitForBit) {
  for (int64_t hd : {1, 7, 8, 24, 64, 67, 128}) {
    for (int64_t n_q : {1, 3, 8}) {
      for (int64_t n_k : {1, 2, 5, 8, 15, 16, 17, 31, 32}) {
        const auto q = gaussian(n_q * hd, 3), k = gaussian(n_k * hd, 4, 10.0f), v = gaussian(n_k * hd, 5);
        const auto p = gaussian(n_q * 32, 6), acc0 = gaussian(n_q * hd, 7);
        std::vector<float> want_s(static_cast<size_t>(n_q * 32), 0.0f);
        std::vector<float> want_acc = acc0;
        for (int64_t g = 0; g < n_q; ++g) {
          for (int64_t c = 0; c < n_k; ++c) {
            want_s[g * 32 + c] = cpu::dot_f32(q.data() + g * hd, k.data() + c * hd, hd) * 0.125f;
            cpu::axpy_f32(p[g * 32 + c], v.data() + c * hd, want_acc.data() + g * hd, hd);
          }
        }
        for (CpuIsa isa : simd_levels()) {
          std::vector<float> s(want_s.size(), 0.0f);
          cpu_kernels(isa).attn_scores(q.data(), n_q, k.data(), n_k, hd, 0.125f, s.data(), 32);
          EXPECT_EQ(std::memcmp(s.data(), want_s.data(), s.size() * 4), 0)
              << cpu_isa_name(isa) << " hd " << hd << " n_q " << n_q << " n_k " << n_k;
          std::vector<float> acc = acc0;
          cpu_kernels(isa).attn_accumulate(p.data(), 32, n_q, v.data(), n_k, hd, acc.data());
          EXPECT_EQ(std::memcmp(acc.data(), want_acc.data(), acc.size() * 4), 0)
              << cpu_isa_name(isa) << " hd " << hd << " n_q " << n_q << " n_k " << n_k;
        }
      }
    }
  }
}

// exp_f32: within 2 ulp of the exact value wherever the result is normal,
// 0 below, +inf above, NaN kept; and every level's softmax exponentials and
// SwiGLU give the scalar bits, over a sweep of the whole useful range.
TEST(CpuKernels, ExpIsAccurateAndTheSameAtEveryLevel) {
  std::vector<float> x;
  for (float v = -100.0f; v <= 100.0f; v += 0.0137f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, cpu::kExpLo, cpu::kExpHi, 88.5f, -87.5f, 1e30f, -1e30f,
                  std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::quiet_NaN()}) {
    x.push_back(v);
  }
  for (float v : x) {
    const float got = cpu::exp_f32(v);
    if (std::isnan(v)) {
      EXPECT_TRUE(std::isnan(got));
    } else if (v > cpu::kExpHi) {
      EXPECT_EQ(got, std::numeric_limits<float>::infinity()) << v;
    } else if (v < cpu::kExpLo) {
      EXPECT_EQ(got, 0.0f) << v;
    } else {
      const double want = std::exp(static_cast<double>(v));
      EXPECT_LE(std::abs(got - want) / want, 2.5e-7) << v;
    }
  }
  const auto n = static_cast<int64_t>(x.size());
  const auto up = gaussian(n, 9);
  std::vector<float> want_e = x, want_sw(x.size());
  cpu_kernels(CpuIsa::scalar).exp_shifted(want_e.data(), n, 0.5f);
  cpu_kernels(CpuIsa::scalar).swiglu(x.data(), up.data(), n, want_sw.data());
  for (CpuIsa isa : simd_levels()) {
    for (int64_t len : {n, n - 1, int64_t{5}}) {  // tails too
      std::vector<float> e = x, sw(x.size());
      cpu_kernels(isa).exp_shifted(e.data(), len, 0.5f);
      cpu_kernels(isa).swiglu(x.data(), up.data(), len, sw.data());
      for (int64_t i = 0; i < len; ++i) {
        if (std::isnan(want_e[i])) {
          EXPECT_TRUE(std::isnan(e[i]));
          continue;
        }
        ASSERT_EQ(std::memcmp(&e[i], &want_e[i], 4), 0) << cpu_isa_name(isa) << " exp of " << x[i] - 0.5f;
        ASSERT_EQ(std::memcmp(&sw[i], &want_sw[i], 4), 0) << cpu_isa_name(isa) << " swiglu of " << x[i];
      }
    }
  }
}

// The levels the comparisons above ran: each kernel table is its own level,
// and a CPU's levels are what the build's architecture offers. The arm64
// script (.ci/arm64) runs this under emulated CPUs with and without the
// dot-product and int8 matrix instructions and says which through
// LANEWAY_TEST_EXPECT_DOTPROD and LANEWAY_TEST_EXPECT_I8MM.
TEST(CpuIsaLevels, TablesAndSelectionFollowTheCpu) {
  for (CpuIsa isa : {CpuIsa::scalar, CpuIsa::avx2, CpuIsa::avx512, CpuIsa::neon, CpuIsa::neon_dotprod, CpuIsa::neon_i8mm}) {
    if (cpu_supports(isa)) {
      EXPECT_EQ(cpu_kernels(isa).isa, isa) << cpu_isa_name(isa);
    }
  }
#if defined(__aarch64__)
  EXPECT_TRUE(cpu_supports(CpuIsa::neon));  // AdvSIMD is in every ARMv8-A CPU
  EXPECT_FALSE(cpu_supports(CpuIsa::avx2));
  if (const char* want = std::getenv("LANEWAY_TEST_EXPECT_DOTPROD")) {
    EXPECT_EQ(cpu_supports(CpuIsa::neon_dotprod), std::string(want) == "1");
  }
  if (const char* want = std::getenv("LANEWAY_TEST_EXPECT_I8MM")) {
    EXPECT_EQ(cpu_supports(CpuIsa::neon_i8mm), std::string(want) == "1");
  }
  if (cpu_supports(CpuIsa::neon_i8mm)) {
    EXPECT_TRUE(cpu_supports(CpuIsa::neon_dotprod)) << "i8mm is a level above dotprod";
  }
  auto best = select_cpu_isa();
  ASSERT_TRUE(best.is_ok());
  EXPECT_EQ(best.value(), cpu_supports(CpuIsa::neon_i8mm)      ? CpuIsa::neon_i8mm
                          : cpu_supports(CpuIsa::neon_dotprod) ? CpuIsa::neon_dotprod
                                                               : CpuIsa::neon);
#elif defined(__x86_64__)
  EXPECT_FALSE(cpu_supports(CpuIsa::neon));
  EXPECT_FALSE(cpu_supports(CpuIsa::neon_dotprod));
  EXPECT_FALSE(cpu_supports(CpuIsa::neon_i8mm));
#endif
}

// The SIMD-vs-scalar tests above compare every level this CPU supports and
// nothing else: say which ran. A CPU with no SIMD level (x86 without AVX2)
// compares nothing: skipped here so it shows, and a failure in CI
// (LANEWAY_REQUIRE_TESTDATA=1), where the kernels must have been checked.
TEST(CpuIsaLevels, SaysWhichSimdLevelsTheKernelTestsRan) {
  std::string ran, not_ran;
  for (CpuIsa isa : {CpuIsa::avx2, CpuIsa::avx512, CpuIsa::neon, CpuIsa::neon_dotprod, CpuIsa::neon_i8mm}) {
    std::string& list = cpu_supports(isa) ? ran : not_ran;
    list += std::string(list.empty() ? "" : ", ") + std::string(cpu_isa_name(isa));
  }
#if defined(__x86_64__)
  if (!cpu_supports(CpuIsa::avx512) && __builtin_cpu_supports("avx512f")) {
    not_ran += " (this CPU has AVX-512F, but the avx512 level also needs BW, VL and VNNI)";
  }
#endif
  std::printf("SIMD levels compared with the scalar reference: %s; not on this CPU: %s\n",
              ran.empty() ? "none" : ran.c_str(), not_ran.empty() ? "none" : not_ran.c_str());
  EXPECT_TRUE(cpu_supports(select_cpu_isa().value_or(CpuIsa::scalar))) << "the engine's level is one the tests ran";
  if (simd_levels().empty()) {
    if (test::testdata_required()) GTEST_FAIL() << "no SIMD level on this CPU: the kernel tests compared nothing";
    GTEST_SKIP() << "no SIMD level on this CPU: the SIMD-vs-scalar kernel tests compared nothing";
  }
}

TEST(CpuIsaLevels, LaneWayIsaForcesALevelOrSaysWhyNot) {
  const char* old = std::getenv("LANEWAY_ISA");
  const std::string saved = old ? old : "";
  for (CpuIsa isa : {CpuIsa::scalar, CpuIsa::avx2, CpuIsa::avx512, CpuIsa::neon, CpuIsa::neon_dotprod, CpuIsa::neon_i8mm}) {
    setenv("LANEWAY_ISA", std::string(cpu_isa_name(isa)).c_str(), 1);
    auto got = select_cpu_isa();
    if (cpu_supports(isa)) {
      ASSERT_TRUE(got.is_ok()) << cpu_isa_name(isa);
      EXPECT_EQ(got.value(), isa);
    } else {
      EXPECT_FALSE(got.is_ok()) << cpu_isa_name(isa);
    }
  }
  setenv("LANEWAY_ISA", "sse9", 1);
  EXPECT_FALSE(select_cpu_isa().is_ok());
  if (old) setenv("LANEWAY_ISA", saved.c_str(), 1);
  else unsetenv("LANEWAY_ISA");
}

TEST(CpuKernels, F16ConversionMatchesScalarForEveryPattern) {
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < 65536; ++i) all[i] = static_cast<uint16_t>(i);
  std::vector<float> want(65536), got(65536);
  cpu_kernels(CpuIsa::scalar).f16_to_f32(reinterpret_cast<const uint8_t*>(all.data()), want.data(), 65536);
  for (CpuIsa isa : simd_levels()) {
    cpu_kernels(isa).f16_to_f32(reinterpret_cast<const uint8_t*>(all.data()), got.data(), 65536);
    for (size_t i = 0; i < all.size(); ++i) {
      // Bit-identical, except that F16C and FCVTL quiet signaling NaNs: NaN stays NaN.
      if (std::isnan(want[i])) {
        EXPECT_TRUE(std::isnan(got[i])) << i;
      } else {
        ASSERT_EQ(std::memcmp(&want[i], &got[i], 4), 0) << cpu_isa_name(isa) << " pattern " << i;
      }
    }
  }
}

// The whole matmul: odd row counts and every token count up to 19 give
// each token the bits it gets alone, on every ISA level.
TEST(CpuBackendMatmul, OddRowsAndTokenCountsAreDeterministic) {
  const int64_t n_cols = 256, n_rows = 37;
  for (GgmlType type : {GgmlType::q4_0, GgmlType::q8_0, GgmlType::q4_k, GgmlType::q6_k, GgmlType::f16, GgmlType::q5_1}) {
    std::vector<uint8_t> data;
    for (int64_t r = 0; r < n_rows; ++r) {
      auto row = encode(type, gaussian(n_cols, 1000 + static_cast<uint32_t>(r)));
      data.insert(data.end(), row.begin(), row.end());
    }
    WeightView w{type, data.data(), n_cols, n_rows, *ggml_row_bytes(type, n_cols)};
    const auto x = gaussian(19 * n_cols, 5);
    std::vector<CpuIsa> levels = simd_levels();
    levels.push_back(CpuIsa::scalar);
    for (CpuIsa isa : levels) {
      for (int threads : {1, 2, 3}) {
        CpuBackend be(threads, isa);
        be.reserve(n_cols, 19);
        std::vector<float> alone(static_cast<size_t>(19 * n_rows)), batch(static_cast<size_t>(19 * n_rows));
        for (int t = 0; t < 19; ++t) be.matmul(w, x.data() + t * n_cols, 1, alone.data() + t * n_rows);
        be.matmul(w, x.data(), 19, batch.data());
        EXPECT_EQ(std::memcmp(alone.data(), batch.data(), alone.size() * 4), 0)
            << ggml_type_name(type) << " " << cpu_isa_name(isa) << " threads " << threads;
      }
    }
  }
}

}  // namespace
}  // namespace laneway
