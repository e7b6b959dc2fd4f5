// Round trips through GgufWriter -> GgufFile::parse, and the typed accessors.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "gguf/writer.h"

namespace laneway {
namespace {

GgufFile parse_ok(const std::vector<uint8_t>& bytes) {
  auto f = GgufFile::parse(bytes, "test.gguf");
  EXPECT_TRUE(f.is_ok()) << f.status().to_string();
  return std::move(f).value();
}

TEST(GgufReader, EveryScalarTypeRoundTrips) {
  GgufWriter w;
  w.add_u8("k.u8", 200);
  w.add_i8("k.i8", -100);
  w.add_u16("k.u16", 60000);
  w.add_i16("k.i16", -30000);
  w.add_u32("k.u32", 4000000000u);
  w.add_i32("k.i32", -2000000000);
  w.add_u64("k.u64", 1ull << 40);
  w.add_i64("k.i64", -(1ll << 40));
  w.add_f32("k.f32", 1.5f);
  w.add_f64("k.f64", -2.25);
  w.add_bool("k.bool", true);
  w.add_string("k.str", "héllo\nworld");
  const auto bytes = w.write_bytes();
  GgufFile f = parse_ok(bytes);

  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.metadata().size(), 12u);
  EXPECT_EQ(f.metadata()[0].key, "k.u8");  // file order is kept
  EXPECT_EQ(*f.get_u32("k.u8"), 200u);
  EXPECT_EQ(*f.get_i64("k.i8"), -100);
  EXPECT_EQ(*f.get_u32("k.u16"), 60000u);
  EXPECT_EQ(*f.get_i64("k.i16"), -30000);
  EXPECT_EQ(*f.get_u32("k.u32"), 4000000000u);
  EXPECT_EQ(*f.get_i64("k.i32"), -2000000000);
  EXPECT_EQ(*f.get_u64("k.u64"), 1ull << 40);
  EXPECT_EQ(*f.get_i64("k.i64"), -(1ll << 40));
  EXPECT_EQ(*f.get_f32("k.f32"), 1.5f);
  EXPECT_EQ(*f.get_f32("k.f64"), -2.25f);
  EXPECT_TRUE(*f.get_bool("k.bool"));
  EXPECT_EQ(*f.get_string("k.str"), "héllo\nworld");
  EXPECT_EQ(f.find("k.i8")->type(), GgufValueType::i8);
}

TEST(GgufReader, AccessorsRefuseWrongTypesAndMissingKeys) {
  GgufWriter w;
  w.add_i32("neg", -1);
  w.add_u64("big", 1ull << 33);
  w.add_string("s", "x");
  const auto bytes = w.write_bytes();
  GgufFile f = parse_ok(bytes);

  auto missing = f.get_u32("nope");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::not_found);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);

  auto neg = f.get_u32("neg");
  ASSERT_FALSE(neg.is_ok());
  EXPECT_NE(neg.status().message().find("i32"), std::string::npos);

  auto big = f.get_u32("big");
  ASSERT_FALSE(big.is_ok());
  EXPECT_NE(big.status().message().find("32 bits"), std::string::npos);
  EXPECT_EQ(*f.get_u64("big"), 1ull << 33);

  EXPECT_FALSE(f.get_f32("s").is_ok());
  EXPECT_FALSE(f.get_string("neg").is_ok());
  EXPECT_EQ(*f.get_u32_or("nope", 7), 7u);
  EXPECT_FALSE(f.get_u32_or("s", 7).is_ok());  // present with a wrong type is still an error
}

