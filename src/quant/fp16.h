// Half-precision conversions: IEEE binary16 (f16) and bfloat16 (bf16), as
// raw 16-bit patterns. Scalar and exact; SIMD converters must agree with
// these bit for bit on every input.
#pragma once

#include <cstdint>

namespace laneway {

// Exact (every f16 is an f32). Subnormals, +-0, +-Inf kept; a NaN stays a
// NaN with its payload shifted into the f32 mantissa.
float fp16_to_fp32(uint16_t h);
// Round to nearest, ties to even. Values that round past 65504 become +-Inf;
// results below the normal range become f16 subnormals (or +-0); NaN becomes
// a quiet NaN of the same sign.
uint16_t fp32_to_fp16(float f);

// Exact (bf16 is the top half of an f32).
float bf16_to_fp32(uint16_t h);
// Round to nearest, ties to even (f32 subnormals round like any other
// value; overflow becomes +-Inf); NaN becomes a quiet NaN of the same sign.
uint16_t fp32_to_bf16(float f);

}  // namespace laneway
