#version 450
#extension GL_GOOGLE_include_directive : enable
#extension GL_EXT_control_flow_attributes : enable
// dst[t][h] = softmax(q[t][h] K^T * scale) V over the cells of t's sequence
// whose position <= t's position (and, with a sliding window, > t's
// position - window); with softcap > 0 each score s becomes
// softcap * tanh(s / softcap) before the softmax (gemma2).
//
// One work-group per (token, KV head, chunk of that KV head's query heads):
// the query heads sharing a KV head share each decoded K and V row. Cells
// go in blocks of 64 aligned to the sequence start (lane j scores cell j of
// the block for every head of the chunk), online softmax per head (running
// max m, sum l and accumulator; no score matrix is ever stored). Three
// barriers per block (few, wide work-groups: lavapipe runs each barrier as
// a switch between the work-group's SIMD slices, cheaper than the shared
// reads it saves: one lane per head takes the block's max). The outputs
// (heads x head_dim) are spread over the lanes in pairs, each lane summing
// its two V columns over the block's cells (one f16 word per cell). A block
// with no visible cell is skipped after its scores.
//
// Lavapipe runs every buffer or shared read inside a loop as a loop over the
// SIMD lanes, so reads per cell set its speed: queries are read as vec4s,
// the probabilities four cells at a time, K four elements (f16) or a
// quantized word at a time.
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
const uint kPairsPerLane = kMaxOutputs / 2u / kLanes;  // a lane's outputs go in pairs (head_dim is even)
const float kNegInf = -1.0 / 0.0;
// The chunk's queries, head hh at q_s[hh * hd4 ...] (hd4 = head_dim / 4
// rounded up, zero-padded): a vec4 per read.
shared vec4 q_s[kMaxOutputs / 4u + kMaxChunkHeads];
shared float s_s[kMaxChunkHeads][kBlock];  // scores of the block (-inf: not visible)
shared vec4 e_s[kMaxChunkHeads][kBlock / 4u];  // exp(score - m) of the block's cells (0: not visible)
shared float m_s[kMaxChunkHeads];          // per head: the running max m
shared float rescale_s[kMaxChunkHeads];    // per head: exp(old m - new m)
shared bool visible_s[kMaxChunkHeads];     // per head: the block has a visible cell

// V elements d and d + 1 (d even) of the head starting at byte base: one
// word for f16 (rows and heads are whole words).
vec2 v_pair(uint base, uint d) {
  if (V_TYPE == KV_F16) return unpackHalf2x16(v_words[(base >> 2) + (d >> 1)]);
  return vec2(vb_element(V_TYPE, base, d), vb_element(V_TYPE, base, d + 1u));
}

float q_at(uint hh, uint hd4, uint d) { return q_s[hh * hd4 + (d >> 2)][d & 3u]; }

