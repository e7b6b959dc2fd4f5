#version 450
#extension GL_GOOGLE_include_directive : enable
// Element-wise ops over n_rows rows of width floats (-D OP_ADD, OP_SWIGLU,
// OP_GEGLU, OP_GATHER, OP_SCALE, OP_SOFTCAP):
//   add:     dst += a        (a_stride 0: a is one row added to every row, add_bias)
//   swiglu:  dst = silu(a) * b
//   geglu:   dst = gelu(a) * b   (GELU's tanh approximation)
//   gather:  dst[i] = a[rows[i]]   (b holds the row indices)
//   scale:   dst *= value
//   softcap: dst = value * tanh(dst * inv_value)
layout(local_size_x = 256) in;
layout(binding = 0, std430) buffer DstBuf { float dst[]; };
#if !defined(OP_SCALE) && !defined(OP_SOFTCAP)
layout(binding = 1, std430) readonly buffer ABuf { float a[]; };
#endif
#if defined(OP_SWIGLU) || defined(OP_GEGLU)
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
  float value;      // scale, softcap
  float inv_value;  // softcap: 1 / value, computed on the host as the CPU does
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
#elif defined(OP_GEGLU)
    const float kSqrt2OverPi = 0.79788456080286535588;
    const float kCubic = 0.044715;
    const float x = a[r * pc.a_stride + c];
    dst[r * pc.dst_stride + c] = 0.5 * x * (1.0 + stable_tanh(kSqrt2OverPi * x * (1.0 + kCubic * x * x))) *
                                 b[r * pc.b_stride + c];
#elif defined(OP_GATHER)
    dst[r * pc.dst_stride + c] = a[uint(rows[r]) * pc.a_stride + c];
#elif defined(OP_SCALE)
    dst[r * pc.dst_stride + c] *= pc.value;
#elif defined(OP_SOFTCAP)
    const uint o = r * pc.dst_stride + c;
    dst[o] = pc.value * stable_tanh(dst[o] * pc.inv_value);
#endif
  }
}
