#version 450
#extension GL_GOOGLE_include_directive : enable
// Rotates the first rope_dim dims of each head in place with the host's
// cos/sin table [n_tokens][rope_dim/2][2]: pairs (2i, 2i+1), or (i, i+half) for neox.
layout(local_size_x = 64) in;
layout(binding = 0, std430) buffer XBuf { float x[]; };
layout(binding = 1, std430) readonly buffer CsBuf { float cos_sin[]; };
layout(push_constant) uniform PC {
  uint n_tokens;
  uint n_heads;
  uint head_dim;
  uint rope_dim;
  uint neox;
  uint x_stride;
} pc;
#include "common.glsl"

void main() {
  const uint half_dim = pc.rope_dim / 2u;
  const uint n = pc.n_tokens * pc.n_heads * half_dim;
  for (uint g = flat_group_id() * 64u + gl_LocalInvocationID.x; g < n; g += total_groups() * 64u) {
    const uint i = g % half_dim;
    const uint h = (g / half_dim) % pc.n_heads;
    const uint t = g / (half_dim * pc.n_heads);
    const float c = cos_sin[(t * half_dim + i) * 2u];
    const float s = cos_sin[(t * half_dim + i) * 2u + 1u];
    const uint base = t * pc.x_stride + h * pc.head_dim;
    const uint a = base + (pc.neox != 0u ? i : 2u * i);
    const uint b = base + (pc.neox != 0u ? i + half_dim : 2u * i + 1u);
    const float x0 = x[a];
    const float x1 = x[b];
    x[a] = x0 * c - x1 * s;
    x[b] = x0 * s + x1 * c;
  }
}
