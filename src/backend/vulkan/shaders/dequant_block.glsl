// decode_block(rb, b, w): elements 4*kBlockVecs*b .. 4*kBlockVecs*(b+1)-1 of
// the row starting at byte rb of w_words, as kBlockVecs vec4s. The values
// equal dequant4's (same arithmetic); the block types read their scale and
// quants once per block instead of once per vec4. Types without a block
// decoder here go through dequant4 one vec4 at a time.

#if defined(WTYPE_Q4_0) || defined(WTYPE_Q8_0)
// Blocks are a half-word scale then the quants; they start at any even
// byte, so the words are read aligned and shifted by a half-word when the
// block starts mid-word. w: the kWords+1 words from the one holding byte bo.
#if defined(WTYPE_Q4_0)
const uint kBlockVecs = 8u;
const uint kBlockBytes = 18u;
const uint kQuantWords = 4u;
#else
const uint kBlockVecs = 8u;
const uint kBlockBytes = 34u;
const uint kQuantWords = 8u;
#endif
void decode_block(uint rb, uint b, out vec4 w[kBlockVecs]) {
  const uint bo = rb + b * kBlockBytes;
  const uint base = bo >> 2;
  const bool mid = (bo & 2u) != 0u;  // the scale is the high half of the first word
  uint words[kQuantWords + 1u];
  [[unroll]] for (uint j = 0u; j <= kQuantWords; ++j) words[j] = w_words[base + j];
  const float d = half_to_float(mid ? words[0] >> 16 : words[0]);
  uint q[kQuantWords];  // the quant bytes, 4 per word
  [[unroll]] for (uint j = 0u; j < kQuantWords; ++j) q[j] = mid ? words[j + 1u] : (words[j] >> 16) | (words[j + 1u] << 16);
#if defined(WTYPE_Q4_0)
  [[unroll]] for (uint j = 0u; j < 4u; ++j) {
    w[j] = (bytes4(q[j] & 0x0f0f0f0fu) - 8.0) * d;
    w[j + 4u] = (bytes4((q[j] >> 4) & 0x0f0f0f0fu) - 8.0) * d;
  }
#else
  [[unroll]] for (uint j = 0u; j < 8u; ++j) w[j] = sbytes4(q[j]) * d;
#endif
}
#else
const uint kBlockVecs = 1u;
void decode_block(uint rb, uint b, out vec4 w[kBlockVecs]) { w[0] = dequant4(rb, 4u * b); }
#endif
