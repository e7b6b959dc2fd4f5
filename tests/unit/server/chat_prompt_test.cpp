// ChatPrompt from template text: what for_meta builds from a GGUF's metadata.
#include "server/chat_prompt.h"

#include <gtest/gtest.h>

namespace laneway::server {
namespace {

TEST(ChatPrompt, RendersMessagesThroughTheGivenTemplate) {
  auto p = ChatPrompt::from_source(
      "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
      "{% if add_generation_prompt %}[assistant]{% endif %}",
      "<s>", "</s>");
  ASSERT_TRUE(p.is_ok()) << p.status().message();
  auto text = (*p)->render({{"system", "Be brief."}, {"user", "Hi"}});
  ASSERT_TRUE(text.is_ok()) << text.status().message();
  EXPECT_EQ(*text, "<s>[system]Be brief.[user]Hi[assistant]");
  EXPECT_FALSE((*p)->needs_bos(*text));   // the template wrote BOS
  EXPECT_TRUE((*p)->needs_bos("[user]"));
  EXPECT_FALSE((*p)->uses_fallback());
  EXPECT_TRUE((*p)->implied_stops().empty());
}

TEST(ChatPrompt, TheFallbackImpliesTheChatMlStop) {
  auto p = ChatPrompt::from_source(chat::default_chat_template(), "", "", /*fallback=*/true);
  ASSERT_TRUE(p.is_ok());
  EXPECT_TRUE((*p)->uses_fallback());
  EXPECT_EQ((*p)->implied_stops(), std::vector<std::string>{"<|im_end|>"});
  EXPECT_TRUE((*p)->needs_bos("anything"));  // no BOS text: the tokenizer decides
  auto text = (*p)->render({{"user", "Hi"}});
  ASSERT_TRUE(text.is_ok());
  EXPECT_EQ(*text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatPrompt, ATemplateThatDoesNotParseIsAnError) {
  auto p = ChatPrompt::from_source("{% for m in messages %}unclosed", "<s>", "</s>");
  ASSERT_FALSE(p.is_ok());
  EXPECT_NE(p.status().message().find("chat_template"), std::string::npos) << p.status().message();
}

}  // namespace
}  // namespace laneway::server
