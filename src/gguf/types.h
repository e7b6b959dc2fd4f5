// The ggml tensor type table: every type id that appears in GGUF files.
//
// A type is stored in blocks of `block_size` elements taking `type_size`
// bytes. The table covers types the engine cannot run yet (IQ*, TQ*, ...)
// so that inspect and plan understand any file; an id nobody knows is an
// error. Ids 4, 5 and 31-33, 36-38 were used by formats since removed.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/status.h"

namespace laneway {

enum class GgmlType : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq2_xxs = 16,
  iq2_xs = 17,
  iq3_xxs = 18,
  iq1_s = 19,
  iq4_nl = 20,
  iq3_s = 21,
  iq2_s = 22,
  iq4_xs = 23,
  i8 = 24,
  i16 = 25,
  i32 = 26,
  i64 = 27,
  f64 = 28,
  iq1_m = 29,
  bf16 = 30,
  tq1_0 = 34,
  tq2_0 = 35,
  mxfp4 = 39,
};

struct GgmlTypeTraits {
  GgmlType type;
  std::string_view name;  // as llama.cpp prints it: "F32", "Q4_K", ...
  uint32_t block_size;    // elements per block
  uint32_t type_size;     // bytes per block
  bool quantized;
};

// Elements per block for the k-quants (QK_K).
inline constexpr uint32_t kQK_K = 256;

// Traits of a known type id; nullopt for ids no known format uses.
std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type_id);
// Traits of a valid enum value (asserts that it is one).
const GgmlTypeTraits& ggml_type_traits(GgmlType type);

std::string_view ggml_type_name(GgmlType type);
// Parses "Q4_K", "q8_0", "F16", ... (case-insensitive).
std::optional<GgmlType> ggml_type_from_name(std::string_view name);

// Bytes of a row of `n_elements` elements; an error when the row is not a
// whole number of blocks or the size overflows.
Result<uint64_t> ggml_row_bytes(GgmlType type, uint64_t n_elements);

}  // namespace laneway
