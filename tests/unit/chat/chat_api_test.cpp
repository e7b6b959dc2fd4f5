// The public API: parse once, render many; ChatInputs variables; the ChatML
// default; date parsing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "chat/json_value.h"
#include "chat/template.h"

namespace laneway::chat {
namespace {

ChatInputs inputs(std::string_view messages_json) {
  ChatInputs in;
  in.messages = value_from_json_text(messages_json).value();
  in.bos_token = "<s>";
  in.eos_token = "</s>";
  in.now = ChatDate{2026, 1, 15};
  return in;
}

TEST(ChatApi, ParseOnceRenderMany) {
  auto t = ChatTemplate::parse("{{ bos_token }}{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}"
                               "{% if add_generation_prompt %}>{% endif %}{{ eos_token }}");
  ASSERT_TRUE(t.is_ok());
  ChatInputs a = inputs(R"([{"role": "user", "content": "hi"}])");
  EXPECT_EQ(render_chat(*t, a).value(), "<s>[user:hi]</s>");
  a.add_generation_prompt = true;
  EXPECT_EQ(render_chat(*t, a).value(), "<s>[user:hi]></s>");
  ChatTemplate copy = *t;  // copies share the parsed tree
  EXPECT_EQ(render_chat(copy, inputs("[]")).value(), "<s></s>");
}

TEST(ChatApi, ToolsAreDefinedOnlyWhenGiven) {
  auto t = ChatTemplate::parse("{{ tools is defined }}{% if tools %}{{ tools|length }}{% endif %}");
  ASSERT_TRUE(t.is_ok());
  ChatInputs in = inputs("[]");
  EXPECT_EQ(render_chat(*t, in).value(), "False");
  in.tools = value_from_json_text(R"([{"type": "function"}])").value();
  EXPECT_EQ(render_chat(*t, in).value(), "True1");
}

TEST(ChatApi, ExtraVariables) {
  auto t = ChatTemplate::parse("{{ date_string }}/{{ bos_token }}");
  ASSERT_TRUE(t.is_ok());
  ChatInputs in = inputs("[]");
  in.extra_variables.emplace_back("date_string", Value("today"));
  in.extra_variables.emplace_back("bos_token", Value("B"));
  EXPECT_EQ(render_chat(*t, in).value(), "today/B");
}

TEST(ChatApi, DefaultTemplateIsChatMl) {
  auto t = ChatTemplate::parse(default_chat_template());
  ASSERT_TRUE(t.is_ok());
  ChatInputs in = inputs(R"([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])");
  in.add_generation_prompt = true;
  EXPECT_EQ(render_chat(*t, in).value(),
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatApi, ParseChatDate) {
  auto d = parse_chat_date("2024-02-29");
  ASSERT_TRUE(d.is_ok());
  EXPECT_EQ(d->year, 2024);
  EXPECT_EQ(d->month, 2);
  EXPECT_EQ(d->day, 29);
  EXPECT_FALSE(parse_chat_date("2023-02-29").is_ok());
  EXPECT_FALSE(parse_chat_date("2023-13-01").is_ok());
  EXPECT_FALSE(parse_chat_date("15 Jan 2026").is_ok());
}

}  // namespace
}  // namespace laneway::chat
