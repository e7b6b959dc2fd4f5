// Split models: parts written with the writer, opened from any part.
#include <filesystem>

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "support/testdata.h"

namespace laneway {
namespace {

void write_part(const std::string& path, uint32_t no, uint32_t count, const std::string& tensor, float value,
                uint64_t total_tensors) {
  GgufWriter w;
  w.add_u16("split.no", static_cast<uint16_t>(no));
  w.add_u16("split.count", static_cast<uint16_t>(count));
  w.add_i32("split.tensors.count", static_cast<int32_t>(total_tensors));
  if (no == 0) w.add_string("general.architecture", "llama");
  std::vector<float> data(16, value);
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size() * 4);
  ASSERT_TRUE(w.add_tensor(tensor, GgmlType::f32, {16}, bytes).is_ok());
  ASSERT_TRUE(w.write_file(path).is_ok());
}

TEST(GgufSplit, OpensAllPartsAsOneModel) {
  const auto dir = test::scratch_dir("gguf_split");
  const std::string prefix = (dir / "m").string();
  for (uint32_t i = 0; i < 3; ++i) {
    write_part(gguf_split_path(prefix, i + 1, 3), i, 3, "t" + std::to_string(i), float(i), 3);
  }
  for (uint32_t open_no : {1u, 3u}) {
    auto m = GgufModel::open(gguf_split_path(prefix, open_no, 3));
    ASSERT_TRUE(m.is_ok()) << m.status().to_string();
    EXPECT_EQ(m->files().size(), 3u);
    EXPECT_EQ(*m->meta().get_string("general.architecture"), "llama");
    ASSERT_EQ(m->tensors().size(), 3u);
    const GgufTensorInfo* t2 = m->find_tensor("t2");
    ASSERT_NE(t2, nullptr);
    EXPECT_EQ(t2->file_index, 2u);
    float x;
    std::memcpy(&x, m->tensor_data(*t2).data(), 4);
    EXPECT_EQ(x, 2.0f);
  }
}

TEST(GgufSplit, MissingPartIsNamed) {
  const auto dir = test::scratch_dir("gguf_split_missing");
  const std::string prefix = (dir / "m").string();
  write_part(gguf_split_path(prefix, 1, 2), 0, 2, "a", 1, 2);
  auto m = GgufModel::open(gguf_split_path(prefix, 1, 2));
  ASSERT_FALSE(m.is_ok());
  EXPECT_NE(m.status().message().find("m-00002-of-00002.gguf"), std::string::npos) << m.status().message();
}

TEST(GgufSplit, WrongTensorCountIsCaught) {
  const auto dir = test::scratch_dir("gguf_split_count");
  const std::string prefix = (dir / "m").string();
  write_part(gguf_split_path(prefix, 1, 2), 0, 2, "a", 1, 5);
  write_part(gguf_split_path(prefix, 2, 2), 1, 2, "b", 1, 5);
  auto m = GgufModel::open(gguf_split_path(prefix, 1, 2));
  ASSERT_FALSE(m.is_ok());
  EXPECT_NE(m.status().message().find("split.tensors.count"), std::string::npos) << m.status().message();
}

TEST(GgufFileOpen, MissingFileIsIoError) {
  auto f = GgufFile::open("/nonexistent/x.gguf");
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().code(), StatusCode::io_error);
}

}  // namespace
}  // namespace laneway
