// Every case of ../shared/reference/chat-templates.json (renderings by
// Python's jinja2 of the real templates in testdata/templates/) must come
// out byte for byte, or fail where jinja2 raised, with the template's own
// raise_exception text in the message.
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "chat/json_value.h"
#include "chat/template.h"
#include "support/testdata.h"

namespace laneway {
namespace {

// "TemplateError: System role not supported" -> "System role not supported"
std::string raised_text(const std::string& error) {
  const size_t colon = error.find(": ");
  return colon == std::string::npos ? error : error.substr(colon + 2);
}

TEST(ChatTemplateReference, EveryCaseMatchesJinja2) {
  const std::string path = test::reference_path("chat-templates.json");
  LANEWAY_REQUIRE_FILE(path);
  const auto doc = nlohmann::ordered_json::parse(test::read_file(path));
  auto date = chat::parse_chat_date(doc.at("date_for_strftime_now").get<std::string>());
  ASSERT_TRUE(date.is_ok()) << date.status().to_string();

  int passed = 0;
  int total = 0;
  for (const auto& c : doc.at("cases")) {
    ++total;
    const std::string name = c.at("template").get<std::string>();
    const std::string conversation = c.at("conversation").get<std::string>();
    SCOPED_TRACE(name + " / " + conversation + (c.at("add_generation_prompt").get<bool>() ? " / gen" : ""));
    const std::string tpl_path = test::testdata_path("templates/" + name);
    LANEWAY_REQUIRE_FILE(tpl_path);
    auto tmpl = chat::ChatTemplate::parse(test::read_file(tpl_path));
    ASSERT_TRUE(tmpl.is_ok()) << tmpl.status().to_string();

    chat::ChatInputs in;
    auto messages = chat::value_from_json(doc.at("conversations").at(conversation));
    ASSERT_TRUE(messages.is_ok());
    in.messages = *messages;
    in.add_generation_prompt = c.at("add_generation_prompt").get<bool>();
    in.bos_token = c.at("bos_token").get<std::string>();
    in.eos_token = c.at("eos_token").get<std::string>();
    in.now = *date;
    auto out = chat::render_chat(*tmpl, in);
    if (c.contains("error")) {
      ASSERT_FALSE(out.is_ok()) << "jinja2 failed with " << c.at("error") << " but we rendered:\n" << out.value();
      const std::string want = raised_text(c.at("error").get<std::string>());
      EXPECT_NE(out.status().message().find(want), std::string::npos) << out.status().to_string();
      if (out.status().message().find(want) != std::string::npos) ++passed;
      continue;
    }
    ASSERT_TRUE(out.is_ok()) << out.status().to_string();
    EXPECT_EQ(*out, c.at("expected").get<std::string>());
    if (*out == c.at("expected").get<std::string>()) ++passed;
  }
  std::printf("chat-templates.json: %d of %d cases match\n", passed, total);
  EXPECT_EQ(passed, total);
}

// The same template object rendered from several threads gives the same
// bytes (a parsed template is shared, read-only state).
TEST(ChatTemplateReference, ConcurrentRendersAgree) {
  const std::string tpl_path = test::testdata_path("templates/meta-llama-Llama-3.1-8B-Instruct.jinja");
  LANEWAY_REQUIRE_FILE(tpl_path);
  auto tmpl = chat::ChatTemplate::parse(test::read_file(tpl_path));
  ASSERT_TRUE(tmpl.is_ok()) << tmpl.status().to_string();
  chat::ChatInputs in;
  in.messages = chat::value_from_json_text(R"([{"role":"system","content":"S"},{"role":"user","content":"U"}])").value();
  in.add_generation_prompt = true;
  in.now = chat::ChatDate{2026, 1, 15};
  const std::string want = chat::render_chat(*tmpl, in).value();
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto got = chat::render_chat(*tmpl, in);
        if (!got.is_ok() || *got != want) ++mismatches[static_cast<size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace laneway
