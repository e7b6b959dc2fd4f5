// Chat templates: a Jinja-compatible engine that renders a model's
// `tokenizer.chat_template` byte for byte as Python's jinja2 does in the
// environment Hugging Face and llama.cpp use: trim_blocks, lstrip_blocks,
// loop controls, an immutable sandbox, `tojson` = json.dumps(ensure_ascii=
// False), and the globals raise_exception(msg) and strftime_now(fmt).
//
// Parse once, render many times:
//
//   auto tmpl = chat::ChatTemplate::parse(source);          // Result
//   chat::ChatInputs in;
//   in.messages = chat::value_from_json(request["messages"]).value();
//   in.add_generation_prompt = true;
//   in.now = chat::ChatDate{2026, 1, 15};                     // the caller's clock
//   auto prompt = chat::render_chat(*tmpl, in);              // Result<std::string>
//
// Errors (syntax, raise_exception, type errors, limits) come back as a
// Status whose message names the template line; nothing here crashes,
// exits or throws, and every render is bounded by RenderLimits.
//
// Thread-safety: a ChatTemplate is immutable after parse and may be rendered
// from any number of threads at once; copies share the parsed tree.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/ast.h"
#include "chat/renderer.h"
#include "chat/value.h"
#include "core/status.h"

namespace laneway::chat {

class ChatTemplate {
 public:
  // Parses `source`; a syntax error becomes invalid_argument with the line.
  static Result<ChatTemplate> parse(std::string_view source);

  const std::string& source() const { return *source_; }
  const Body& body() const { return *body_; }

 private:
  ChatTemplate() = default;
  std::shared_ptr<const std::string> source_;
  std::shared_ptr<const Body> body_;
};

struct ChatInputs {
  Value messages;                  // a list of message dicts (role, content, tool_calls, ...)
  bool add_generation_prompt = false;
  std::string bos_token;
  std::string eos_token;
  Value tools;                     // list of tool dicts; undefined when not given
  // More template variables (e.g. "date_string", "enable_thinking"); they
  // win over the ones above when names clash.
  std::vector<std::pair<std::string, Value>> extra_variables;
  std::optional<ChatDate> now;     // what strftime_now sees; unset -> strftime_now fails
  RenderLimits limits;
};

// Renders the template for `inputs`.
Result<std::string> render_chat(const ChatTemplate& tmpl, const ChatInputs& inputs);

// Renders with an arbitrary variable dict (no chat-specific names added).
Result<std::string> render_template(const ChatTemplate& tmpl, const ValueDict& variables,
                                    std::optional<ChatDate> now = std::nullopt, RenderLimits limits = {});

// The template used when a model ships none: ChatML
//   <|im_start|>{role}\n{content}<|im_end|>\n ... then "<|im_start|>assistant\n"
// when add_generation_prompt is set.
std::string_view default_chat_template();

// "2026-01-15" -> ChatDate; invalid_argument otherwise.
Result<ChatDate> parse_chat_date(std::string_view text);

}  // namespace laneway::chat
