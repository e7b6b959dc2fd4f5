// Every tensor of every synthetic tiny-*.gguf, decoded by dequantize_row,
// against ../shared/reference/dequant/<name>.json: the first 256 values bit
// for bit, and the float64 sum and sum of squares of all values to 1e-6
// relative.
#include <bit>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gguf/gguf.h"
#include "quant/quant.h"
#include "support/testdata.h"

namespace laneway {
namespace {

const std::vector<std::string> kFiles = {"tiny-f16",  "tiny-Q8_0", "tiny-Q4_0",   "tiny-Q4_1",   "tiny-Q5_0",   "tiny-Q5_1",
                              "tiny-Q2_K", "tiny-Q3_K_M", "tiny-Q4_K_M", "tiny-Q5_K_M", "tiny-Q6_K"};

class DequantReference : public ::testing::TestWithParam<std::string> {};

TEST_P(DequantReference, EveryTensorMatches) {
  const std::string model = test::testdata_path("models/synthetic/" + GetParam() + ".gguf");
  const std::string ref_path = test::reference_path("dequant/" + GetParam() + ".json");
  LANEWAY_REQUIRE_FILE(model);
  LANEWAY_REQUIRE_FILE(ref_path);
  auto file = GgufFile::open(model);
  ASSERT_TRUE(file.is_ok()) << file.status().message();
  std::ifstream in(ref_path);
  const nlohmann::json ref = nlohmann::json::parse(in);

  ASSERT_EQ(ref.size(), file->tensors().size()) << "the reference covers every tensor";
  for (const GgufTensorInfo& t : file->tensors()) {
    SCOPED_TRACE(std::string(t.name) + " " + std::string(ggml_type_name(t.type)));
    ASSERT_TRUE(ref.contains(std::string(t.name)));
    const nlohmann::json& r = ref.at(std::string(t.name));
    EXPECT_EQ(r.at("type").get<std::string>(), ggml_type_name(t.type));
    for (uint32_t d = 0; d < t.n_dims; ++d) EXPECT_EQ(r.at("ne").at(d).get<uint64_t>(), t.ne[d]);
    ASSERT_TRUE(quant_can_dequantize(t.type));

    const auto n = static_cast<int64_t>(t.n_elements());
    std::vector<float> values(static_cast<size_t>(n));
    const std::span<const uint8_t> data = file->tensor_data(t);
    const QuantOps& ops = quant_ops(t.type);
    ASSERT_EQ(data.size(), static_cast<size_t>(n / ops.block_size * ops.block_bytes));
    ops.dequantize_row(data.data(), values.data(), n);  // rows are contiguous: the tensor is one long row

    const auto& first = r.at("first256");
    ASSERT_EQ(first.size(), std::min<size_t>(256, values.size()));
    int mismatches = 0;
    for (size_t i = 0; i < first.size(); ++i) {
      const auto want = static_cast<float>(first[i].get<double>());  // the JSON holds exact f32 values
      if (std::bit_cast<uint32_t>(want) != std::bit_cast<uint32_t>(values[i]) && mismatches++ < 5) {
        ADD_FAILURE() << "element " << i << ": got " << values[i] << " (0x" << std::hex
                      << std::bit_cast<uint32_t>(values[i]) << "), want " << want << " (0x"
                      << std::bit_cast<uint32_t>(want) << ")";
      }
    }
    EXPECT_EQ(mismatches, 0);

    double sum = 0, sumsq = 0;
    for (float v : values) {
      sum += v;
      sumsq += static_cast<double>(v) * v;
    }
    const double want_sum = r.at("sum").get<double>(), want_sumsq = r.at("sumsq").get<double>();
    // A floor far below 1e-6 only guards a sum that cancels to ~0, where
    // summation order alone (~n * 1e-16 of the magnitudes) could decide.
    double abs_sum = 0;
    for (float v : values) abs_sum += std::fabs(v);
    EXPECT_NEAR(sum, want_sum, std::max(1e-6 * std::fabs(want_sum), 1e-9 * abs_sum));
    EXPECT_NEAR(sumsq, want_sumsq, 1e-6 * std::fabs(want_sumsq));
  }
}

INSTANTIATE_TEST_SUITE_P(SyntheticFiles, DequantReference, ::testing::ValuesIn(kFiles),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string name = p.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace laneway
