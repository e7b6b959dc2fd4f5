// Black-box tests of `laneway template`: exact output with no newline added,
// errors on stderr with exit code 2, templates and BOS/EOS from GGUF
// metadata, and the ChatML default for models without a template.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gguf/writer.h"
#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway {
namespace {

using test::run_laneway;

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

std::string write_text(const std::string& name, const std::string& text) {
  const auto path = test::scratch_dir("template_cli_" + name) / name;  // a fresh directory per file
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

// A metadata-only GGUF with a vocabulary and, optionally, a chat template.
std::string write_model(const std::string& name, const std::string* chat_template) {
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  const std::vector<std::string> tokens = {"<unk>", "<|begin|>", "<|end|>", "a"};
  w.add_string_array("tokenizer.ggml.tokens", std::span<const std::string>(tokens));
  w.add_u32("tokenizer.ggml.bos_token_id", 1);
  w.add_u32("tokenizer.ggml.eos_token_id", 2);
  if (chat_template != nullptr) w.add_string("tokenizer.chat_template", *chat_template);
  const auto path = test::scratch_dir("template_cli_" + name) / name;
  const Status st = w.write_file(path.string());
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  return path.string();
}

TEST(TemplateCli, RendersTemplateFileExactly) {
  const std::string tpl = write_text("t.jinja", "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}\n"
                                                "{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}");
  const std::string msgs = R"([{"role":"user","content":"Hi é"}])";
  test::CliResult r = run_laneway("template --template-file " + tpl + " --messages " + quote(msgs) +
                                  " --add-generation-prompt --bos '<s>'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<s><user>Hi é\n<assistant>");  // no newline added at the end
}

TEST(TemplateCli, ReadsMessagesFromFileAndAcceptsRequestObject) {
  const std::string tpl = write_text("t2.jinja", "{{ messages|length }}/{{ tools|length }}");
  const std::string msgs = write_text("m.json", R"({"messages":[{"role":"user","content":"x"}],"tools":[{"a":1},{"b":2}]})");
  test::CliResult r = run_laneway("template --template-file " + tpl + " --messages @" + msgs);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1/2");
}

TEST(TemplateCli, NowFixesStrftimeNow) {
  const std::string tpl = write_text("t3.jinja", "{{ strftime_now('%d %B %Y') }}");
  test::CliResult r = run_laneway("template --template-file " + tpl + " --messages '[]' --now 2026-01-15");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "15 January 2026");
  r = run_laneway("template --template-file " + tpl + " --messages '[]' --now 2026-13-01");
  EXPECT_EQ(r.exit_code, 2);
}

TEST(TemplateCli, RaisedErrorsGoToStderrWithExitCode2) {
  const std::string tpl = write_text("t4.jinja", "ok\n{{ raise_exception('System role not supported') }}");
  test::CliResult r = run_laneway("template --template-file " + tpl + " --messages '[]'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("System role not supported"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
}

TEST(TemplateCli, BadInputsAreErrors) {
  const std::string tpl = write_text("t5.jinja", "{% if %}");
  EXPECT_EQ(run_laneway("template --template-file " + tpl + " --messages '[]'").exit_code, 2);
  const std::string good = write_text("t6.jinja", "x");
  EXPECT_EQ(run_laneway("template --template-file " + good + " --messages 'not json'").exit_code, 2);
  EXPECT_EQ(run_laneway("template --template-file /nonexistent/x.jinja --messages '[]'").exit_code, 2);
  EXPECT_EQ(run_laneway("template --messages '[]'").exit_code, 1);  // neither -m nor --template-file
}

TEST(TemplateCli, UsesTheModelsTemplateAndTokens) {
  const std::string tmpl = "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}";
  const std::string model = write_model("with_template.gguf", &tmpl);
  test::CliResult r = run_laneway("template -m " + model + " --messages '[{\"role\":\"user\",\"content\":\"hi\"}]'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|begin|>hi<|end|>");
  r = run_laneway("template -m " + model + " --bos B --eos E --messages '[{\"role\":\"user\",\"content\":\"hi\"}]'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "BhiE");
}

TEST(TemplateCli, ModelWithoutTemplateGetsChatMlAndANote) {
  const std::string model = write_model("no_template.gguf", nullptr);
  test::CliResult r = run_laneway("template -m " + model +
                                  " --add-generation-prompt --messages '[{\"role\":\"user\",\"content\":\"hi\"}]'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_NE(r.err.find("ChatML"), std::string::npos) << r.err;
}

// The reference cases through the binary, as a user would run them.
TEST(TemplateCli, ReferenceCasesThroughTheBinary) {
  const std::string path = test::reference_path("chat-templates.json");
  LANEWAY_REQUIRE_FILE(path);
  const auto doc = nlohmann::ordered_json::parse(test::read_file(path));
  int checked = 0;
  for (const auto& c : doc.at("cases")) {
    if (!c.at("add_generation_prompt").get<bool>() || c.at("conversation") != "multi_turn") continue;
    const std::string tpl = test::testdata_path("templates/" + c.at("template").get<std::string>());
    LANEWAY_REQUIRE_FILE(tpl);
    const std::string msgs = write_text("ref.json", doc.at("conversations").at(c.at("conversation").get<std::string>()).dump());
    test::CliResult r = run_laneway("template --template-file " + tpl + " --messages @" + msgs +
                                    " --add-generation-prompt --bos '<s>' --eos '</s>' --now 2026-01-15");
    if (c.contains("error")) {
      EXPECT_EQ(r.exit_code, 2) << c.at("template");
    } else {
      EXPECT_EQ(r.exit_code, 0) << c.at("template") << ": " << r.err;
      EXPECT_EQ(r.out, c.at("expected").get<std::string>()) << c.at("template");
    }
    ++checked;
  }
  EXPECT_GT(checked, 5);
}

}  // namespace
}  // namespace laneway
