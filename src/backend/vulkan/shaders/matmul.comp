#version 450
#extension GL_GOOGLE_include_directive : enable
// y[t][row_begin + r] = sum_c W[r][c] * x[t][c]: one work-group per weight
// row, dequantizing each group of 4 weights once per kTokens tokens.
// Batch invariance: a token's sum is taken by the same lanes over the same
// columns in the same order, and reduced by the same tree, whatever n_tokens.
layout(local_size_x = 64) in;
layout(binding = 0, std430) readonly buffer WBuf { uint w_words[]; };
layout(binding = 1, std430) readonly buffer XBuf { vec4 x4[]; };
layout(binding = 2, std430) buffer YBuf { float y[]; };
layout(push_constant) uniform PC {
  uint n_cols;     // a multiple of 4
  uint n_rows;     // rows of this weight piece
  uint n_tokens;
  uint row_bytes;
  uint row_begin;  // first output column of this piece
  uint y_stride;   // floats per y row
} pc;
#include "common.glsl"
#include "dequant.glsl"

const uint kLanes = 64u;
const uint kTokens = 8u;
shared float partial[kTokens][kLanes];

void main() {
  const uint r = flat_group_id();
  if (r >= pc.n_rows) return;  // whole work-group: no barrier is skipped by part of it
  const uint lane = gl_LocalInvocationID.x;
  const uint n4 = pc.n_cols / 4u;
  const uint rb = r * pc.row_bytes;
  for (uint t0 = 0u; t0 < pc.n_tokens; t0 += kTokens) {
    precise float acc[kTokens];
    for (uint k = 0u; k < kTokens; ++k) acc[k] = 0.0;
    for (uint i = lane; i < n4; i += kLanes) {
      const vec4 w = dequant4(rb, i * 4u);
      for (uint k = 0u; k < kTokens; ++k) {
        if (t0 + k < pc.n_tokens) {
          const vec4 xv = x4[(t0 + k) * n4 + i];
          precise float s = w.x * xv.x;
          s += w.y * xv.y;
          s += w.z * xv.z;
          s += w.w * xv.w;
          acc[k] += s;
        }
      }
    }
    for (uint k = 0u; k < kTokens; ++k) partial[k][lane] = acc[k];
    barrier();
    for (uint s = kLanes / 2u; s > 0u; s >>= 1) {
      if (lane < s) {
        for (uint k = 0u; k < kTokens; ++k) partial[k][lane] += partial[k][lane + s];
      }
      barrier();
    }
    if (lane < kTokens && t0 + lane < pc.n_tokens) y[(t0 + lane) * pc.y_stride + pc.row_begin + r] = partial[lane][0];
    barrier();
  }
}
