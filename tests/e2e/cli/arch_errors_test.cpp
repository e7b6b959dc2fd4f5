// Files Laneway cannot run say so and exit 2, never crash: an unknown
// architecture names itself and the ones Laneway runs; a missing tensor is
// named; `laneway inspect` still reads both files.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway {
namespace {

// A copy of `src` with general.architecture replaced and one tensor left out.
void write_variant(const std::string& src, const std::string& dst, const std::string& arch,
                   const std::string& drop_tensor) {
  auto model = GgufModel::open(src);
  ASSERT_TRUE(model.is_ok()) << model.status().to_string();
  GgufWriter w;
  for (const auto& kv : model->meta().metadata()) {
    if (kv.key == "general.architecture") {
      w.add_string("general.architecture", arch);
    } else if (kv.key.starts_with(std::string(*model->meta().get_string("general.architecture")) + ".")) {
      // Hyperparameter keys follow the architecture's name.
      w.add_copy(arch + std::string(kv.key.substr(kv.key.find('.'))), kv.value);
    } else {
      w.add_copy(std::string(kv.key), kv.value);
    }
  }
  for (const auto& t : model->tensors()) {
    if (t.name == drop_tensor) continue;
    std::vector<uint64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    ASSERT_TRUE(w.add_tensor(std::string(t.name), t.type, ne, model->tensor_data(t)).is_ok());
  }
  ASSERT_TRUE(w.write_file(dst).is_ok());
}

TEST(ArchErrors, UnknownArchitectureAndMissingTensorExitTwoWithTheirNames) {
  const std::string qwen2 = test::testdata_path("models/synthetic/arch-qwen2-f16.gguf");
  LANEWAY_REQUIRE_FILE(qwen2);
  const auto dir = test::scratch_dir("arch_errors");
  const std::string unknown = (dir / "phi3.gguf").string();
  const std::string missing = (dir / "qwen2-no-bias.gguf").string();
  write_variant(qwen2, unknown, "phi3", "");
  write_variant(qwen2, missing, "qwen2", "blk.2.attn_k.bias");

  auto r = test::run_laneway("run -m " + unknown + " -p hi -n 2");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("architecture \"phi3\" is not supported"), std::string::npos) << r.err;
  for (const char* known : {"llama", "qwen2", "granite", "gemma2"}) {
    EXPECT_NE(r.err.find(known), std::string::npos) << "the message lists " << known << ": " << r.err;
  }

  r = test::run_laneway("run -m " + missing + " -p hi -n 2");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("blk.2.attn_k.bias"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing"), std::string::npos) << r.err;

  for (const std::string& f : {unknown, missing}) {
    auto i = test::run_laneway("inspect " + f);
    EXPECT_EQ(i.exit_code, 0) << i.err;
    EXPECT_NE(i.out.find("tensors"), std::string::npos);
  }
  // The planner says the same as the loader.
  r = test::run_laneway("plan -m " + unknown);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("phi3"), std::string::npos) << r.err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace laneway
