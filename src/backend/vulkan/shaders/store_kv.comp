#version 450
#extension GL_GOOGLE_include_directive : enable
// Writes row t of src into cache cell slots[t] (f16, q8_0 or q4_0), one
// invocation per 32-element unit. Quantization follows quant/quantize_legacy.cpp.
// Units share words with their neighbours (blocks are 18 or 34 bytes), so
// half-words are written with atomic and/or.
layout(local_size_x = 64) in;
layout(binding = 0, std430) buffer CacheBuf { uint cache[]; };
layout(binding = 1, std430) readonly buffer SrcBuf { float src[]; };
layout(binding = 2, std430) readonly buffer SlotBuf { ivec4 slots[]; };  // seq, cell, pos, ring cell
layout(push_constant) uniform PC {
  uint n_tokens;
  uint n_embd;
  uint type;
  uint row_stride;  // bytes per cache row (a multiple of 4)
  uint context_tokens;  // cells per sequence of this layer (a ring layer's ring cells)
  uint src_stride;
  uint ring;  // != 0: the layer keeps a ring; the cell is slots[t].w (pos % ring cells)
} pc;
#include "common.glsl"
#include "kv_types.glsl"

void put16(uint off, uint v) {  // off is even: the half-word lies in one word
  const uint sh = (off & 2u) << 3;
  atomicAnd(cache[off >> 2], ~(0xffffu << sh));
  atomicOr(cache[off >> 2], (v & 0xffffu) << sh);
}

uint store_scale(float d) { return packHalf2x16(vec2(clamp(d, -65504.0, 65504.0), 0.0)) & 0xffffu; }

void main() {
  const uint units = (pc.n_embd + 31u) / 32u;
  const uint g = flat_group_id() * 64u + gl_LocalInvocationID.x;
  if (g >= pc.n_tokens * units) return;
  const uint t = g / units;
  const uint u = g % units;
  const ivec4 slot = slots[t];
  const uint cell = pc.ring != 0u ? uint(slot.w) : uint(slot.y);
  const uint row = (uint(slot.x) * pc.context_tokens + cell) * pc.row_stride;
  const uint s0 = t * pc.src_stride + u * 32u;
  if (pc.type == KV_F16) {
    const uint n = min(32u, pc.n_embd - u * 32u);
    for (uint i = 0u; i < n; i += 2u) {
      const uint v = packHalf2x16(vec2(src[s0 + i], src[s0 + i + 1u]));
      put16(row + 2u * (u * 32u + i), v & 0xffffu);
      put16(row + 2u * (u * 32u + i) + 2u, v >> 16);
    }
    return;
  }
  float x[32];
  bool finite = true;
  for (uint i = 0u; i < 32u; ++i) {
    x[i] = src[s0 + i];
    finite = finite && !isnan(x[i]) && !isinf(x[i]);
  }
  if (pc.type == KV_Q8_0) {
    const uint bo = row + u * 34u;
    if (!finite) {
      put16(bo, 0x7e00u);
      for (uint i = 0u; i < 32u; i += 2u) put16(bo + 2u + i, 0u);
      return;
    }
    float amax = 0.0;
    for (uint i = 0u; i < 32u; ++i) amax = max(amax, abs(x[i]));
    const float d = amax / 127.0;
    const uint dh = store_scale(d);
    const float id = half_to_float(dh) != 0.0 ? 1.0 / d : 0.0;
    put16(bo, dh);
    for (uint i = 0u; i < 32u; i += 2u) {
      const int q0 = int(roundEven(clamp(x[i] * id, -127.0, 127.0)));
      const int q1 = int(roundEven(clamp(x[i + 1u] * id, -127.0, 127.0)));
      put16(bo + 2u + i, (uint(q0) & 0xffu) | ((uint(q1) & 0xffu) << 8));
    }
    return;
  }
  // q4_0: d = (value of largest magnitude) / -8; level = floor(x/d + 8.5) clamped to [0, 15].
  const uint bo = row + u * 18u;
  if (!finite) {
    put16(bo, 0x7e00u);
    for (uint i = 0u; i < 16u; i += 2u) put16(bo + 2u + i, 0u);
    return;
  }
  float amax = 0.0, vmax = 0.0;
  for (uint i = 0u; i < 32u; ++i) {
    if (abs(x[i]) > amax) {
      amax = abs(x[i]);
      vmax = x[i];
    }
  }
  const float d = vmax / -8.0;
  const uint dh = store_scale(d);
  const float id = half_to_float(dh) != 0.0 ? 1.0 / d : 0.0;
  put16(bo, dh);
  uint q[32];
  for (uint i = 0u; i < 32u; ++i) {
    const float v = x[i] * id + 8.5;
    q[i] = !(v > 0.0) ? 0u : (v >= 15.0 ? 15u : uint(v));
  }
  for (uint i = 0u; i < 16u; i += 2u) {
    const uint b0 = q[i] | (q[i + 16u] << 4);
    const uint b1 = q[i + 1u] | (q[i + 17u] << 4);
    put16(bo + 2u + i, b0 | (b1 << 8));
  }
}
