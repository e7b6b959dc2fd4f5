#version 450
#extension GL_GOOGLE_include_directive : enable
// dst[t][h] = softmax(q[t][h] K^T * scale) V over the cells of t's sequence
// whose position <= t's position. One work-group per (token, query head);
// cells in blocks of 32 aligned to the sequence start, online softmax
// (running max, sum and accumulator; no score matrix is ever stored).
// A token's arithmetic depends only on its own inputs (batch invariant).
layout(local_size_x = 64) in;
layout(binding = 0, std430) readonly buffer KBuf { uint k_words[]; };
layout(binding = 1, std430) readonly buffer VBuf { uint v_words[]; };
layout(binding = 2, std430) readonly buffer QBuf { float q[]; };
layout(binding = 3, std430) writeonly buffer DstBuf { float dst[]; };
layout(binding = 4, std430) readonly buffer SlotBuf { ivec4 slots[]; };  // seq, cell, pos, 0
layout(binding = 5, std430) readonly buffer PosBuf { int positions[]; };  // [n_seq][cells_per_seq]
layout(binding = 6, std430) readonly buffer UsedBuf { int used[]; };      // [n_seq]
layout(push_constant) uniform PC {
  uint n_tokens;
  uint n_head;
  uint n_head_kv;
  uint head_dim;  // <= kMaxHeadDim
  float scale;
  uint k_type;
  uint v_type;
  uint k_row_stride;  // bytes per cache row
  uint v_row_stride;
  uint k_head_bytes;
  uint v_head_bytes;
  uint cells_per_seq;
  uint q_stride;
  uint dst_stride;
} pc;
#include "common.glsl"
#include "kv_types.glsl"
DEFINE_BYTE_READS(kb, k_words)
DEFINE_BYTE_READS(vb, v_words)
DEFINE_KV_LOAD(kb)
DEFINE_KV_LOAD(vb)

const uint kLanes = 64u;
const uint kBlock = 32u;
const uint kMaxHeadDim = 256u;
const uint kDimsPerLane = kMaxHeadDim / kLanes;
const float kNegInf = -1.0 / 0.0;
shared float q_s[kMaxHeadDim];
shared float p_s[kBlock];
shared uint cell_s[kBlock];

void main() {
  const uint item = flat_group_id();
  if (item >= pc.n_tokens * pc.n_head) return;
  const uint t = item / pc.n_head;
  const uint h = item % pc.n_head;
  const uint kvh = h / (pc.n_head / pc.n_head_kv);
  const uint lane = gl_LocalInvocationID.x;
  const ivec4 slot = slots[t];
  const uint seq = uint(slot.x);
  const int pos = slot.z;
  const uint n_cells = uint(used[seq]);
  for (uint d = lane; d < pc.head_dim; d += kLanes) q_s[d] = q[t * pc.q_stride + h * pc.head_dim + d];
  barrier();

  float m = kNegInf;
  float l = 0.0;
  float acc[kDimsPerLane];
  for (uint j = 0u; j < kDimsPerLane; ++j) acc[j] = 0.0;
  for (uint b0 = 0u; b0 < n_cells; b0 += kBlock) {
    float s = kNegInf;
    if (lane < kBlock) {
      const uint cell = b0 + lane;
      if (cell < n_cells && positions[seq * pc.cells_per_seq + cell] <= pos) {
        const uint base = (seq * pc.cells_per_seq + cell) * pc.k_row_stride + kvh * pc.k_head_bytes;
        precise float dot_qk = 0.0;
        for (uint d = 0u; d < pc.head_dim; ++d) dot_qk += q_s[d] * kb_element(pc.k_type, base, d);
        s = dot_qk * pc.scale;
      }
      p_s[lane] = s;
      cell_s[lane] = b0 + lane;
    }
    barrier();
    float block_max = kNegInf;
    for (uint j = 0u; j < kBlock; ++j) block_max = max(block_max, p_s[j]);
    barrier();  // every lane has read the scores before they turn into probabilities
    if (block_max == kNegInf) continue;  // nothing visible in this block (same for all lanes)
    if (block_max > m) {
      const float rescale = exp(m - block_max);
      for (uint j = 0u; j < kDimsPerLane; ++j) acc[j] *= rescale;
      l *= rescale;
      m = block_max;
    }
    if (lane < kBlock) p_s[lane] = s == kNegInf ? 0.0 : exp(s - m);
    barrier();
    for (uint j = 0u; j < kBlock; ++j) l += p_s[j];
    for (uint j = 0u; j < kBlock; ++j) {
      const float p = p_s[j];
      if (p == 0.0) continue;
      const uint base = (seq * pc.cells_per_seq + cell_s[j]) * pc.v_row_stride + kvh * pc.v_head_bytes;
      for (uint k = 0u; k < kDimsPerLane; ++k) {
        const uint d = lane + k * kLanes;
        if (d < pc.head_dim) acc[k] += p * vb_element(pc.v_type, base, d);
      }
    }
    barrier();  // before the next block overwrites p_s
  }
  const float inv = l > 0.0 ? 1.0 / l : 0.0;
  for (uint k = 0u; k < kDimsPerLane; ++k) {
    const uint d = lane + k * kLanes;
    if (d < pc.head_dim) dst[t * pc.dst_stride + h * pc.head_dim + d] = acc[k] * inv;
  }
}
