// A corpus of deliberately broken GGUF files: each failure class must give
// a corrupt/unsupported Status naming the problem (and where it is), never a
// crash. Run under the asan preset in CI.
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "gguf_builder.h"

namespace laneway {
namespace {

using test::RawGguf;

struct BrokenCase {
  std::string name;
  std::vector<uint8_t> bytes;
  std::vector<std::string> expected;  // substrings of the message
};

// A small valid model-like file, used as the base for truncations and flips.
std::vector<uint8_t> valid_file() {
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_u32("llama.block_count", 2);
  std::vector<std::string> toks = {"<unk>", "<s>", "</s>", "hello"};
  w.add_string_array("tokenizer.ggml.tokens", toks);
  std::vector<float> scores = {0, 0, 0, -1};
  w.add_array<float>("tokenizer.ggml.scores", scores);
  using V = GgufWriteValue;
  w.add_value("test.nested", V::array(GgufValueType::array, {V::array(GgufValueType::i16, {V::i16(-3)})}));
  static std::vector<uint8_t> f32(4 * 32 * 2, 0x3f);
  static std::vector<uint8_t> q(18 * 4, 0x22);
  EXPECT_TRUE(w.add_tensor("a.weight", GgmlType::f32, {32, 2}, f32).is_ok());
  EXPECT_TRUE(w.add_tensor("b.weight", GgmlType::q4_0, {64, 2}, q).is_ok());
  return w.write_bytes();
}

std::vector<BrokenCase> broken_cases() {
  std::vector<BrokenCase> c;
  auto add = [&](std::string name, RawGguf r, std::vector<std::string> expected) {
    c.push_back({std::move(name), std::move(r.bytes), std::move(expected)});
  };
  add("empty", RawGguf{}, {"too small"});
  add("bad_magic", RawGguf{}.u32(0x46554746).u32(3).u64(0).u64(0), {"not a GGUF file", "byte 0"});
  add("version_1", RawGguf{}.header(1, 0, 0), {"version 1"});
  add("version_4", RawGguf{}.header(4, 0, 0), {"version 4", "byte 4"});
  add("big_endian", RawGguf{}.u32(0x46554747).u32(0x03000000).u64(0).u64(0), {"big-endian"});
  add("truncated_counts", RawGguf{}.u32(0x46554747).u32(3).u32(0), {"tensor count", "truncated"});
  add("kv_count_too_large", RawGguf{}.header(3, 0, 1ull << 40), {"metadata count", "byte 16"});
  add("tensor_count_too_large", RawGguf{}.header(3, 1ull << 50, 0), {"tensor count", "byte 8"});
  add("key_length_past_eof", RawGguf{}.header(3, 0, 1).u64(1000).zeros(8), {"key of metadata entry 0", "length 1000"});
  add("empty_key", RawGguf{}.header(3, 0, 1).str("").u32(4).u32(1), {"empty key", "byte 24"});
  add("unknown_value_type", RawGguf{}.header(3, 0, 1).str("k").u32(13).u32(0), {"unknown value type 13", "key k"});
  add("string_past_eof", RawGguf{}.header(3, 0, 1).str("k").u32(8).u64(99).zeros(4), {"string value of key k", "length 99"});
  add("scalar_past_eof", RawGguf{}.header(3, 0, 1).str("k").u32(10).u32(0), {"u64 value of key k"});
  add("array_count_too_large", RawGguf{}.header(3, 0, 1).str("k").u32(9).u32(6).u64(1ull << 61).zeros(8),
      {"key k", "array of 2305843009213693952 f32"});
  add("array_of_strings_past_eof", RawGguf{}.header(3, 0, 1).str("k").u32(9).u32(8).u64(2).str("a").u64(99).zeros(2),
      {"string value of key k"});
  add("unknown_array_type", RawGguf{}.header(3, 0, 1).str("k").u32(9).u32(77).u64(0), {"unknown array element type 77"});
  {
    RawGguf r;
    r.header(3, 0, 1).str("deep").u32(9);
    for (int i = 0; i < 20; ++i) r.u32(9).u64(1);
    r.u32(4).u64(0);
    add("arrays_nested_too_deep", r, {"nested deeper"});
  }
  add("duplicate_key", RawGguf{}.header(3, 0, 2).kv_u32("a.b", 1).kv_u32("a.b", 2), {"duplicate metadata key a.b"});
  add("alignment_not_power_of_two", RawGguf{}.header(3, 0, 1).kv_u32("general.alignment", 48), {"48", "power of two"});
  add("alignment_zero", RawGguf{}.header(3, 0, 1).kv_u32("general.alignment", 0), {"power of two"});
  add("alignment_wrong_type", RawGguf{}.header(3, 0, 1).str("general.alignment").u32(8).str("32"),
      {"general.alignment has type string"});
  add("tensor_name_past_eof", RawGguf{}.header(3, 1, 0).u64(500).zeros(40), {"name of tensor 0"});
  add("tensor_zero_dims", RawGguf{}.header(3, 1, 0).tensor("t", {}, 0, 0).zeros(40), {"tensor t has 0 dimensions"});
  add("tensor_five_dims", RawGguf{}.header(3, 1, 0).tensor("t", {1, 1, 1, 1, 1}, 0, 0).zeros(40),
      {"tensor t has 5 dimensions"});
  add("dims_overflow", RawGguf{}.header(3, 1, 0).tensor("t", {1ull << 32, 1ull << 32}, 0, 0).zeros(32),
      {"tensor t", "overflows"});
  add("dim_beyond_int64", RawGguf{}.header(3, 1, 0).tensor("t", {1ull << 63}, 0, 0).zeros(32), {"signed 64-bit"});
  add("unknown_ggml_type", RawGguf{}.header(3, 1, 0).tensor("t", {4}, 4, 0).zeros(64), {"unknown ggml type id 4"});
  add("unknown_ggml_type_large", RawGguf{}.header(3, 1, 0).tensor("t", {4}, 1000, 0).zeros(64),
      {"unknown ggml type id 1000"});
  add("row_not_whole_blocks", RawGguf{}.header(3, 1, 0).tensor("t", {33, 2}, 2, 0).zeros(128),
      {"tensor t", "Q4_0", "row length 33", "32-element block"});
  add("k_quant_row_not_whole_blocks", RawGguf{}.header(3, 1, 0).tensor("t", {128}, 12, 0).zeros(256),
      {"row length 128", "256-element block"});
  add("misaligned_offset", RawGguf{}.header(3, 1, 0).tensor("t", {4}, 0, 4).pad_to(32).zeros(64),
      {"tensor t data offset 4", "alignment 32"});
  add("data_past_eof", RawGguf{}.header(3, 1, 0).tensor("t", {1024}, 0, 0).pad_to(32).zeros(100),
      {"tensor t", "past the end of the file", "truncated"});
  add("data_offset_far_past_eof", RawGguf{}.header(3, 1, 0).tensor("t", {4}, 0, 1ull << 40).pad_to(32).zeros(16),
      {"tensor t", "past the end of the file"});
  add("overlapping_tensors",
      RawGguf{}.header(3, 2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad_to(32).zeros(128),
      {"tensor a", "overlaps tensor b"});
  add("duplicate_tensor_names",
      RawGguf{}.header(3, 2, 0).tensor("w", {8}, 0, 0).tensor("w", {8}, 0, 32).pad_to(32).zeros(64),
      {"duplicate tensor name w"});
  add("data_section_past_eof", RawGguf{}.header(3, 1, 0).tensor("t", {8}, 0, 0), {"past the end"});
  return c;
}

TEST(GgufCorrupt, EveryFailureClassIsReportedClearly) {
  const auto cases = broken_cases();
  ASSERT_GE(cases.size(), 25u);
  for (const auto& bc : cases) {
    SCOPED_TRACE(bc.name);
    auto f = GgufFile::parse(bc.bytes, bc.name + ".gguf");
    ASSERT_FALSE(f.is_ok()) << bc.name << " parsed without error";
    const Status st = f.status();
    EXPECT_TRUE(st.code() == StatusCode::corrupt || st.code() == StatusCode::unsupported) << st.to_string();
    for (const auto& e : bc.expected) {
      EXPECT_NE(st.message().find(e), std::string::npos) << "message: " << st.message() << "\nmissing: " << e;
    }
  }
}

TEST(GgufCorrupt, ValidBaseParses) {
  const auto bytes = valid_file();
  auto f = GgufFile::parse(bytes, "valid.gguf");
  ASSERT_TRUE(f.is_ok()) << f.status().to_string();
  EXPECT_EQ(f->tensors().size(), 2u);
}

TEST(GgufCorrupt, EveryTruncationFailsCleanly) {
  const auto bytes = valid_file();
  // Cutting only the padding after the last tensor leaves a valid file.
  auto whole = GgufFile::parse(bytes, "valid.gguf");
  ASSERT_TRUE(whole.is_ok());
  const auto& last = whole->tensors().back();
  const size_t needed = last.file_offset + last.size_bytes;
  ASSERT_LT(needed, bytes.size());
  for (size_t n = 0; n < needed; ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    auto f = GgufFile::parse(cut, "cut.gguf");
    EXPECT_FALSE(f.is_ok()) << "truncated to " << n << " of " << bytes.size() << " bytes parsed";
  }
}

TEST(GgufCorrupt, RandomBitFlipsNeverCrash) {
  const auto bytes = valid_file();
  std::mt19937_64 rng(1234);
  size_t rejected = 0;
  constexpr int kTrials = 3000;
  for (int trial = 0; trial < kTrials; ++trial) {
    auto copy = bytes;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      // Bias towards the header, where the structure is.
      const size_t limit = (rng() % 4 == 0) ? copy.size() : std::min<size_t>(copy.size(), 400);
      copy[rng() % limit] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    auto f = GgufFile::parse(copy, "flip.gguf");
    if (!f.is_ok()) {
      ++rejected;
      EXPECT_FALSE(f.status().message().empty());
    } else {
      // Whatever parsed must be internally consistent.
      for (const auto& t : f->tensors()) {
        EXPECT_LE(t.file_offset + t.size_bytes, copy.size());
        EXPECT_EQ(f->tensor_data(t).size(), t.size_bytes);
      }
      for (const auto& kv : f->metadata()) (void)kv.value.to_display_string();
    }
  }
  EXPECT_GT(rejected, static_cast<size_t>(kTrials / 10));  // flips in the header must be caught
}

}  // namespace
}  // namespace laneway
