// Matmul kernels per instruction-set level, behind one table.
//
// Quantized weights (Q8_0, Q4_0, Q4_K, Q6_K) multiply activations quantized
// to Q8_0 blocks (32 values, one scale) with integer dot products. The
// arithmetic of one output y[token][row] is fixed by this specification,
// which every level implements bit for bit (tests compare them exactly):
//
//   acc = 0
//   for each block b of 32 columns:
//     idot = exact integer dot of the block's integer weights and the
//            activation's int8 values (Q8_0: q; Q4_0: q - 8; Q4_K: q;
//            Q6_K: sc_lo * dot(q - 32, a) over the first 16 values
//                + sc_hi * dot(q - 32, a) over the last 16)
//     sw   = the weight scale (Q8_0/Q4_0/Q6_K: d; Q4_K: d * float(sc))
//     acc  = fma(float(idot), sw * da_b, acc)
//     Q4_K only: acc = fma(float(sum of the block's a), -(dmin * float(m)) * da_b), acc)
//   y = acc
//
// An integer dot is exact in any order, and the float steps run in block
// order for each (row, token) pair alone, so results never depend on how
// rows and tokens are grouped, tiled or split across threads; the SIMD
// levels put rows in vector lanes (weights transposed into registers a
// block at a time) and reach the same bits as the scalar loop.
//
// F16/F32 weights multiply f32 activations (float_matmul). Tiled F16
// weights (weight_tiles.h, as the model loads them) follow one order at
// every level, bit for bit: acc = 0; for each column k in order,
// acc = fma(w[k], x[k], acc) (the SIMD levels put rows in vector lanes).
// Row-major F16 and F32 rows: each level has its own summation order
// (vector lanes over columns, then a fixed tree). Either way each (row,
// token) pair follows its order whatever tile of rows and tokens it is
// computed in.
#pragma once

#include <cstdint>

#include "backend/cpu/isa.h"
#include "gguf/types.h"

namespace laneway {

inline constexpr int64_t kQ8Block = 32;

// Activations of consecutive tokens quantized to Q8_0 blocks, split into
// planes the kernels read directly. Token t's values start at t * n.
struct QuantActs {
  int64_t n = 0;                 // values per token (a multiple of 32)
  const int8_t* qs = nullptr;    // [t][n] int8 values
  const uint8_t* qu = nullptr;   // [t][n] the same values + 128 (as unsigned bytes)
  const float* d = nullptr;      // [t][n / 32] block scales (f16-rounded, as f32)
  const int16_t* s16 = nullptr;  // [t][n / 16] sums of every 16 int8 values
};

// Rows [r0, r1) of a weight matrix times tokens [t0, t1): y[t * y_stride + r]
// for each pair. Tiled weights (weight_tiles.h, quantized types and F16) need
// r0 at a tile boundary.
struct MatmulRange {
  GgmlType type = GgmlType::q8_0;
  const uint8_t* w = nullptr;  // row 0, or tile 0 when tiled
  uint64_t row_bytes = 0;
  bool tiled = false;
  int64_t r0 = 0, r1 = 0;
  int64_t t0 = 0, t1 = 0;
  float* y = nullptr;
  int64_t y_stride = 0;
};

struct CpuKernels {
  CpuIsa isa;
  // One token's activation row (n a multiple of 32) to its QuantActs planes.
  void (*quantize_acts)(const float* x, int64_t n, int8_t* qs, uint8_t* qu, float* d, int16_t* s16);
  // The quantized matmul above; scratch holds quant_matmul_scratch_bytes(n).
  void (*quant_matmul)(const MatmulRange& m, const QuantActs& a, uint8_t* scratch);
  // F16 / F32 weights times f32 activations (token t's n values at x + t * n).
  void (*float_matmul)(const MatmulRange& m, const float* x, int64_t n);
  // Attention, in vec.h's arithmetic bit for bit (no fused multiply-add):
  // s[g * s_stride + c] = dot_f32(q + g * hd, k + c * hd, hd) * scale for
  // n_q query rows and n_k key rows;
  void (*attn_scores)(const float* q, int64_t n_q, const float* k, int64_t n_k, int64_t hd, float scale, float* s,
                      int64_t s_stride);
  // acc + g * hd += p[g * p_stride + c] * (v + c * hd), an axpy_f32 per
  // value row c in order, for each of n_q rows.
  void (*attn_accumulate)(const float* p, int64_t p_stride, int64_t n_q, const float* v, int64_t n_k, int64_t hd,
                          float* acc);
  // s[j] = exp_f32(s[j] - m) for j < n (vec.h's exp, bit for bit).
  void (*exp_shifted)(float* s, int64_t n, float m);
  // out[i] = gate[i] / (1 + exp_f32(-gate[i])) * up[i] (SiLU(gate) * up).
  void (*swiglu)(const float* gate, const float* up, int64_t n, float* out);
  // dst[0..n) = f16 values at src, as f32.
  void (*f16_to_f32)(const uint8_t* src, float* dst, int64_t n);
};

const CpuKernels& cpu_kernels(CpuIsa isa);

// Scratch bytes quant_matmul needs for rows of n values (weights of one
// tile of rows, transposed, kept while many tokens pass over them).
inline constexpr uint64_t kQuantScratchPerBlock = 16 * 64;  // up to 16 vectors of 64 bytes
inline uint64_t quant_matmul_scratch_bytes(int64_t n) {
  return static_cast<uint64_t>((n + kQ8Block - 1) / kQ8Block) * kQuantScratchPerBlock + 64;  // + alignment
}

inline bool cpu_uses_q8_activations(GgmlType t) {
  return t == GgmlType::q8_0 || t == GgmlType::q4_0 || t == GgmlType::q4_k || t == GgmlType::q6_k;
}
// Whether the fast path handles weights of this type (else: dequantize + f32 dot).
inline bool cpu_fast_weight_type(GgmlType t) {
  return cpu_uses_q8_activations(t) || t == GgmlType::f16 || t == GgmlType::f32;
}
// ... and rows of n_cols values of it (K-quant kernels take whole super-blocks).
inline bool cpu_fast_shape(GgmlType t, int64_t n_cols) {
  const bool kquant = t == GgmlType::q4_k || t == GgmlType::q6_k;
  return cpu_fast_weight_type(t) && n_cols > 0 && n_cols % (kquant ? 256 : kQ8Block) == 0;
}

namespace cpu_detail {
const CpuKernels& scalar_kernels();
const CpuKernels& avx2_kernels();
const CpuKernels& avx512_kernels();
const CpuKernels& neon_kernels();          // aarch64 only
const CpuKernels& neon_dotprod_kernels();  // aarch64 only
const CpuKernels& neon_i8mm_kernels();     // aarch64 only
}  // namespace cpu_detail

}  // namespace laneway
