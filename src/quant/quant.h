// quant: the ggml tensor types the engine runs, as data: decode
// (dequantize), encode (quantize) and weight-activation dot products, with a
// per-type dispatch table. Everything here is the scalar reference: every
// faster kernel must equal these (bit for bit for dequantization, within
// its own stated bound for dot products).
//
// Types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K,
// Q5_K, Q6_K, and Q8_K (an activation format: it can be quantized and
// decoded but is never a weight type in files). Block sizes and bytes per
// block come from gguf/types.h (ggml_type_traits); layouts from
// quant/blocks.h.
//
// Thread-safety: every function is pure (no state); the tables are
// immutable statics.
#pragma once

#include <cstdint>

#include "gguf/types.h"
#include "quant/fp16.h"

namespace laneway {

// Decodes n elements (n a multiple of the block size) of `type` at src
// (any alignment) to dst[0..n). Bit-exact with the reference
// implementation: the same float operations in the same order.
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);

// Encodes src[0..n) (n a multiple of the block size) as n / block_size
// blocks at dst (any alignment). Deterministic (same input, same bytes).
// Finite inputs: each block is the round-to-nearest encoding with a scale
// (and min) chosen from the block's values; F16/BF16 round to nearest even.
// Scales are f16: blocks whose values need a scale beyond 65504 are clipped
// to the largest scale, and blocks far below 1e-7 may decode as zeros.
// Non-finite inputs: a block of a quantized type holding a NaN or +-Inf
// gets a NaN scale, so the whole block decodes to NaN: never a silent
// number. (F16/BF16 keep NaN/Inf as such.)
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);

// sum_i w[i] * x[i] for one weight row w of the table's type (n elements,
// a multiple of the block size) and f32 activations x. Reference order:
// each block is decoded exactly as dequantize_row does, its products summed
// in element order in f32, and block sums added in block order.
using VecDotF32Fn = float (*)(const void* w, const float* x, int64_t n);

// sum_i w[i] * a[i] where `a` is the activation row quantized to the
// table's vec_dot_type (Q8_0 for the 32-element types, Q8_K for k-quants).
// Integer sums per group, scaled in f32; SIMD kernels must equal these
// exactly (the integer parts are exact, and the float steps are listed in
// vec_dot.cpp in the order they must be done).
using VecDotQFn = float (*)(const void* w, const void* a, int64_t n);

// One type's operations, chosen once per tensor (no per-element dispatch).
// A faster backend builds its own tables of the same shape, starting from
// these and replacing the pointers it has kernels for.
struct QuantOps {
  GgmlType type;
  int64_t block_size;   // elements per block
  int64_t block_bytes;  // bytes per block
  DequantizeRowFn dequantize_row;
  QuantizeRowFn quantize_row;
  VecDotF32Fn vec_dot_f32;
  // Activation format of vec_dot_q; f32 (and vec_dot_q null) where the
  // type has no quantized-activation path (F32, F16, BF16, Q8_K).
  GgmlType vec_dot_type;
  VecDotQFn vec_dot_q;
};

// The table of `type`, or nullptr when this module does not implement it.
const QuantOps* quant_ops_find(GgmlType type);
// The table of an implemented type (asserts that it is one).
const QuantOps& quant_ops(GgmlType type);

// Whether dequantize_row / quantize_row handle the type (the same set).
bool quant_can_dequantize(GgmlType type);
bool quant_can_quantize(GgmlType type);

// Convenience dispatch through quant_ops(type); the type must be implemented.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);
void quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

}  // namespace laneway
