// Helpers shared by the compute shaders. Sizes come as push constants;
// large grids are 2-D (x up to 65535 groups) and flattened here.

uint flat_group_id() { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }
uint total_groups() { return gl_NumWorkGroups.x * gl_NumWorkGroups.y; }

float half_to_float(uint h) { return unpackHalf2x16(h).x; }
float bf16_to_float(uint h) { return uintBitsToFloat(h << 16); }
float sign_extend8(uint b) { return float(bitfieldExtract(int(b), 0, 8)); }

// Byte, half-word and word reads at a byte offset of a uint[] buffer
// (blocks are packed, so fields sit at any even offset). WORDS names the buffer array.
#define DEFINE_BYTE_READS(PREFIX, WORDS)                                             \
  uint PREFIX##_u8(uint off) { return (WORDS[off >> 2] >> ((off & 3u) << 3)) & 0xffu; } \
  uint PREFIX##_u16(uint off) { return (WORDS[off >> 2] >> ((off & 2u) << 3)) & 0xffffu; } \
  uint PREFIX##_u32(uint off) {                                                      \
    uint s = (off & 3u) << 3;                                                        \
    uint lo = WORDS[off >> 2];                                                       \
    return s == 0u ? lo : (lo >> s) | (WORDS[(off >> 2) + 1u] << (32u - s));        \
  }

vec4 bytes4(uint q) { return vec4(float(q & 0xffu), float((q >> 8) & 0xffu), float((q >> 16) & 0xffu), float(q >> 24)); }
vec4 sbytes4(uint q) {
  return vec4(sign_extend8(q & 0xffu), sign_extend8((q >> 8) & 0xffu), sign_extend8((q >> 16) & 0xffu),
              sign_extend8(q >> 24));
}

// tanh without the overflow of exp(2x) for large |x| (some drivers compute
// tanh as a quotient of exponentials): beyond |x| = 10 tanh is 1 in f32.
float stable_tanh(float x) { return tanh(clamp(x, -10.0, 10.0)); }
