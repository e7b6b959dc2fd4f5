#version 450
#extension GL_GOOGLE_include_directive : enable
// y[t][row_begin + r] = sum_c W[r][c] * x[t][c].
// A work-group is 64 invocations, one weight row each (grid x: blocks of 64
// rows; grid z: blocks of kTokenBlock tokens). An invocation decodes its row
// one block at a time and applies each decoded value to up to kTokens tokens
// held in registers, so a weight is decoded once per kTokens tokens and no
// invocation waits on another (no shared memory, no barriers: cheap work-groups
// on every device, lavapipe included).
//
// Batch invariance: every y[t][r] is one sequential sum over the row's
// elements in column order, a 4-element dot product at a time,
// ((w.x*x.x + w.y*x.y) + w.z*x.z) + w.w*x.w added to the running sum, with
// no contraction (precise). The token count only picks how many tokens share
// a decoded block, never the order of any token's sum.
layout(local_size_x = 64) in;
layout(binding = 0, std430) readonly buffer WBuf { uint w_words[]; };
layout(binding = 1, std430) readonly buffer XBuf { vec4 x4[]; };
layout(binding = 2, std430) buffer YBuf { float y[]; };
layout(push_constant) uniform PC {
  uint n_cols;     // a multiple of 4 (of the block size for block types)
  uint n_rows;     // rows of this weight piece
  uint n_tokens;
  uint row_bytes;
  uint row_begin;  // first output column of this piece
  uint y_stride;   // floats per y row
} pc;
#include "common.glsl"
#include "dequant.glsl"
#include "dequant_block.glsl"

const uint kRowsPerGroup = 64u;
const uint kTokens = 16u;       // tokens sharing one decoded block
const uint kTokenBlock = 32u;   // tokens per work-group (grid z); matches vulkan_ops.cpp

precise float dot4(vec4 w, vec4 x) {
  precise float s = w.x * x.x;
  s += w.y * x.y;
  s += w.z * x.z;
  s += w.w * x.w;
  return s;
}

// Accumulates N tokens from t0 for row rb: acc[k] over the row, in column order.
#define ACCUMULATE(N)                                                        \
  {                                                                          \
    precise float acc[N];                                                    \
    for (uint k = 0u; k < N; ++k) acc[k] = 0.0;                              \
    for (uint b = 0u; b < n_blocks; ++b) {                                   \
      vec4 w[kBlockVecs];                                                    \
      decode_block(rb, b, w);                                                \
      for (uint k = 0u; k < N; ++k) {                                        \
        const uint xo = (t0 + k) * n4 + b * kBlockVecs;                      \
        for (uint v = 0u; v < kBlockVecs; ++v) acc[k] += dot4(w[v], x4[xo + v]); \
      }                                                                      \
    }                                                                        \
    if (in_range) {                                                          \
      for (uint k = 0u; k < N; ++k) y[(t0 + k) * pc.y_stride + pc.row_begin + r] = acc[k]; \
    }                                                                        \
  }

void main() {
  // Lanes past the last row compute row 0 and store nothing: no lane leaves
  // early, so lavapipe keeps the token and column indices uniform (the
  // activations are then read once per SIMD slice, not gathered per lane).
  const uint r_lane = flat_group_id() * kRowsPerGroup + gl_LocalInvocationID.x;
  const bool in_range = r_lane < pc.n_rows;
  const uint r = in_range ? r_lane : 0u;
  const uint n4 = pc.n_cols / 4u;
  const uint n_blocks = n4 / kBlockVecs;
  const uint rb = r * pc.row_bytes;
  const uint t_end = min(pc.n_tokens, (gl_WorkGroupID.z + 1u) * kTokenBlock);
  uint t0 = gl_WorkGroupID.z * kTokenBlock;
  for (; t0 + kTokens <= t_end; t0 += kTokens) ACCUMULATE(kTokens)
  for (; t0 < t_end; ++t0) ACCUMULATE(1u)
}
