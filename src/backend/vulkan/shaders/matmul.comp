#version 450
#extension GL_GOOGLE_include_directive : enable
#extension GL_EXT_control_flow_attributes : enable
// y[t][row_begin + r] = sum_c W[r][c] * x[t][c].
// A work-group is 64 invocations; an invocation computes kRowsPerLane weight
// rows (lane, lane + 64, ...: grid x covers blocks of kRowsPerGroup rows; grid
// z blocks of kTokenBlock tokens). It decodes its rows one block at a time and
// applies each decoded block to kTokens tokens held in registers, each
// activation value loaded once for all its rows: per multiply-add that is
// 1/kRowsPerLane activation loads and 1/kTokens weight decodes. No shared
// memory and no barriers: cheap work-groups on every device, lavapipe
// included (where every buffer load inside a loop is a per-lane loop, so the
// loads per multiply-add set the speed).
//
// MATMUL_ID (matmul_id, mixtures of experts): the weight stacks n_expert
// matrices of expert_rows rows; grid z is (expert, block of kTokenBlock of
// the pairs routed to it). The pairs come from moe.comp's MOE_GROUP lists, so
// only the selected experts' rows are read and the pairs of one expert share
// each decoded block, as the tokens of a plain matmul do. Pair p = t * n_used
// + j reads x row p (per_slot) or t, and writes y row p (y_stride = expert_rows).
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
#if defined(MATMUL_ID)
layout(binding = 3, std430) readonly buffer GroupBuf { uint groups[]; };  // moe.comp MOE_GROUP
#endif
layout(push_constant) uniform PC {
  uint n_cols;     // a multiple of 4 (of the block size for block types)
  uint n_rows;     // rows of this weight piece
  uint n_tokens;   // MATMUL_ID: tokens of the chunk (a bound on each expert's pairs)
  uint row_bytes;
  uint row_begin;  // first output column of this piece (MATMUL_ID: first stacked row of the piece)
  uint y_stride;   // floats per y row
  // MATMUL_ID only:
  uint n_expert;
  uint n_used;
  uint expert_rows;  // rows per expert
  uint per_slot;     // 1: x holds one row per pair
  uint list_stride;  // pairs per expert list in groups
} pc;
#include "common.glsl"
#include "dequant.glsl"
#include "dequant_block.glsl"

const uint kLanes = 64u;
const uint kRowsPerLane = 4u;
const uint kRowsPerGroup = kLanes * kRowsPerLane;  // matches vulkan_grid.h kMatmulRowsPerGroup
const uint kTokens = 16u;       // tokens sharing one decoded block
const uint kTokenBlock = 32u;   // tokens per work-group (grid z); matches vulkan_grid.h kMatmulTokenBlock

precise float dot4(vec4 w, vec4 x) {
  precise float s = w.x * x.x;
  s += w.y * x.y;
  s += w.z * x.z;
  s += w.w * x.w;
  return s;
}

#if defined(MATMUL_ID)
uint list_base = 0u;  // the work-group's expert list in groups
// Item i of the work-group's list: its pair's x row and y row.
uint x_row(uint i) {
  const uint p = groups[list_base + i];
  return pc.per_slot != 0u ? p : p / pc.n_used;
}
uint y_row(uint i) { return groups[list_base + i]; }
#else
uint x_row(uint i) { return i; }
uint y_row(uint i) { return i; }
#endif

// Accumulates N items from t0 for the lane's rows: acc[i * N + k] over row
// i, in column order. Arrays indexed only in unrolled loops stay in registers.
#define ACCUMULATE(N)                                                              \
  {                                                                                \
    precise float acc[kRowsPerLane * N];                                           \
    uint xr[N];                                                                    \
    [[unroll]] for (uint k = 0u; k < N; ++k) xr[k] = x_row(t0 + k) * n4;           \
    [[unroll]] for (uint i = 0u; i < kRowsPerLane * N; ++i) acc[i] = 0.0;          \
    for (uint b = 0u; b < n_blocks; ++b) {                                         \
      vec4 w[kRowsPerLane][kBlockVecs];                                            \
      [[unroll]] for (uint i = 0u; i < kRowsPerLane; ++i) decode_block(rb[i], b, w[i]); \
      [[unroll]] for (uint k = 0u; k < N; ++k) {                                   \
        const uint xo = xr[k] + b * kBlockVecs;                                    \
        [[unroll]] for (uint v = 0u; v < kBlockVecs; ++v) {                        \
          const vec4 xv = x4[xo + v];                                              \
          [[unroll]] for (uint i = 0u; i < kRowsPerLane; ++i) acc[i * N + k] += dot4(w[i][v], xv); \
        }                                                                          \
      }                                                                            \
    }                                                                              \
    [[unroll]] for (uint i = 0u; i < kRowsPerLane; ++i) {                          \
      if (in_range[i]) {                                                           \
        [[unroll]] for (uint k = 0u; k < N; ++k) y[y_row(t0 + k) * pc.y_stride + y_col[i]] = acc[i * N + k]; \
      }                                                                            \
    }                                                                              \
  }

void main() {
  // Rows past the last compute row 0 and store nothing: no lane leaves
  // early, so the token and column indices stay uniform.
  const uint lane_row = flat_group_id() * kRowsPerGroup + gl_LocalInvocationID.x;
#if defined(MATMUL_ID)
  const uint token_blocks = (pc.n_tokens + kTokenBlock - 1u) / kTokenBlock;
  const uint expert = gl_WorkGroupID.z / token_blocks;
  const uint block = gl_WorkGroupID.z % token_blocks;
  const uint n_items = min(groups[expert], pc.list_stride);
  list_base = pc.n_expert + expert * pc.list_stride;
#else
  const uint n_items = pc.n_tokens;
  const uint block = gl_WorkGroupID.z;
#endif
  uint rb[kRowsPerLane];     // first byte of each row
  uint y_col[kRowsPerLane];  // its output column
  bool in_range[kRowsPerLane];
  [[unroll]] for (uint i = 0u; i < kRowsPerLane; ++i) {
    const uint r_lane = lane_row + i * kLanes;
#if defined(MATMUL_ID)
    // The stacked row, when it lies in this weight piece.
    const uint stacked = expert * pc.expert_rows + r_lane;
    in_range[i] = r_lane < pc.expert_rows && stacked >= pc.row_begin && stacked < pc.row_begin + pc.n_rows;
    rb[i] = (in_range[i] ? stacked - pc.row_begin : 0u) * pc.row_bytes;
    y_col[i] = r_lane;
#else
    in_range[i] = r_lane < pc.n_rows;
    rb[i] = (in_range[i] ? r_lane : 0u) * pc.row_bytes;
    y_col[i] = pc.row_begin + r_lane;
#endif
  }
  const uint n4 = pc.n_cols / 4u;
  const uint n_blocks = n4 / kBlockVecs;
  const uint t_end = min(n_items, (block + 1u) * kTokenBlock);
  uint t0 = block * kTokenBlock;
  for (; t0 + kTokens <= t_end; t0 += kTokens) ACCUMULATE(kTokens)
  for (; t0 < t_end; ++t0) ACCUMULATE(1u)
}
