#version 450
#extension GL_GOOGLE_include_directive : enable
// dst[t] = x[t] / rms(x[t]) * weight: one work-group per token, the sum of
// squares in a fixed strided order and tree (batch invariant).
layout(local_size_x = 128) in;
layout(binding = 0, std430) readonly buffer WBuf { float weight[]; };
layout(binding = 1, std430) readonly buffer XBuf { float x[]; };
layout(binding = 2, std430) buffer DstBuf { float dst[]; };
layout(push_constant) uniform PC {
  uint n_cols;
  uint n_tokens;
  float eps;
  uint x_stride;
  uint dst_stride;
} pc;
#include "common.glsl"

shared float partial[128];

void main() {
  const uint t = flat_group_id();
  if (t >= pc.n_tokens) return;
  const uint lane = gl_LocalInvocationID.x;
  const uint xo = t * pc.x_stride;
  precise float sum = 0.0;
  for (uint i = lane; i < pc.n_cols; i += 128u) sum += x[xo + i] * x[xo + i];
  partial[lane] = sum;
  barrier();
  for (uint s = 64u; s > 0u; s >>= 1) {
    if (lane < s) partial[lane] += partial[lane + s];
    barrier();
  }
  const float scale = 1.0 / sqrt(partial[0] / float(pc.n_cols) + pc.eps);
  const uint d = t * pc.dst_stride;
  for (uint i = lane; i < pc.n_cols; i += 128u) dst[d + i] = x[xo + i] * scale * weight[i];
}
