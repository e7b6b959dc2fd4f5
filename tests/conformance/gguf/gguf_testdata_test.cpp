// Every GGUF under ../shared/testdata loads, with the facts PROVENANCE.md states.
#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "support/testdata.h"

namespace laneway {
namespace {

namespace fs = std::filesystem;

GgufFile open_ok(const std::string& path) {
  auto f = GgufFile::open(path);
  EXPECT_TRUE(f.is_ok()) << f.status().to_string();
  return std::move(f).value();
}

TEST(GgufTestdata, EveryV2V3FileLoadsAndV1IsRefused) {
  const fs::path root = test::testdata_dir();
  LANEWAY_REQUIRE_FILE(root / "models" / "stories260K.gguf");
  int loaded = 0;
  int refused = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.path().extension() != ".gguf") continue;
    SCOPED_TRACE(e.path().string());
    auto f = GgufFile::open(e.path().string());
    if (e.path().parent_path().filename() == "legacy") {
      ASSERT_FALSE(f.is_ok());
      EXPECT_EQ(f.status().code(), StatusCode::unsupported);
      EXPECT_NE(f.status().message().find("version 1"), std::string::npos) << f.status().message();
      ++refused;
      continue;
    }
    ASSERT_TRUE(f.is_ok()) << f.status().to_string();
    EXPECT_EQ(f->version(), 3u);
    EXPECT_TRUE(f->contains("general.architecture"));
    uint64_t end = 0;
    for (const auto& t : f->tensors()) end = std::max(end, t.file_offset + t.size_bytes);
    EXPECT_LE(end, f->file_size_bytes());
    ++loaded;
  }
  EXPECT_GE(loaded, 24);  // 2 models + 13 synthetic + 9 vocab files
  EXPECT_EQ(refused, 1);
}

TEST(GgufTestdata, Stories260K) {
  const std::string path = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(path);
  GgufFile f = open_ok(path);
  EXPECT_EQ(f.tensors().size(), 48u);
  EXPECT_EQ(f.metadata().size(), 19u);
  EXPECT_EQ(*f.get_string("general.architecture"), "llama");
  EXPECT_EQ(*f.get_u32("llama.embedding_length"), 64u);
  EXPECT_EQ(*f.get_u32("llama.block_count"), 5u);
  EXPECT_EQ(*f.get_u32("llama.feed_forward_length"), 172u);
  EXPECT_EQ(*f.get_u32("llama.attention.head_count"), 8u);
  EXPECT_EQ(*f.get_u32("llama.attention.head_count_kv"), 4u);
  EXPECT_EQ(*f.get_u32("llama.rope.dimension_count"), 8u);
  EXPECT_EQ(*f.get_u32("llama.context_length"), 2048u);
  EXPECT_FLOAT_EQ(*f.get_f32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
  EXPECT_FALSE(f.contains("llama.rope.freq_base"));
  EXPECT_EQ(f.data_offset(), 14176u);
  EXPECT_EQ(f.alignment(), 32u);
  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.is_ok());
  EXPECT_EQ(tokens->size(), 512u);
  auto v = tokens->to_vector();
  EXPECT_EQ(v[0], "<unk>");
  EXPECT_EQ(v[1], "<s>");
  EXPECT_EQ(v[3], "<0x00>");
  EXPECT_EQ(v[258], "<0xFF>");
  EXPECT_EQ(f.get_array<float>("tokenizer.ggml.scores")->size(), 512u);
  EXPECT_EQ(f.get_array<int32_t>("tokenizer.ggml.token_type")->size(), 512u);
  EXPECT_EQ(*f.get_u32("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(*f.get_u32("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(*f.get_u32("tokenizer.ggml.padding_token_id"), 4294967295u);
  const GgufTensorInfo* emb = f.find_tensor("token_embd.weight");
  ASSERT_NE(emb, nullptr);
  EXPECT_EQ(emb->type, GgmlType::f32);
  EXPECT_EQ(emb->ne[0], 64u);
  EXPECT_EQ(emb->ne[1], 512u);
  const GgufTensorInfo* down = f.find_tensor("blk.4.ffn_down.weight");
  ASSERT_NE(down, nullptr);
  EXPECT_EQ(down->ne[0], 172u);
  EXPECT_EQ(down->ne[1], 64u);
  // output.weight holds the same values as token_embd.weight.
  const GgufTensorInfo* out = f.find_tensor("output.weight");
  ASSERT_NE(out, nullptr);
  auto a = f.tensor_data(*emb);
  auto b = f.tensor_data(*out);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()));
}

TEST(GgufTestdata, LlamaTinyRandom) {
  const std::string path = test::testdata_path("models/llama-2-tiny-random.gguf");
  LANEWAY_REQUIRE_FILE(path);
  GgufFile f = open_ok(path);
  EXPECT_EQ(f.tensors().size(), 12u);
  EXPECT_EQ(f.metadata().size(), 18u);
  EXPECT_EQ(*f.get_string("general.name"), "LLaMA v2");
  EXPECT_EQ(*f.get_u32("general.file_type"), 1u);
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens")->size(), 32000u);
  int f16 = 0, f32 = 0;
  for (const auto& t : f.tensors()) (t.type == GgmlType::f16 ? f16 : f32)++;
  EXPECT_EQ(f16, 9);
  EXPECT_EQ(f32, 3);
  EXPECT_EQ(f.find_tensor("token_embd.weight")->ne[1], 32000u);
}

TEST(GgufTestdata, SyntheticQuantizedTypes) {
  const std::string path = test::testdata_path("models/synthetic/tiny-Q4_K_M.gguf");
  LANEWAY_REQUIRE_FILE(path);
  GgufFile f = open_ok(path);
  std::set<GgmlType> types;
  for (const auto& t : f.tensors()) types.insert(t.type);
  EXPECT_TRUE(types.count(GgmlType::q4_k));
  EXPECT_TRUE(types.count(GgmlType::q6_k));
  EXPECT_EQ(*f.get_u32("llama.embedding_length"), 256u);
  GgufFile f31 = open_ok(test::testdata_path("models/synthetic/arch-llama31-f16.gguf"));
  const GgufTensorInfo* rf = f31.find_tensor("rope_freqs.weight");
  ASSERT_NE(rf, nullptr);
  EXPECT_EQ(rf->n_elements(), 16u);
  EXPECT_FLOAT_EQ(*f31.get_f32("llama.rope.freq_base"), 500000.0f);
}

TEST(GgufTestdata, VocabOnlyFiles) {
  const std::string path = test::testdata_path("vocab/ggml-vocab-gpt-2.gguf");
  LANEWAY_REQUIRE_FILE(path);
  GgufFile f = open_ok(path);
  EXPECT_EQ(f.tensors().size(), 0u);
  EXPECT_EQ(*f.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(*f.get_string("tokenizer.ggml.pre"), "gpt-2");
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens")->size(), 50257u);
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.merges")->size(), 50000u);
  GgufFile bert = open_ok(test::testdata_path("vocab/ggml-vocab-bert-bge.gguf"));
  EXPECT_EQ(*bert.get_string("general.architecture"), "bert");
  EXPECT_EQ(bert.get_string_array("tokenizer.ggml.tokens")->size(), 30522u);
}

}  // namespace
}  // namespace laneway
