#version 450
#extension GL_GOOGLE_include_directive : enable
// dst[t][h] = softmax(q[t][h] K^T * scale) V over the cells of t's sequence
// whose position <= t's position (and, with a sliding window, > t's
// position - window); with softcap > 0 each score s becomes
// softcap * tanh(s / softcap) before the softmax (gemma2).
//
// One work-group per (token, KV head, chunk of that KV head's query heads):
// the query heads sharing a KV head share each decoded K and V row. Cells
// go in blocks of 64 aligned to the sequence start (lane j scores cell j of
// the block for every head of the chunk), online softmax per head (running
// max m, sum l and accumulator; no score matrix is ever stored). Two
// barriers per block (few, wide work-groups: lavapipe runs each barrier as
// a switch between the work-group's SIMD slices). The outputs (heads x head_dim) are spread over the
// lanes, each lane summing its outputs' V column over the block's cells.
//
// A layer that keeps a ring (ring_cells > 0; backend.h) walks the blocks of
// positions its window covers, oldest first, block b in ring cells
// (b * 64) % ring_cells onwards: with positions from 0 in cell order, the
// blocks, cells and order the whole-context layout gives.
//
// A token's arithmetic depends only on its own inputs and its sequence's
// cells, in an order fixed by the cell index (batch invariant).
layout(local_size_x = 64) in;
layout(binding = 0, std430) readonly buffer KBuf { uint k_words[]; };
layout(binding = 1, std430) readonly buffer VBuf { uint v_words[]; };
layout(binding = 2, std430) readonly buffer QBuf { float q[]; };
layout(binding = 3, std430) writeonly buffer DstBuf { float dst[]; };
layout(binding = 4, std430) readonly buffer SlotBuf { ivec4 slots[]; };  // seq, cell, pos, ring cell
layout(binding = 5, std430) readonly buffer PosBuf { int positions[]; };  // [n_seq][context_tokens or ring_cells]
layout(binding = 6, std430) readonly buffer UsedBuf { int used[]; };      // [n_seq]
layout(push_constant) uniform PC {
  uint n_tokens;
  uint n_head;
  uint n_head_kv;
  uint head_dim;  // <= kMaxHeadDim
  float scale;
  uint k_type;  // == K_TYPE (the variant is picked by type)
  uint v_type;  // == V_TYPE
  uint k_row_stride;  // bytes per cache row
  uint v_row_stride;
  uint k_head_bytes;
  uint v_head_bytes;
  uint context_tokens;  // cells per sequence of this layer (ring_cells for a ring)
  uint q_stride;
  uint dst_stride;
  uint chunk_heads;  // query heads per work-group: chunk_heads * head_dim <= kMaxOutputs, <= kMaxChunkHeads
  float softcap;      // > 0: scores are soft-capped
  float inv_softcap;  // 1 / softcap, computed on the host as the CPU does
  uint window;        // > 0: sliding window of this many positions
  uint ring_cells;    // > 0: the layer keeps a ring of this many cells per sequence (a multiple of 64)
} pc;
#include "common.glsl"
#include "kv_types.glsl"
// K_TYPE and V_TYPE come as -D defines (one variant per pair of cache types):
// with the type a constant the decoders' type tests fold away (lavapipe runs
// both sides of a branch under a mask, so a run-time type test costs every path).
DEFINE_BYTE_READS(kb, k_words)
DEFINE_BYTE_READS(vb, v_words)
DEFINE_KV_LOAD(kb)
DEFINE_KV_LOAD(vb)

const uint kLanes = 64u;
const uint kBlock = kLanes;  // cells per block: one per lane
const uint kMaxChunkHeads = 4u;
const uint kMaxOutputs = 512u;  // floats of q (and of the output) per work-group; matches vulkan_ops.cpp
const uint kOutsPerLane = kMaxOutputs / kLanes;
const float kNegInf = -1.0 / 0.0;
shared float q_s[kMaxOutputs];
shared float s_s[kMaxChunkHeads][kBlock];  // scores of the block (-inf: not visible)
shared float e_s[kMaxChunkHeads][kBlock];  // exp(score - m) of the block (0: not visible)
shared float rescale_s[kMaxChunkHeads];      // per head: exp(old m - new m)

// Scores of one cell's K head (starting at byte base) against the chunk's
// n_heads queries: sc[hh] = sum_d q[hh][d] * k[d], d in order.
void score_cell(uint base, uint n_heads, out float sc[kMaxChunkHeads]) {
  precise float acc[kMaxChunkHeads];
  for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) acc[hh] = 0.0;
  const uint hd = pc.head_dim;
  if (K_TYPE == KV_F16) {
    for (uint d = 0u; d < hd; d += 2u) {  // head_dim is even (vulkan_backend.cpp)
      const vec2 k2 = unpackHalf2x16(kb_u32(base + 2u * d));
      for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) {
        if (hh < n_heads) {
          acc[hh] += q_s[hh * hd + d] * k2.x;
          acc[hh] += q_s[hh * hd + d + 1u] * k2.y;
        }
      }
    }
  } else {
    // q8_0 / q4_0: one scale per 32 elements, element by element within.
    for (uint d = 0u; d < hd; ++d) {
      const float kv = kb_element(K_TYPE, base, d);
      for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) {
        if (hh < n_heads) acc[hh] += q_s[hh * hd + d] * kv;
      }
    }
  }
  for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) sc[hh] = acc[hh] * pc.scale;
  if (pc.softcap > 0.0) {
    for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) sc[hh] = pc.softcap * stable_tanh(sc[hh] * pc.inv_softcap);
  }
}

