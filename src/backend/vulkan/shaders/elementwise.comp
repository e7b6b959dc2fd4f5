#version 450
#extension GL_GOOGLE_include_directive : enable
// Element-wise ops over n_rows rows of width floats (-D OP_ADD, OP_SWIGLU, OP_GATHER):
//   add:    dst += a
//   swiglu: dst = silu(a) * b
//   gather: dst[i] = a[rows[i]]   (b holds the row indices)
layout(local_size_x = 256) in;
layout(binding = 0, std430) buffer DstBuf { float dst[]; };
layout(binding = 1, std430) readonly buffer ABuf { float a[]; };
#if defined(OP_SWIGLU)
layout(binding = 2, std430) readonly buffer BBuf { float b[]; };
#elif defined(OP_GATHER)
layout(binding = 2, std430) readonly buffer RowsBuf { int rows[]; };
#endif
layout(push_constant) uniform PC {
  uint n_rows;
  uint width;
  uint dst_stride;
  uint a_stride;
  uint b_stride;
} pc;
#include "common.glsl"

void main() {
  const uint n = pc.n_rows * pc.width;
  for (uint g = flat_group_id() * 256u + gl_LocalInvocationID.x; g < n; g += total_groups() * 256u) {
    const uint r = g / pc.width;
    const uint c = g % pc.width;
#if defined(OP_ADD)
    dst[r * pc.dst_stride + c] += a[r * pc.a_stride + c];
#elif defined(OP_SWIGLU)
    const float x = a[r * pc.a_stride + c];
    dst[r * pc.dst_stride + c] = x / (1.0 + exp(-x)) * b[r * pc.b_stride + c];
#elif defined(OP_GATHER)
    dst[r * pc.dst_stride + c] = a[uint(rows[r]) * pc.a_stride + c];
#endif
  }
}
