#include "server/ollama_models.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/testdata.h"

namespace laneway::server {
namespace {

namespace fs = std::filesystem;

TEST(OllamaModels, ParameterSizeAsOllamaShowsIt) {
  EXPECT_EQ(format_parameter_size(7241732096), "7.2B");
  EXPECT_EQ(format_parameter_size(8030261248), "8.0B");
  EXPECT_EQ(format_parameter_size(494032768), "494M");
  EXPECT_EQ(format_parameter_size(22000000), "22.0M");
  EXPECT_EQ(format_parameter_size(292864), "293K");
  EXPECT_EQ(format_parameter_size(950), "950");
}

TEST(OllamaModels, FileTypeNames) {
  EXPECT_EQ(file_type_name(0), "F32");
  EXPECT_EQ(file_type_name(1), "F16");
  EXPECT_EQ(file_type_name(2), "Q4_0");
  EXPECT_EQ(file_type_name(15), "Q4_K_M");
  EXPECT_EQ(file_type_name(7), "Q8_0");
  EXPECT_EQ(file_type_name(4), "");  // retired value
  EXPECT_EQ(file_type_name(9999), "");
}

TEST(OllamaModels, Sha256OfFiles) {
  const fs::path dir = test::scratch_dir("ollama_sha256");
  std::ofstream(dir / "a", std::ios::binary) << "ab";
  std::ofstream(dir / "b", std::ios::binary) << "c";
  // sha256("abc"), FIPS 180-2 test vector: parts hash as one stream.
  const std::string abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  EXPECT_EQ(*sha256_of_files({(dir / "a").string(), (dir / "b").string()}), abc);
  std::ofstream(dir / "empty", std::ios::binary) << "";
  EXPECT_EQ(*sha256_of_files({(dir / "empty").string()}),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_FALSE(sha256_of_files({(dir / "missing").string()}).is_ok());
}

TEST(OllamaModels, DetailsOfStories260K) {
  const std::string path = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(path);
  auto info = read_model_file_info(path);
  ASSERT_TRUE(info.is_ok()) << info.status().to_string();
  EXPECT_EQ(info->details.format, "gguf");
  EXPECT_EQ(info->details.family, "llama");
  EXPECT_EQ(info->details.families, std::vector<std::string>{"llama"});
  // Every tensor is F32 and there is no general.file_type: the dominant type names it.
  EXPECT_EQ(info->details.quantization_level, "F32");
  // 48 tensors (PROVENANCE.md): 2 x [64,512] + [64] + 5 blocks of 45,440.
  EXPECT_EQ(info->parameter_count, 2u * 64 * 512 + 64 + 5u * (64 * 64 * 2 + 64 * 32 * 2 + 64 * 172 * 3 + 64 * 2));
  EXPECT_EQ(info->details.parameter_size, "293K");
  EXPECT_EQ(info->size_bytes, fs::file_size(path));
  EXPECT_EQ(info->context_length, 2048);
}

TEST(OllamaModels, CacheHashesOnceAndAgainWhenTheFileChanges) {
  const std::string src = test::testdata_path("models/stories260K.gguf");
  LANEWAY_REQUIRE_FILE(src);
  const fs::path dir = test::scratch_dir("ollama_digest_cache");
  const fs::path copy = dir / "m.gguf";
  fs::copy_file(src, copy, fs::copy_options::overwrite_existing);
  ModelInfoCache cache;
  auto first = cache.get(copy.string());
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  // PROVENANCE.md gives the file's sha256.
  EXPECT_EQ(first->digest, "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d");
  EXPECT_EQ(cache.get(copy.string())->digest, first->digest);
  // Append a byte: size and mtime change, so the digest is computed again.
  std::ofstream(copy, std::ios::binary | std::ios::app) << '\0';
  auto second = cache.get(copy.string());
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_NE(second->digest, first->digest);
  EXPECT_EQ(second->size_bytes, first->size_bytes + 1);

  // A blob of an Ollama store is named by its digest: the name is taken, not recomputed.
  const std::string fake = std::string(64, 'a');
  const fs::path blob = dir / ("sha256-" + fake);
  fs::copy_file(src, blob, fs::copy_options::overwrite_existing);
  EXPECT_EQ(cache.get(blob.string())->digest, fake);
}

}  // namespace
}  // namespace laneway::server
