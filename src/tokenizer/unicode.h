// UTF-8 and Unicode helpers shared by the tokenizers.
//
// Every function accepts arbitrary bytes: malformed UTF-8 (stray continuation
// bytes, overlong forms, surrogates, code points above U+10FFFF, truncated
// sequences) is reported, never read past the end of the input.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace laneway::unicode {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// One decoded character. `valid` is false for a malformed sequence, which
// then counts as a single byte (len 1, cp U+FFFD) so callers always advance.
struct Utf8Char {
  uint32_t cp = kReplacementChar;
  uint32_t len = 1;
  bool valid = false;
};

// Decodes the character starting at byte `pos` of `s` (pos < s.size()).
Utf8Char utf8_decode(std::string_view s, size_t pos);

// Byte length of the character at `pos`: its sequence length when well
// formed, else 1.
inline size_t utf8_char_length(std::string_view s, size_t pos) { return utf8_decode(s, pos).len; }

// Appends the UTF-8 encoding of `cp` (cp must be a Unicode scalar value).
void utf8_append(std::string& out, uint32_t cp);

// How many bytes at the end of `s` form the beginning of a well-formed
// sequence that more bytes could still complete (0 to 3). Streaming output
// holds those bytes back instead of emitting half a character.
size_t utf8_incomplete_tail_length(std::string_view s);

// `s` with every malformed sequence replaced by U+FFFD (one per byte).
std::string utf8_sanitize(std::string_view s);

// The GPT-2 byte-level alphabet: each byte maps to a printable code point
// (bytes that are printable Latin-1 map to themselves, the others to
// U+0100 and up, in byte order), so any byte string becomes a string of
// printable characters that BPE vocabularies store.
const std::array<uint32_t, 256>& byte_level_code_points();
// The inverse: the byte for a code point of that alphabet, or -1.
int byte_level_byte(uint32_t cp);

// Unicode general category helpers backed by utf8proc.
bool is_letter(uint32_t cp);
// The major general category: 'L', 'M', 'N', 'P', 'S', 'Z' or 'C' (utf8proc's Unicode version).
char major_category(uint32_t cp);
bool is_mark_nonspacing(uint32_t cp);     // Mn
bool is_punctuation(uint32_t cp);         // P*
bool is_other_category(uint32_t cp);      // C* (control, format, unassigned, private use, surrogate)
bool is_white_space(uint32_t cp);         // the Unicode White_Space property
bool is_cjk_ideograph(uint32_t cp);       // the CJK blocks BERT surrounds with spaces
uint32_t to_lower(uint32_t cp);
// Canonical decomposition (NFD) of one code point; writes up to `cap` code
// points to `out` and returns how many there are (the first `cap` only when
// more).
size_t decompose_nfd(uint32_t cp, uint32_t* out, size_t cap);

}  // namespace laneway::unicode
