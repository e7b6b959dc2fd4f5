// Hand-built blocks decode to the values their layout description says, and
// the dispatch table agrees with the shared type table.
#include <cstring>

#include <gtest/gtest.h>

#include "quant/blocks.h"
#include "quant/quant.h"
#include "test_types.h"

namespace laneway {
namespace {

constexpr uint16_t kOne = 0x3C00;   // f16 1.0
constexpr uint16_t kHalf = 0x3800;  // f16 0.5

template <typename Block>
std::vector<float> decode(GgmlType t, const Block& b) {
  std::vector<float> y(static_cast<size_t>(quant_ops(t).block_size));
  dequantize_row(t, &b, y.data(), static_cast<int64_t>(y.size()));
  return y;
}

TEST(QuantOps, TablesMatchTheTypeTable) {
  for (GgmlType t : test::quant_test_types()) {
    const QuantOps* ops = quant_ops_find(t);
    ASSERT_NE(ops, nullptr) << ggml_type_name(t);
    EXPECT_EQ(ops->type, t);
    EXPECT_EQ(ops->block_size, ggml_type_traits(t).block_size) << ggml_type_name(t);
    EXPECT_EQ(ops->block_bytes, ggml_type_traits(t).type_size) << ggml_type_name(t);
    EXPECT_NE(ops->dequantize_row, nullptr);
    EXPECT_NE(ops->quantize_row, nullptr);
    EXPECT_NE(ops->vec_dot_f32, nullptr);
    EXPECT_EQ(ops->vec_dot_q == nullptr, ops->vec_dot_type == GgmlType::f32) << ggml_type_name(t);
    EXPECT_TRUE(quant_can_dequantize(t));
    EXPECT_TRUE(quant_can_quantize(t));
  }
  for (GgmlType t : {GgmlType::iq2_xxs, GgmlType::iq4_nl, GgmlType::q8_1, GgmlType::i32, GgmlType::mxfp4}) {
    EXPECT_EQ(quant_ops_find(t), nullptr) << ggml_type_name(t);
    EXPECT_FALSE(quant_can_dequantize(t));
  }
}

TEST(Blocks, Q4_0NibblesSplitTheBlockInHalves) {
  BlockQ4_0 b{};
  b.d = kHalf;
  for (int i = 0; i < 16; ++i) b.qs[i] = static_cast<uint8_t>(i | ((15 - i) << 4));
  const auto y = decode(GgmlType::q4_0, b);
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(y[i], 0.5f * static_cast<float>(i - 8));
    EXPECT_EQ(y[i + 16], 0.5f * static_cast<float>(7 - i));
  }
}

TEST(Blocks, Q5_1HighBitsComeFromQh) {
  BlockQ5_1 b{};
  b.d = kOne;
  b.m = 0xC000;  // -2.0
  const uint32_t qh = 0x80000001u;  // element 0 and element 31
  std::memcpy(b.qh, &qh, 4);
  for (int i = 0; i < 16; ++i) b.qs[i] = 0x21;  // low nibble 1, high nibble 2
  const auto y = decode(GgmlType::q5_1, b);
  EXPECT_EQ(y[0], 17.0f - 2.0f);
  EXPECT_EQ(y[1], 1.0f - 2.0f);
  EXPECT_EQ(y[16], 2.0f - 2.0f);
  EXPECT_EQ(y[31], 18.0f - 2.0f);
}

TEST(Blocks, Q2_KBitPairsAndNibbleScales) {
  BlockQ2_K b{};
  b.d = kOne;
  b.dmin = kHalf;
  for (int g = 0; g < 16; ++g) b.scales[g] = static_cast<uint8_t>((g % 16) | (1 << 4));  // sc g, mn 1
  b.qs[5] = 0b11100100;   // elements 5, 37, 69, 101: levels 0, 1, 2, 3
  b.qs[32 + 3] = 0b00000011;  // element 128 + 3: level 3
  const auto y = decode(GgmlType::q2_k, b);
  EXPECT_EQ(y[5], 0.0f * 0 - 0.5f);
  EXPECT_EQ(y[37], 2.0f * 1 - 0.5f);   // group 2
  EXPECT_EQ(y[69], 4.0f * 2 - 0.5f);   // group 4
  EXPECT_EQ(y[101], 6.0f * 3 - 0.5f);  // group 6
  EXPECT_EQ(y[131], 8.0f * 3 - 0.5f);  // group 8
}

TEST(Blocks, Q3_KScalesAndHighMask) {
  BlockQ3_K b{};
  b.d = kOne;
  // Scale code of group g is g + 20 (signed g - 12): low nibbles then top bits.
  for (int g = 0; g < 16; ++g) {
    const int u = g + 20;
    b.scales[g < 8 ? g : g - 8] |= static_cast<uint8_t>((u & 15) << (g < 8 ? 0 : 4));
    b.scales[8 + g % 4] |= static_cast<uint8_t>((u >> 4) << (2 * (g / 4)));
  }
  for (int g = 0; g < 16; ++g) EXPECT_EQ(kscale6_q3(b.scales, g), g - 12);
  b.qs[0] = 0b00000011;  // element 0 low bits 3, element 32 low 0
  b.hmask[0] = 0b00010001;  // high bit set for element 0 (h0 j0) and element 128 (h1 j0)
  const auto y = decode(GgmlType::q3_k, b);
  EXPECT_EQ(y[0], -12.0f * 3);         // 3 - 0
  EXPECT_EQ(y[32], -10.0f * -4);       // group 2: 0 - 4
  EXPECT_EQ(y[128], -4.0f * 0);        // group 8: high set, low 0
  EXPECT_EQ(y[255], 3.0f * -4);        // group 15
}

TEST(Blocks, Q4_KSixBitScalesAndMins) {
  BlockQ4_K b{};
  b.d = kOne;
  b.dmin = kOne;
  const int sc[8] = {1, 63, 17, 40, 5, 62, 33, 48}, mn[8] = {0, 2, 60, 7, 63, 16, 31, 32};
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
  for (int j = 0; j < 8; ++j) {
    EXPECT_EQ(kscale6_q4(b.scales, j).sc, sc[j]) << j;
    EXPECT_EQ(kscale6_q4(b.scales, j).mn, mn[j]) << j;
  }
  for (int i = 0; i < 128; ++i) b.qs[i] = 0x31;  // low nibble 1 (first 32 of a chunk), high 3
  const auto y = decode(GgmlType::q4_k, b);
  for (int j = 0; j < 8; ++j) {
    const float level = j % 2 == 0 ? 1.0f : 3.0f;
    EXPECT_EQ(y[32 * j], static_cast<float>(sc[j]) * level - static_cast<float>(mn[j])) << j;
  }
}

TEST(Blocks, Q6_KQuadrants) {
  BlockQ6_K b{};
  b.d = kOne;
  for (int g = 0; g < 16; ++g) b.scales[g] = static_cast<int8_t>(g - 8);
  b.ql[64 + 1] = 0x5A;  // half 1, l = 1: elements 129 (low 0xA) and 193 (high 0x5)
  b.qh[32 + 1] = 0b11000110;  // 129: high 2 -> 0x2A; 161: high 1; 193: 0; 225: 3
  const auto y = decode(GgmlType::q6_k, b);
  EXPECT_EQ(y[129], static_cast<float>(8 - 8) * (0x2A - 32));
  EXPECT_EQ(y[161], static_cast<float>(10 - 8) * (0x10 - 32));
  EXPECT_EQ(y[193], static_cast<float>(12 - 8) * (0x05 - 32));
  EXPECT_EQ(y[225], static_cast<float>(14 - 8) * (0x30 - 32));
  EXPECT_EQ(y[0], -8.0f * -32);
}

TEST(Blocks, Q8_KUsesItsFloatScaleAndSums) {
  std::vector<float> x = test::gaussian(512, 3);
  const auto q = test::quantized(GgmlType::q8_k, x);
  for (int b = 0; b < 2; ++b) {
    BlockQ8_K blk;
    std::memcpy(&blk, q.data() + b * sizeof(BlockQ8_K), sizeof(blk));
    for (int g = 0; g < 16; ++g) {
      int s = 0;
      for (int i = 0; i < 16; ++i) s += blk.qs[16 * g + i];
      EXPECT_EQ(blk.bsums[g], s);
    }
  }
}

}  // namespace
}  // namespace laneway