TEST(GgufReader, NumericAndStringArraysAreViews) {
  GgufWriter w;
  std::vector<float> scores = {0.5f, -1.0f, 3.25f};
  std::vector<int32_t> types = {1, 2, 3, 6};
  std::vector<std::string> tokens = {"<unk>", "", "▁hello", std::string("a\0b", 3)};
  w.add_array<float>("scores", scores);
  w.add_array<int32_t>("types", types);
  w.add_string_array("tokens", tokens);
  const auto bytes = w.write_bytes();
  GgufFile f = parse_ok(bytes);

  auto s = f.get_array<float>("scores");
  ASSERT_TRUE(s.is_ok());
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[2], 3.25f);
  // The view points into the buffer: no copy.
  EXPECT_GE(s->raw(), bytes.data());
  EXPECT_LT(s->raw(), bytes.data() + bytes.size());
  EXPECT_EQ(s->to_vector(), scores);

  auto t = f.get_array<int32_t>("types");
  ASSERT_TRUE(t.is_ok());
  std::vector<int32_t> got(t->begin(), t->end());
  EXPECT_EQ(got, types);
  EXPECT_FALSE(f.get_array<uint32_t>("types").is_ok());  // element type must match

  auto tok = f.get_string_array("tokens");
  ASSERT_TRUE(tok.is_ok());
  auto v = tok->to_vector();
  ASSERT_EQ(v.size(), 4u);
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], tokens[i]);
  size_t n = 0;
  for (std::string_view piece : *tok) EXPECT_EQ(piece, tokens[n++]);
  EXPECT_EQ(n, 4u);
}

TEST(GgufReader, NestedArrays) {
  GgufWriter w;
  using V = GgufWriteValue;
  w.add_value("nested", V::array(GgufValueType::array,
                                 {V::array(GgufValueType::u32, {V::u32(1), V::u32(2)}),
                                  V::array(GgufValueType::string, {V::string("a"), V::string("bc")}),
                                  V::array(GgufValueType::u32, {})}));
  const auto bytes = w.write_bytes();
  GgufFile f = parse_ok(bytes);
  const GgufValue* v = f.find("nested");
  ASSERT_NE(v, nullptr);
  ASSERT_TRUE(v->is_array());
  EXPECT_EQ(v->array_type(), GgufValueType::array);
  ASSERT_EQ(v->array_size(), 3u);
  auto first = v->array_at(0).as_array<uint32_t>();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ((*first)[1], 2u);
  auto second = v->array_at(1).as_string_array();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->to_vector()[1], "bc");
  EXPECT_EQ(v->array_at(2).array_size(), 0u);
  EXPECT_EQ(v->to_display_string(), "[[1, 2], [\"a\", \"bc\"], []]");
}

TEST(GgufReader, TensorsAlignmentAndData) {
  for (uint32_t alignment : {32u, 64u, 1u}) {
    GgufWriter w;
    if (alignment != 32) w.set_alignment(alignment);
    std::vector<float> a(8 * 3);
    for (size_t i = 0; i < a.size(); ++i) a[i] = float(i);
    std::vector<uint8_t> q(18 * 2, 0x11);  // two Q4_0 blocks
    ASSERT_TRUE(w.add_tensor("a", GgmlType::f32, {8, 3},
                             std::span(reinterpret_cast<const uint8_t*>(a.data()), a.size() * 4)).is_ok());
    ASSERT_TRUE(w.add_tensor("q", GgmlType::q4_0, {64}, q).is_ok());
    ASSERT_TRUE(w.add_tensor("gen", GgmlType::i8, {5, 4}, [](uint64_t row, uint64_t n, std::span<uint8_t> out) {
                   for (uint64_t r = 0; r < n; ++r)
                     for (int c = 0; c < 5; ++c) out[r * 5 + c] = uint8_t((row + r) * 10 + c);
                 }).is_ok());
    const auto bytes = w.write_bytes();
    GgufFile f = parse_ok(bytes);
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.data_offset() % alignment, 0u);
    ASSERT_EQ(f.tensors().size(), 3u);
    const GgufTensorInfo* ta = f.find_tensor("a");
    ASSERT_NE(ta, nullptr);
    EXPECT_EQ(ta->n_dims, 2u);
    EXPECT_EQ(ta->ne[0], 8u);
    EXPECT_EQ(ta->ne[1], 3u);
    EXPECT_EQ(ta->n_elements(), 24u);
    EXPECT_EQ(ta->size_bytes, 96u);
    auto da = f.tensor_data(*ta);
    float x;
    std::memcpy(&x, da.data() + 4 * 17, 4);
    EXPECT_EQ(x, 17.0f);
    const GgufTensorInfo* tq = f.find_tensor("q");
    EXPECT_EQ(tq->size_bytes, 36u);
    EXPECT_EQ(tq->offset % alignment, 0u);
    const GgufTensorInfo* tg = f.find_tensor("gen");
    EXPECT_EQ(f.tensor_data(*tg)[3 * 5 + 2], 32);
    EXPECT_EQ(f.find_tensor("missing"), nullptr);
  }
}

