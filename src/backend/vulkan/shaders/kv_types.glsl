// KV cache element types (GgmlType ids) and their element decoders.
const uint KV_F16 = 1u;
const uint KV_Q4_0 = 2u;
const uint KV_Q8_0 = 8u;

// Element e of a row (or head) starting at byte `base` of the buffer whose
// byte reads were defined with PREFIX.
#define DEFINE_KV_LOAD(PREFIX)                                              \
  float PREFIX##_element(uint type, uint base, uint e) {                    \
    if (type == KV_F16) return half_to_float(PREFIX##_u16(base + 2u * e));  \
    if (type == KV_Q8_0) {                                                  \
      uint bo = base + (e >> 5) * 34u;                                      \
      return sign_extend8(PREFIX##_u8(bo + 2u + (e & 31u))) * half_to_float(PREFIX##_u16(bo)); \
    }                                                                       \
    uint bo = base + (e >> 5) * 18u;                                        \
    uint j = e & 31u;                                                       \
    uint q = PREFIX##_u8(bo + 2u + (j & 15u));                              \
    q = j < 16u ? (q & 15u) : (q >> 4);                                     \
    return (float(q) - 8.0) * half_to_float(PREFIX##_u16(bo));              \
  }