void main() {
  const uint group = pc.n_head / pc.n_head_kv;
  const uint n_chunks = (group + pc.chunk_heads - 1u) / pc.chunk_heads;
  const uint item = flat_group_id();
  if (item >= pc.n_tokens * pc.n_head_kv * n_chunks) return;
  const uint t = item / (pc.n_head_kv * n_chunks);
  const uint kvh = (item / n_chunks) % pc.n_head_kv;
  const uint chunk = item % n_chunks;
  const uint h0 = kvh * group + chunk * pc.chunk_heads;
  const uint n_heads = min(pc.chunk_heads, group - chunk * pc.chunk_heads);
  const uint hd = pc.head_dim;
  const uint n_out = n_heads * hd;
  const uint lane = gl_LocalInvocationID.x;
  const ivec4 slot = slots[t];
  const uint seq = uint(slot.x);
  const int pos = slot.z;
  // Cells at or before this position are outside a sliding window (none without one).
  const int window_end = pc.window > 0u ? pos - int(pc.window) : -2147483647 - 1;
  const bool ring = pc.ring_cells > 0u;
  const uint n_cells = ring ? pc.ring_cells : uint(used[seq]);
  const uint row0 = seq * pc.context_tokens;
  // Blocks [first_block, end_block): of cells, or of the positions from the
  // window's start to the token's (uniform over the work-group: one token).
  const uint first_block = ring ? uint(max(0, pos - int(pc.window) + 1)) / kBlock : 0u;
  const uint end_block = ring ? uint(pos) / kBlock + 1u : (n_cells + kBlock - 1u) / kBlock;
  for (uint i = lane; i < n_out; i += kLanes) q_s[i] = q[t * pc.q_stride + h0 * hd + i];
  barrier();

  // Loops over heads and outputs run to the constant bounds (guarded), so
  // these arrays stay in registers (a dynamic index would put them in
  // per-lane memory). Every lane holds the same m.
  float m[kMaxChunkHeads];
  for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) m[hh] = kNegInf;
  precise float acc[kOutsPerLane];
  precise float l_out[kOutsPerLane];  // l of each output's head (the same sum in every lane of that head)
  for (uint k = 0u; k < kOutsPerLane; ++k) {
    acc[k] = 0.0;
    l_out[k] = 0.0;
  }

  for (uint block = first_block; block < end_block; ++block) {
    const uint b0 = ring ? (block * kBlock) % n_cells : block * kBlock;
    // 1. Lane j scores cell b0 + j for every head of the chunk.
    const uint cell = b0 + lane;
    float sc[kMaxChunkHeads];
    if (cell < n_cells && positions[row0 + cell] <= pos && positions[row0 + cell] > window_end) {
      score_cell((row0 + cell) * pc.k_row_stride + kvh * pc.k_head_bytes, n_heads, sc);
    } else {
      for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) sc[hh] = kNegInf;
    }
    for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) {
      if (hh < n_heads) s_s[hh][lane] = sc[hh];
    }
    barrier();
    // 2. Every lane takes each head's block max (the same values in the same
    //    order: every lane agrees on m); lane j turns its own scores into
    //    probabilities; lane 0 publishes each head's rescale factor.
    for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) {
      if (hh < n_heads) {
        float block_max = kNegInf;
        for (uint j = 0u; j < kBlock; ++j) block_max = max(block_max, s_s[hh][j]);
        float rescale = 1.0;
        if (block_max > m[hh]) {
          rescale = exp(m[hh] - block_max);  // exp(-inf) = 0 on the first visible block
          m[hh] = block_max;
        }
        if (lane == 0u) rescale_s[hh] = rescale;
        e_s[hh][lane] = sc[hh] == kNegInf ? 0.0 : exp(sc[hh] - m[hh]);
      }
    }
    barrier();
    // 3. Sums and V: each lane its outputs, over the block's cells in order.
    //    The next block writes s_s, then waits at its first barrier before
    //    writing e_s and rescale_s: no barrier is needed after this step.
    const uint n_block = min(kBlock, n_cells - b0);
    for (uint k = 0u; k < kOutsPerLane; ++k) {
      const uint o = lane + k * kLanes;
      if (o < n_out) {
        const uint hh = o / hd, d = o % hd;
        precise float a = acc[k] * rescale_s[hh];
        precise float sum = l_out[k] * rescale_s[hh];
        for (uint j = 0u; j < n_block; ++j) {
          const float p = e_s[hh][j];
          const float v = vb_element(V_TYPE, (row0 + b0 + j) * pc.v_row_stride + kvh * pc.v_head_bytes, d);
          a += p == 0.0 ? 0.0 : p * v;  // p == 0: not visible (its row may hold anything)
          sum += p;
        }
        acc[k] = a;
        l_out[k] = sum;
      }
    }
  }
  for (uint k = 0u; k < kOutsPerLane; ++k) {
    const uint o = lane + k * kLanes;
    if (o < n_out) dst[t * pc.dst_stride + h0 * hd + o] = acc[k] * (l_out[k] > 0.0 ? 1.0 / l_out[k] : 0.0);
  }
}
