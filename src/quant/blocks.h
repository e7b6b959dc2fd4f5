// Block layouts of the ggml quantized types, byte for byte as stored in GGUF
// files (little-endian). Every struct is packed (alignment 1) so a block can
// be read in place at any address, mmapped file data included; f16 scales
// are raw binary16 patterns (see quant/fp16.h).
//
// Notation: a block encodes `k*` elements; "d" is the scale, "dmin"/"m" the
// scale of the subtracted minimum. Element i of a block decodes as
//   Q4_0  d * (q - 8)              q: 4 bits    Q4_1  d * q + m        q: 4 bits
//   Q5_0  d * (q - 16)             q: 5 bits    Q5_1  d * q + m        q: 5 bits
//   Q8_0  d * q                    q: int8
//   Q2_K  d*sc * q - dmin*mn       16 groups of 16; sc, mn: 4 bits; q: 2 bits
//   Q3_K  d*(sc-32) * (q - 4)      16 groups of 16; sc: 6 bits; q: 3 bits (2 low + 1 high)
//   Q4_K  d*sc * q - dmin*mn       8 groups of 32; sc, mn: 6 bits; q: 4 bits
//   Q5_K  d*sc * q - dmin*mn       8 groups of 32; sc, mn: 6 bits; q: 5 bits (4 low + 1 high)
//   Q6_K  d*sc * (q - 32)          16 groups of 16; sc: int8; q: 6 bits (4 low + 2 high)
//   Q8_K  d * q                    d: f32; q: int8; plus per-16 sums of q
// The exact bit placement of each field is described at its struct and in
// the dequantizers (dequant_legacy.cpp, dequant_kquants.cpp).
#pragma once

#include <cstdint>

#include "gguf/types.h"

namespace laneway {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQKK = static_cast<int>(kQK_K);  // 256, the k-quant super-block
inline constexpr int kKScaleBytes = 12;              // 6-bit scale/min packing of Q3_K..Q5_K

#pragma pack(push, 1)

// qs[i] low nibble = element i, high nibble = element i + 16.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK4_0 / 2];
};

struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK4_1 / 2];  // as Q4_0
};

// Low nibbles as Q4_0; bit i of qh (a little-endian u32) is bit 4 of element i.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK5_0 / 2];
};

struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};

struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK8_0];
};

// Two halves of 128 elements; in half h, byte qs[32h + l] holds, in bit
// pairs 0-1, 2-3, 4-5, 6-7, elements 128h + l, +32, +64, +96 (l < 32).
// scales[g]: low nibble sc, high nibble mn of group g (elements 16g..16g+15).
struct BlockQ2_K {
  uint8_t scales[kQKK / 16];
  uint8_t qs[kQKK / 4];
  uint16_t d;
  uint16_t dmin;
};

// qs packs the low 2 bits like Q2_K; bit (4h + j) of hmask[l] is the high
// bit of element 128h + 32j + l. The 16 6-bit scales: see kscale6_q3.
struct BlockQ3_K {
  uint8_t hmask[kQKK / 8];
  uint8_t qs[kQKK / 4];
  uint8_t scales[kKScaleBytes];
  uint16_t d;
};

// Four chunks of 64: qs[32c + l] low nibble = element 64c + l, high nibble =
// element 64c + 32 + l. 8 6-bit scales and mins: see kscale6_q4.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQKK / 2];
};

// Low nibbles as Q4_K; bit 2c of qh[l] is bit 4 of element 64c + l, bit
// 2c + 1 of element 64c + 32 + l.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};

// Two halves of 128; in half h, for l < 32: ql[64h + l] low/high nibble =
// low 4 bits of elements 128h + l / 128h + 64 + l; ql[64h + 32 + l] low/high
// = elements 128h + 32 + l / 128h + 96 + l; qh[32h + l] bit pairs 0-1, 2-3,
// 4-5, 6-7 = high 2 bits of elements 128h + l, +32, +64, +96.
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];
  uint8_t qh[kQKK / 4];
  int8_t scales[kQKK / 16];
  uint16_t d;
};

// Activation format for k-quant dot products: bsums[g] = sum of qs[16g..16g+15].
struct BlockQ8_K {
  float d;
  int8_t qs[kQKK];
  int16_t bsums[kQKK / 16];
};

#pragma pack(pop)

static_assert(sizeof(BlockQ4_0) == 18 && alignof(BlockQ4_0) == 1);
static_assert(sizeof(BlockQ4_1) == 20 && alignof(BlockQ4_1) == 1);
static_assert(sizeof(BlockQ5_0) == 22 && alignof(BlockQ5_0) == 1);
static_assert(sizeof(BlockQ5_1) == 24 && alignof(BlockQ5_1) == 1);
static_assert(sizeof(BlockQ8_0) == 34 && alignof(BlockQ8_0) == 1);
static_assert(sizeof(BlockQ2_K) == 84 && alignof(BlockQ2_K) == 1);
static_assert(sizeof(BlockQ3_K) == 110 && alignof(BlockQ3_K) == 1);
static_assert(sizeof(BlockQ4_K) == 144 && alignof(BlockQ4_K) == 1);
static_assert(sizeof(BlockQ5_K) == 176 && alignof(BlockQ5_K) == 1);
static_assert(sizeof(BlockQ6_K) == 210 && alignof(BlockQ6_K) == 1);
static_assert(sizeof(BlockQ8_K) == 292 && alignof(BlockQ8_K) == 1);

// 6-bit scale packing of Q4_K / Q5_K (8 scales + 8 mins in 12 bytes):
// for j < 4, sc = s[j] & 63 and mn = s[j + 4] & 63; for j >= 4 the low four
// bits sit in s[j + 4] (sc low nibble, mn high nibble) and the top two in
// bits 6-7 of s[j - 4] (sc) and s[j] (mn).
struct KScaleMin {
  uint8_t sc;
  uint8_t mn;
};
inline KScaleMin kscale6_q4(const uint8_t* s, int j) {
  if (j < 4) return {static_cast<uint8_t>(s[j] & 63), static_cast<uint8_t>(s[j + 4] & 63)};
  return {static_cast<uint8_t>((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4)),
          static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4))};
}

// 6-bit scale packing of Q3_K (16 unsigned scales, stored value sc - 32 is
// the signed scale): the low nibble of scale g is s[g] & 15 for g < 8 and
// s[g - 8] >> 4 for g >= 8; its top two bits are bits 2*(g/4).. of s[8 + g%4].
inline int kscale6_q3(const uint8_t* s, int g) {
  const int low = g < 8 ? (s[g] & 0x0F) : (s[g - 8] >> 4);
  const int high = (s[8 + (g & 3)] >> (2 * (g >> 2))) & 3;
  return (low | (high << 4)) - 32;
}

}  // namespace laneway