TEST(GgufReader, VersionTwoIsRead) {
  GgufWriter w(2);
  w.add_u32("x", 1);
  const auto bytes = w.write_bytes();
  GgufFile f = parse_ok(bytes);
  EXPECT_EQ(f.version(), 2u);
}

TEST(GgufReader, WriterRefusesBadTensors) {
  GgufWriter w;
  std::vector<uint8_t> data(10);
  EXPECT_FALSE(w.add_tensor("q", GgmlType::q4_0, {33}, data).is_ok());  // not whole blocks
  EXPECT_FALSE(w.add_tensor("f", GgmlType::f32, {4}, data).is_ok());    // wrong byte count
  EXPECT_FALSE(w.add_tensor("d", GgmlType::f32, {1, 1, 1, 1, 1}, data).is_ok());
}

TEST(GgufReader, CopyValueBetweenFiles) {
  GgufWriter a;
  std::vector<std::string> toks = {"x", "yy"};
  a.add_string_array("tokenizer.ggml.tokens", toks);
  a.add_f32("f", 0.25f);
  const auto abytes = a.write_bytes();
  GgufFile fa = parse_ok(abytes);
  GgufWriter b;
  for (const auto& kv : fa.metadata()) b.add_copy(std::string(kv.key), kv.value);
  const auto bbytes = b.write_bytes();
  GgufFile fb = parse_ok(bbytes);
  EXPECT_EQ(fb.get_string_array("tokenizer.ggml.tokens")->to_vector()[1], "yy");
  EXPECT_EQ(*fb.get_f32("f"), 0.25f);
}

TEST(GgufTypes, TableCoversKnownIdsAndRejectsOthers) {
  EXPECT_EQ(ggml_type_traits(2u)->name, "Q4_0");
  EXPECT_EQ(ggml_type_traits(12u)->type_size, 144u);
  EXPECT_EQ(ggml_type_traits(14u)->type_size, 210u);
  EXPECT_EQ(ggml_type_traits(30u)->name, "BF16");
  EXPECT_EQ(ggml_type_traits(35u)->name, "TQ2_0");
  EXPECT_FALSE(ggml_type_traits(4u).has_value());   // removed Q4_2
  EXPECT_FALSE(ggml_type_traits(31u).has_value());  // removed Q4_0_4_4
  EXPECT_FALSE(ggml_type_traits(1000u).has_value());
  EXPECT_EQ(ggml_type_from_name("q4_k"), GgmlType::q4_k);
  EXPECT_FALSE(ggml_type_from_name("Q4_K_M").has_value());
  EXPECT_EQ(*ggml_row_bytes(GgmlType::q8_0, 64), 68u);
  EXPECT_FALSE(ggml_row_bytes(GgmlType::q4_k, 255).is_ok());
}

TEST(GgufSplit, NameParsing) {
  auto n = gguf_parse_split_name("/m/model-00002-of-00005.gguf");
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->prefix, "/m/model");
  EXPECT_EQ(n->no, 2u);
  EXPECT_EQ(n->count, 5u);
  EXPECT_EQ(gguf_split_path("/m/model", 3, 5), "/m/model-00003-of-00005.gguf");
  EXPECT_FALSE(gguf_parse_split_name("model.gguf").has_value());
  EXPECT_FALSE(gguf_parse_split_name("model-00006-of-00005.gguf").has_value());
  EXPECT_FALSE(gguf_parse_split_name("model-0000a-of-00005.gguf").has_value());
}

}  // namespace
}  // namespace laneway
