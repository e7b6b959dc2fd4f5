// dequant4(row_byte, i): weight elements i..i+3 (i a multiple of 4) of the
// row starting at byte row_byte of w_words, for the weight type selected by
// a -D define. The arithmetic per value follows quant/dequant_*.cpp:
// the integer level times the block scale (plus the min for the _1 types).
DEFINE_BYTE_READS(w, w_words)

#if defined(WTYPE_F32)
vec4 dequant4(uint rb, uint i) {
  uint o = (rb >> 2) + i;
  return vec4(uintBitsToFloat(w_words[o]), uintBitsToFloat(w_words[o + 1u]), uintBitsToFloat(w_words[o + 2u]),
              uintBitsToFloat(w_words[o + 3u]));
}
#elif defined(WTYPE_F16)
// Rows of a multiple of 4 halves are whole words (8-byte aligned): plain word reads.
vec4 dequant4(uint rb, uint i) {
  uint o = (rb >> 2) + (i >> 1);
  return vec4(unpackHalf2x16(w_words[o]), unpackHalf2x16(w_words[o + 1u]));
}
#elif defined(WTYPE_BF16)
vec4 dequant4(uint rb, uint i) {
  uint o = (rb >> 2) + (i >> 1);
  uint a = w_words[o], b = w_words[o + 1u];
  return vec4(bf16_to_float(a & 0xffffu), bf16_to_float(a >> 16), bf16_to_float(b & 0xffffu), bf16_to_float(b >> 16));
}
#elif defined(WTYPE_Q8_0)
vec4 dequant4(uint rb, uint i) {
  uint bo = rb + (i >> 5) * 34u;
  float d = half_to_float(w_u16(bo));
  return sbytes4(w_u32(bo + 2u + (i & 31u))) * d;
}
#elif defined(WTYPE_Q4_0)
vec4 dequant4(uint rb, uint i) {
  uint bo = rb + (i >> 5) * 18u;
  uint j = i & 31u;
  float d = half_to_float(w_u16(bo));
  uint q = w_u32(bo + 2u + (j & 15u));
  if (j >= 16u) q >>= 4;
  return (bytes4(q & 0x0f0f0f0fu) - 8.0) * d;
}
#elif defined(WTYPE_Q4_1)
vec4 dequant4(uint rb, uint i) {
  uint bo = rb + (i >> 5) * 20u;
  uint j = i & 31u;
  float d = half_to_float(w_u16(bo));
  float m = half_to_float(w_u16(bo + 2u));
  uint q = w_u32(bo + 4u + (j & 15u));
  if (j >= 16u) q >>= 4;
  return bytes4(q & 0x0f0f0f0fu) * d + m;
}
#elif defined(WTYPE_Q5_0) || defined(WTYPE_Q5_1)
#if defined(WTYPE_Q5_0)
const uint kBlockBytes = 22u;
const uint kQhOff = 2u;
#else
const uint kBlockBytes = 24u;
const uint kQhOff = 4u;
#endif
vec4 dequant4(uint rb, uint i) {
  uint bo = rb + (i >> 5) * kBlockBytes;
  uint j = i & 31u;
  float d = half_to_float(w_u16(bo));
  uint qh = w_u32(bo + kQhOff) >> j;  // bit 4 of element j is bit j of qh
  uint q = w_u32(bo + kQhOff + 4u + (j & 15u));
  if (j >= 16u) q >>= 4;
  q &= 0x0f0f0f0fu;
  q |= ((qh & 1u) << 4) | (((qh >> 1) & 1u) << 12) | (((qh >> 2) & 1u) << 20) | (((qh >> 3) & 1u) << 28);
#if defined(WTYPE_Q5_0)
  return (bytes4(q) - 16.0) * d;
#else
  return bytes4(q) * d + half_to_float(w_u16(bo + 2u));
#endif
}
#elif defined(WTYPE_Q2_K) || defined(WTYPE_Q3_K) || defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K) || defined(WTYPE_Q6_K)
// k-quants: 256-element super-blocks; 4 consecutive elements always share a
// group (16 or 32 elements), so one scale (and min) serves the vec4.
// Per byte of a little-endian word q: (byte >> shift) & mask.
vec4 fields4(uint q, uint shift, uint mask) { return bytes4((q >> shift) & (mask * 0x01010101u)); }
#if defined(WTYPE_Q4_K) || defined(WTYPE_Q5_K)
// 6-bit scale and min of group j (blocks.h, kscale6_q4); s: byte offset of scales[12].
uvec2 kscale6_q4(uint s, uint j) {
  if (j < 4u) return uvec2(w_u8(s + j) & 63u, w_u8(s + j + 4u) & 63u);
  return uvec2((w_u8(s + j + 4u) & 15u) | ((w_u8(s + j - 4u) >> 6) << 4),
               (w_u8(s + j + 4u) >> 4) | ((w_u8(s + j) >> 6) << 4));
}
#endif
#if defined(WTYPE_Q2_K)
vec4 dequant4(uint rb, uint i) {
  const uint bo = rb + (i >> 8) * 84u, e = i & 255u;
  const uint half_i = e >> 7, j = (e & 127u) >> 5, l = e & 31u;
  const uint sc = w_u8(bo + (e >> 4));
  const float d = half_to_float(w_u16(bo + 80u)), dmin = half_to_float(w_u16(bo + 82u));
  const float dl = d * float(sc & 15u), ml = dmin * float(sc >> 4);
  return dl * fields4(w_u32(bo + 16u + 32u * half_i + l), 2u * j, 3u) - ml;
}
#elif defined(WTYPE_Q3_K)
vec4 dequant4(uint rb, uint i) {
  const uint bo = rb + (i >> 8) * 110u, e = i & 255u;
  const uint half_i = e >> 7, j = (e & 127u) >> 5, l = e & 31u, g = e >> 4;
  const uint low = g < 8u ? (w_u8(bo + 96u + g) & 15u) : (w_u8(bo + 96u + g - 8u) >> 4);
  const uint high = (w_u8(bo + 96u + 8u + (g & 3u)) >> (2u * (g >> 2))) & 3u;
  const float dl = half_to_float(w_u16(bo + 108u)) * float(int(low | (high << 4)) - 32);
  const vec4 q = fields4(w_u32(bo + 32u + 32u * half_i + l), 2u * j, 3u);
  const vec4 h = fields4(w_u32(bo + l), 4u * half_i + j, 1u);
  return dl * (q - 4.0 * (1.0 - h));
}
#elif defined(WTYPE_Q4_K)
vec4 dequant4(uint rb, uint i) {
  const uint bo = rb + (i >> 8) * 144u, e = i & 255u;
  const uint c = e >> 6, l = e & 63u;
  const uvec2 sm = kscale6_q4(bo + 4u, 2u * c + (l >> 5));
  const float dl = half_to_float(w_u16(bo)) * float(sm.x), ml = half_to_float(w_u16(bo + 2u)) * float(sm.y);
  return dl * fields4(w_u32(bo + 16u + 32u * c + (l & 31u)), 4u * (l >> 5), 15u) - ml;
}
#elif defined(WTYPE_Q5_K)
vec4 dequant4(uint rb, uint i) {
  const uint bo = rb + (i >> 8) * 176u, e = i & 255u;
  const uint c = e >> 6, l = e & 63u, hi = l >> 5;
  const uvec2 sm = kscale6_q4(bo + 4u, 2u * c + hi);
  const float dl = half_to_float(w_u16(bo)) * float(sm.x), ml = half_to_float(w_u16(bo + 2u)) * float(sm.y);
  const vec4 q = fields4(w_u32(bo + 48u + 32u * c + (l & 31u)), 4u * hi, 15u) +
                 16.0 * fields4(w_u32(bo + 16u + (l & 31u)), 2u * c + hi, 1u);
  return dl * q - ml;
}
#elif defined(WTYPE_Q6_K)
vec4 dequant4(uint rb, uint i) {
  const uint bo = rb + (i >> 8) * 210u, e = i & 255u;
  const uint half_i = e >> 7, k = (e & 127u) >> 5, l = e & 31u;
  const float sc = sign_extend8(w_u8(bo + 192u + 8u * half_i + (l >> 4) + 2u * k));
  const float ds = half_to_float(w_u16(bo + 208u)) * sc;
  const vec4 lo = fields4(w_u32(bo + 64u * half_i + l + 32u * (k & 1u)), 4u * (k >> 1), 15u);
  const vec4 hi = fields4(w_u32(bo + 128u + 32u * half_i + l), 2u * k, 3u);
  return ds * (lo + 16.0 * hi - 32.0);
}
#endif
#else
#error "no weight type defined"
#endif
