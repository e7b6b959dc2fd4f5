#include "chat/template.h"

#include <charconv>
#include <exception>
#include <new>

#include "chat/errors.h"
#include "chat/parser.h"

namespace laneway::chat {
namespace {

Status to_status(const TemplateError& e) {
  const std::string where = e.line > 0 ? fmt::format(" at line {}", e.line) : std::string();
  switch (e.kind) {
    case TemplateErrorKind::syntax:
      return invalid_argument_error("chat template syntax error{}: {}", where, e.message);
    case TemplateErrorKind::raised:
      return invalid_argument_error("chat template raised an exception{}: {}", where, e.message);
    case TemplateErrorKind::limit:
      return resource_exhausted_error("chat template stopped{}: {}", where, e.message);
    case TemplateErrorKind::runtime:
      break;
  }
  return invalid_argument_error("chat template error{}: {}", where, e.message);
}

constexpr std::string_view kChatMl =
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

}  // namespace

Result<ChatTemplate> ChatTemplate::parse(std::string_view source) {
  try {
    ChatTemplate t;
    t.source_ = std::make_shared<const std::string>(source);
    t.body_ = std::make_shared<const Body>(parse_template(source, LexOptions{}));
    return t;
  } catch (const TemplateError& e) {
    return to_status(e);
  } catch (const std::bad_alloc&) {
    return out_of_memory_error("chat template: out of memory while parsing");
  }
}

Result<std::string> render_template(const ChatTemplate& tmpl, const ValueDict& variables, std::optional<ChatDate> now,
                                    RenderLimits limits) {
  try {
    RenderConfig config;
    config.variables = &variables;
    config.now = now;
    config.limits = limits;
    std::string out;
    {
      Renderer renderer(config);
      renderer.render(tmpl.body(), out);
    }
    return out;
  } catch (const TemplateError& e) {
    return to_status(e);
  } catch (const std::bad_alloc&) {
    return out_of_memory_error("chat template: out of memory while rendering");
  } catch (const std::exception& e) {
    return internal_error("chat template: unexpected failure: {}", e.what());
  }
}

Result<std::string> render_chat(const ChatTemplate& tmpl, const ChatInputs& inputs) {
  ValueDict vars;
  try {
    vars.entries.reserve(5 + inputs.extra_variables.size());
    vars.entries.emplace_back(Value("messages"), inputs.messages);
    vars.entries.emplace_back(Value("add_generation_prompt"), Value(inputs.add_generation_prompt));
    vars.entries.emplace_back(Value("bos_token"), Value(inputs.bos_token));
    vars.entries.emplace_back(Value("eos_token"), Value(inputs.eos_token));
    if (!inputs.tools.is_undefined()) vars.entries.emplace_back(Value("tools"), inputs.tools);
    for (const auto& [k, v] : inputs.extra_variables) vars.set(Value(k), v);
  } catch (const TemplateError& e) {
    return to_status(e);
  }
  return render_template(tmpl, vars, inputs.now, inputs.limits);
}

std::string_view default_chat_template() { return kChatMl; }

Result<ChatDate> parse_chat_date(std::string_view text) {
  ChatDate d;
  auto bad = [&] { return invalid_argument_error("'{}' is not a date in the form YYYY-MM-DD", text); };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  auto num = [&](size_t pos, size_t len, int& out) {
    const auto r = std::from_chars(text.data() + pos, text.data() + pos + len, out);
    return r.ec == std::errc() && r.ptr == text.data() + pos + len;
  };
  if (!num(0, 4, d.year) || !num(5, 2, d.month) || !num(8, 2, d.day)) return bad();
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (d.month < 1 || d.month > 12 || d.day < 1 || d.day > kDays[d.month - 1]) return bad();
  const bool leap = (d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0;
  if (d.month == 2 && d.day == 29 && !leap) return bad();
  return d;
}

}  // namespace laneway::chat
