#include "gguf/types.h"

#include <array>
#include <cctype>
#include <limits>

namespace laneway {
namespace {

constexpr std::array<GgmlTypeTraits, 32> kTypes = {{
    {GgmlType::f32, "F32", 1, 4, false},
    {GgmlType::f16, "F16", 1, 2, false},
    {GgmlType::q4_0, "Q4_0", 32, 18, true},
    {GgmlType::q4_1, "Q4_1", 32, 20, true},
    {GgmlType::q5_0, "Q5_0", 32, 22, true},
    {GgmlType::q5_1, "Q5_1", 32, 24, true},
    {GgmlType::q8_0, "Q8_0", 32, 34, true},
    {GgmlType::q8_1, "Q8_1", 32, 36, true},
    {GgmlType::q2_k, "Q2_K", kQK_K, 84, true},
    {GgmlType::q3_k, "Q3_K", kQK_K, 110, true},
    {GgmlType::q4_k, "Q4_K", kQK_K, 144, true},
    {GgmlType::q5_k, "Q5_K", kQK_K, 176, true},
    {GgmlType::q6_k, "Q6_K", kQK_K, 210, true},
    {GgmlType::q8_k, "Q8_K", kQK_K, 292, true},
    {GgmlType::iq2_xxs, "IQ2_XXS", kQK_K, 66, true},
    {GgmlType::iq2_xs, "IQ2_XS", kQK_K, 74, true},
    {GgmlType::iq3_xxs, "IQ3_XXS", kQK_K, 98, true},
    {GgmlType::iq1_s, "IQ1_S", kQK_K, 50, true},
    {GgmlType::iq4_nl, "IQ4_NL", 32, 18, true},
    {GgmlType::iq3_s, "IQ3_S", kQK_K, 110, true},
    {GgmlType::iq2_s, "IQ2_S", kQK_K, 82, true},
    {GgmlType::iq4_xs, "IQ4_XS", kQK_K, 136, true},
    {GgmlType::i8, "I8", 1, 1, false},
    {GgmlType::i16, "I16", 1, 2, false},
    {GgmlType::i32, "I32", 1, 4, false},
    {GgmlType::i64, "I64", 1, 8, false},
    {GgmlType::f64, "F64", 1, 8, false},
    {GgmlType::iq1_m, "IQ1_M", kQK_K, 56, true},
    {GgmlType::bf16, "BF16", 1, 2, false},
    {GgmlType::tq1_0, "TQ1_0", kQK_K, 54, true},
    {GgmlType::tq2_0, "TQ2_0", kQK_K, 66, true},
    {GgmlType::mxfp4, "MXFP4", 32, 17, true},
}};

}  // namespace

std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type_id) {
  for (const auto& t : kTypes) {
    if (static_cast<uint32_t>(t.type) == type_id) return t;
  }
  return std::nullopt;
}

const GgmlTypeTraits& ggml_type_traits(GgmlType type) {
  for (const auto& t : kTypes) {
    if (t.type == type) return t;
  }
  assert(false && "GgmlType value outside the table");
  return kTypes[0];
}

std::string_view ggml_type_name(GgmlType type) { return ggml_type_traits(type).name; }

std::optional<GgmlType> ggml_type_from_name(std::string_view name) {
  for (const auto& t : kTypes) {
    if (t.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) {
      same = std::toupper(static_cast<unsigned char>(name[i])) == t.name[i];
    }
    if (same) return t.type;
  }
  return std::nullopt;
}

Result<uint64_t> ggml_row_bytes(GgmlType type, uint64_t n_elements) {
  const auto& t = ggml_type_traits(type);
  if (n_elements % t.block_size != 0) {
    return corrupt_error("a row of {} elements is not a whole number of {} blocks ({} elements each)",
                         n_elements, t.name, t.block_size);
  }
  const uint64_t blocks = n_elements / t.block_size;
  if (blocks > std::numeric_limits<uint64_t>::max() / t.type_size) {
    return corrupt_error("a row of {} {} elements overflows 64-bit byte counts", n_elements, t.name);
  }
  return blocks * t.type_size;
}

}  // namespace laneway
