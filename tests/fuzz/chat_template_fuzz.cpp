// libFuzzer target: arbitrary bytes as a chat template, parsed and rendered
// against a small fixed conversation (with tools) under tight render limits.
// Any outcome is fine except a crash, hang, leak or unbounded memory.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "chat/json_value.h"
#include "chat/template.h"

namespace {

const laneway::chat::ChatInputs& fuzz_inputs() {
  static const laneway::chat::ChatInputs inputs = [] {
    laneway::chat::ChatInputs in;
    in.messages = laneway::chat::value_from_json_text(R"([
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": "Grüße, 世界! 🚀\nNew line."},
      {"role": "assistant", "content": null, "tool_calls": [{"type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}}]},
      {"role": "tool", "name": "get_weather", "content": "{\"temp\": 21.5}"},
      {"role": "user", "content": [{"type": "text", "text": "and tomorrow?"}]}
    ])").value();
    in.tools = laneway::chat::value_from_json_text(R"([{"type": "function", "function": {"name": "get_weather",
      "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
      "required": ["city"]}}}])").value();
    in.add_generation_prompt = true;
    in.bos_token = "<s>";
    in.eos_token = "</s>";
    in.now = laneway::chat::ChatDate{2026, 1, 15};
    in.limits.max_output_bytes = 1 << 20;
    in.limits.max_list_items = 1 << 14;
    in.limits.max_iterations = 20000;
    in.limits.max_call_depth = 32;
    in.limits.max_work = 2000000;
    return in;
  }();
  return inputs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  auto tmpl = laneway::chat::ChatTemplate::parse(source);
  if (!tmpl.is_ok()) return 0;
  auto out = laneway::chat::render_chat(*tmpl, fuzz_inputs());
  (void)out;
  return 0;
}