// Scores of one cell's K head (starting at byte base) against the chunk's
// n_heads queries: sc[hh] = sum_d q[hh][d] * k[d], d in order.
void score_cell(uint base, uint n_heads, uint hd4, out float sc[kMaxChunkHeads]) {
  precise float acc[kMaxChunkHeads];
  [[unroll]] for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) acc[hh] = 0.0;
  const uint hd = pc.head_dim;
  if (K_TYPE == KV_F16) {
    // Four elements (two words) against one vec4 of each query; head_dim is
    // even (vulkan_backend.cpp), so a last pair may remain.
    uint d = 0u;
    for (; d + 4u <= hd; d += 4u) {
      const vec2 ka = unpackHalf2x16(kb_u32(base + 2u * d));
      const vec2 kc = unpackHalf2x16(kb_u32(base + 2u * d + 4u));
      [[unroll]] for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) {
        if (hh < n_heads) {
          const vec4 qv = q_s[hh * hd4 + (d >> 2)];
          acc[hh] += qv.x * ka.x;
          acc[hh] += qv.y * ka.y;
          acc[hh] += qv.z * kc.x;
          acc[hh] += qv.w * kc.y;
        }
      }
    }
    if (d < hd) {
      const vec2 ka = unpackHalf2x16(kb_u32(base + 2u * d));
      [[unroll]] for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) {
        if (hh < n_heads) {
          const vec4 qv = q_s[hh * hd4 + (d >> 2)];
          acc[hh] += qv.x * ka.x;
          acc[hh] += qv.y * ka.y;
        }
      }
    }
  } else {
    // q8_0 / q4_0: per block of 32 elements its scale once, its quants a
    // word (4 bytes) at a time, then element by element in order.
    for (uint d0 = 0u; d0 < hd; d0 += 32u) {
      const uint n = min(32u, hd - d0);
      if (K_TYPE == KV_Q8_0) {
        const uint bo = base + (d0 >> 5) * 34u;
        const float scale = half_to_float(kb_u16(bo));
        for (uint j = 0u; j < n; j += 4u) {
          const vec4 k4 = sbytes4(kb_u32(bo + 2u + j)) * scale;
          [[unroll]] for (uint c = 0u; c < 4u; ++c) {
            if (j + c < n) {
              [[unroll]] for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) {
                if (hh < n_heads) acc[hh] += q_at(hh, hd4, d0 + j + c) * k4[c];
              }
            }
          }
        }
      } else {
        const uint bo = base + (d0 >> 5) * 18u;
        const float scale = half_to_float(kb_u16(bo));
        uint qw[4];  // the 16 quant bytes: element j is byte j's low nibble, 16 + j its high one
        [[unroll]] for (uint w = 0u; w < 4u; ++w) qw[w] = kb_u32(bo + 2u + 4u * w);
        [[unroll]] for (uint j = 0u; j < 32u; ++j) {
          if (j < n) {
            const uint byte = (qw[(j & 15u) >> 2] >> (8u * (j & 3u))) & 0xffu;
            const float kv = (float(j < 16u ? (byte & 15u) : (byte >> 4)) - 8.0) * scale;
            [[unroll]] for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) {
              if (hh < n_heads) acc[hh] += q_at(hh, hd4, d0 + j) * kv;
            }
          }
        }
      }
    }
  }
  [[unroll]] for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) sc[hh] = acc[hh] * pc.scale;
  if (pc.softcap > 0.0) {
    [[unroll]] for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) sc[hh] = pc.softcap * stable_tanh(sc[hh] * pc.inv_softcap);
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
  const uint hd4 = (hd + 3u) / 4u;
  for (uint i = lane; i < n_heads * hd4; i += kLanes) {
    const uint hh = i / hd4, d = (i % hd4) * 4u;
    const uint qo = t * pc.q_stride + (h0 + hh) * hd + d;
    vec4 v = vec4(0.0);
    [[unroll]] for (uint c = 0u; c < 4u; ++c) {
      if (d + c < hd) v[c] = q[qo + c];
    }
    q_s[i] = v;
  }
  if (lane < kMaxChunkHeads) m_s[lane] = kNegInf;
  barrier();

  // Loops over heads and outputs run to the constant bounds (guarded), so
  // these arrays stay in registers (a dynamic index would put them in
  // per-lane memory).
  precise vec2 acc[kPairsPerLane];
  precise float l_out[kPairsPerLane];  // l of each pair's head (the same sum in every lane of that head)
  [[unroll]] for (uint k = 0u; k < kPairsPerLane; ++k) {
    acc[k] = vec2(0.0);
    l_out[k] = 0.0;
  }

  for (uint block = first_block; block < end_block; ++block) {
    const uint b0 = ring ? (block * kBlock) % n_cells : block * kBlock;
    // 1. Lane j scores cell b0 + j for every head of the chunk.
    const uint cell = b0 + lane;
    float sc[kMaxChunkHeads];
    if (cell < n_cells && positions[row0 + cell] <= pos && positions[row0 + cell] > window_end) {
      score_cell((row0 + cell) * pc.k_row_stride + kvh * pc.k_head_bytes, n_heads, hd4, sc);
    } else {
      for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) sc[hh] = kNegInf;
    }
    for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) {
      if (hh < n_heads) s_s[hh][lane] = sc[hh];
    }
    barrier();
    // 2. Lane hh takes head hh's block max and publishes the new running
    //    max and the rescale factor (one lane per head reads the block's
    //    scores, not every lane); then lane j turns its own scores into
    //    probabilities.
    if (lane < n_heads) {
      float block_max = kNegInf;
      for (uint j = 0u; j < kBlock; ++j) block_max = max(block_max, s_s[lane][j]);
      const float m_old = m_s[lane];
      float rescale = 1.0;
      if (block_max > m_old) {
        rescale = exp(m_old - block_max);  // exp(-inf) = 0 on the first visible block
        m_s[lane] = block_max;
      }
      rescale_s[lane] = rescale;
      visible_s[lane] = block_max > kNegInf;
    }
    barrier();
    // A block none of whose cells is visible changes nothing (rescale 1,
    // every p 0): the work-group skips the rest of it together.
    bool any_visible = false;
    [[unroll]] for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) any_visible = any_visible || (hh < n_heads && visible_s[hh]);
    if (!any_visible) continue;
    [[unroll]] for (uint hh = 0u; hh < kMaxChunkHeads; ++hh) {
      if (hh < n_heads) e_s[hh][lane >> 2][lane & 3u] = sc[hh] == kNegInf ? 0.0 : exp(sc[hh] - m_s[hh]);
    }
    barrier();
    // 3. Sums and V: each lane its outputs, over the block's cells in order.
    //    The next block writes s_s, then waits at its first barrier before
    //    writing m_s, rescale_s and e_s: no barrier is needed after this step.
    const uint n_block = min(kBlock, n_cells - b0);
    const uint v0 = (row0 + b0) * pc.v_row_stride + kvh * pc.v_head_bytes;
    [[unroll]] for (uint k = 0u; k < kPairsPerLane; ++k) {
      const uint o = 2u * (lane + k * kLanes);
      if (o < n_out) {
        const uint hh = o / hd, d = o % hd;
        precise vec2 a = acc[k] * rescale_s[hh];
        precise float sum = l_out[k] * rescale_s[hh];
        for (uint j4 = 0u; j4 < kBlock / 4u; ++j4) {
          const vec4 p4 = e_s[hh][j4];
          [[unroll]] for (uint c = 0u; c < 4u; ++c) {
            const uint j = 4u * j4 + c;
            if (j < n_block) {
              const float p = p4[c];
              const vec2 v = v_pair(v0 + j * pc.v_row_stride, d);
              a.x += p == 0.0 ? 0.0 : p * v.x;  // p == 0: not visible (its row may hold anything)
              a.y += p == 0.0 ? 0.0 : p * v.y;
              sum += p;
            }
          }
        }
        acc[k] = a;
        l_out[k] = sum;
      }
    }
  }
  [[unroll]] for (uint k = 0u; k < kPairsPerLane; ++k) {
    const uint o = 2u * (lane + k * kLanes);
    if (o < n_out) {
      const float inv_l = l_out[k] > 0.0 ? 1.0 / l_out[k] : 0.0;
      dst[t * pc.dst_stride + h0 * hd + o] = acc[k].x * inv_l;
      dst[t * pc.dst_stride + h0 * hd + o + 1u] = acc[k].y * inv_l;
    }
  }
}
