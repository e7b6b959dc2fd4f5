// quant: block formats of the ggml tensor types: dequantize and quantize
// rows, and half-precision conversions. Scalar references; every faster
// kernel is checked against these.
//
// NOTE (lead): minimal interface the engine builds against. The quant
// module owner extends it (all k-quants, type-dispatch table, vec_dot).
#pragma once

#include <cstdint>

#include "gguf/types.h"

namespace laneway {

float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);  // round to nearest even
float bf16_to_fp32(uint16_t h);
uint16_t fp32_to_bf16(float f);  // round to nearest even, NaN kept NaN

// Whether dequantize_row / quantize_row handle the type.
bool quant_can_dequantize(GgmlType type);
bool quant_can_quantize(GgmlType type);

// dst[0..n) = the n elements stored in src (n a multiple of the block size).
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);
// Encodes n floats into whole blocks of `type` at dst.
void quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

}  // namespace laneway
