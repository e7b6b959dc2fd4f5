// ChatPrompt: turns chat messages into the prompt text a lane's model
// expects, with the chat-template engine (src/chat): the GGUF's
// `tokenizer.chat_template` when it has one, else the documented fallback
// (ChatML, chat::default_chat_template()):
//
//   <|im_start|>{role}\n{content}<|im_end|>\n   (for each message)
//   <|im_start|>assistant\n                     (the generation prompt)
//
// With the fallback, "<|im_end|>" is added to the stop strings so a model
// whose vocabulary lacks that control token still ends its turn there.
//
// Thread-safety: immutable after creation; render() may run on any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chat/template.h"
#include "core/status.h"
#include "model/model.h"
#include "server/completion_request.h"
#include "tokenizer/tokenizer.h"

namespace laneway::server {

class ChatPrompt {
 public:
  // Fails (invalid_argument naming the template line) when the model's template does not parse.
  static Result<std::unique_ptr<ChatPrompt>> for_model(const Model& model, const Tokenizer& tokenizer) {
    return for_meta(model.meta(), tokenizer);
  }
  // From the GGUF's metadata alone (a lane whose weights are not loaded).
  static Result<std::unique_ptr<ChatPrompt>> for_meta(const GgufFile& meta, const Tokenizer& tokenizer);
  // From template text and the BOS/EOS token texts ("" when the vocabulary
  // has none); `fallback` marks the default ChatML template (implies the
  // "<|im_end|>" stop). What for_meta ends in; tests and fuzzing call it directly.
  static Result<std::unique_ptr<ChatPrompt>> from_source(std::string_view source, std::string bos_text,
                                                         std::string eos_text, bool fallback = false);

  Result<std::string> render(const std::vector<ChatMessage>& messages) const;
  // Whether the tokenizer should add BOS to this rendered text: not when the
  // template already wrote the BOS token's text.
  bool needs_bos(const std::string& rendered) const;
  // Stop strings the template implies (the fallback's end-of-turn marker).
  const std::vector<std::string>& implied_stops() const { return implied_stops_; }
  bool uses_fallback() const { return fallback_; }

 private:
  explicit ChatPrompt(chat::ChatTemplate tmpl) : template_(std::move(tmpl)) {}
  chat::ChatTemplate template_;
  bool fallback_ = true;
  std::string bos_text_;
  std::string eos_text_;
  std::vector<std::string> implied_stops_;
};

}  // namespace laneway::server
