#version 450
#extension GL_GOOGLE_include_directive : enable
// dst[t] = row tokens[t] of the table (as f32), for the tokens whose row
// lies in this piece [row_begin, row_end) of the table.
layout(local_size_x = 64) in;
layout(binding = 0, std430) readonly buffer WBuf { uint w_words[]; };
layout(binding = 1, std430) readonly buffer TokBuf { int tokens[]; };
layout(binding = 2, std430) writeonly buffer DstBuf { vec4 dst4[]; };
layout(push_constant) uniform PC {
  uint n_cols;
  uint n_tokens;
  uint row_bytes;
  uint row_begin;
  uint row_end;
  uint dst_stride;  // floats per dst row (a multiple of 4)
} pc;
#include "common.glsl"
#include "dequant.glsl"

void main() {
  const uint t = flat_group_id();
  if (t >= pc.n_tokens) return;
  const uint id = uint(tokens[t]);
  if (id < pc.row_begin || id >= pc.row_end) return;
  const uint rb = (id - pc.row_begin) * pc.row_bytes;
  const uint n4 = pc.n_cols / 4u;
  for (uint i = gl_LocalInvocationID.x; i < n4; i += 64u) dst4[t * (pc.dst_stride / 4u) + i] = dequant4(rb, i * 4u);
}
