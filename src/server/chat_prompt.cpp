#include "server/chat_prompt.h"

#include <ctime>

#include <nlohmann/json.hpp>

#include "chat/json_value.h"
#include "gguf/gguf.h"

namespace laneway::server {

Result<std::unique_ptr<ChatPrompt>> ChatPrompt::for_meta(const GgufFile& meta, const Tokenizer& tokenizer) {
  std::string source;
  if (auto t = meta.get_string("tokenizer.chat_template"); t.is_ok()) source = std::string(*t);
  const bool fallback = source.empty();
  if (fallback) source = std::string(chat::default_chat_template());
  std::string bos_text, eos_text;
  if (tokenizer.valid_id(tokenizer.bos_id())) bos_text = std::string(tokenizer.token_text(tokenizer.bos_id()));
  if (tokenizer.valid_id(tokenizer.eos_id())) eos_text = std::string(tokenizer.token_text(tokenizer.eos_id()));
  return from_source(source, std::move(bos_text), std::move(eos_text), fallback);
}

Result<std::unique_ptr<ChatPrompt>> ChatPrompt::from_source(std::string_view source, std::string bos_text,
                                                            std::string eos_text, bool fallback) {
  auto parsed = chat::ChatTemplate::parse(source);
  if (!parsed) return parsed.status().with_context("the model's tokenizer.chat_template");
  auto p = std::unique_ptr<ChatPrompt>(new ChatPrompt(std::move(parsed).value()));
  p->fallback_ = fallback;
  if (fallback) p->implied_stops_ = {"<|im_end|>"};
  p->bos_text_ = std::move(bos_text);
  p->eos_text_ = std::move(eos_text);
  return p;
}

Result<std::string> ChatPrompt::render(const std::vector<ChatMessage>& messages) const {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
  chat::ChatInputs in;
  LANEWAY_ASSIGN_OR_RETURN(in.messages, chat::value_from_json(list));
  in.add_generation_prompt = true;
  in.bos_token = bos_text_;
  in.eos_token = eos_text_;
  // Templates that print today's date read it through strftime_now.
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  chat::ChatDate date;
  date.year = utc.tm_year + 1900;
  date.month = utc.tm_mon + 1;
  date.day = utc.tm_mday;
  date.hour = utc.tm_hour;
  date.minute = utc.tm_min;
  in.now = date;
  return chat::render_chat(template_, in);
}

bool ChatPrompt::needs_bos(const std::string& rendered) const {
  return bos_text_.empty() || rendered.rfind(bos_text_, 0) != 0;
}

}  // namespace laneway::server
