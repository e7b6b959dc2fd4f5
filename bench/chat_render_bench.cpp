// Chat template rendering: a Llama-3.1-style template (system prompt with
// the date, role headers, tool-call branches; written for this benchmark)
// over a 10-message conversation. Parsing is measured separately: a server
// parses once per model and renders per request.
#include <string>

#include <benchmark/benchmark.h>

#include "chat/json_value.h"
#include "chat/template.h"

namespace {

constexpr const char* kTemplate = R"JINJA({{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = strftime_now("%d %b %Y") %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is defined and tools is not none %}
    {{- "You have access to these tools:\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
        {{- '{"name": "' + tool_call.name + '", "parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}<|eot_id|>" }}
    {%- else %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}
)JINJA";

constexpr const char* kConversation = R"([
  {"role": "system", "content": "You are a careful assistant. Answer briefly and cite sources when you can."},
  {"role": "user", "content": "What is the capital of France?"},
  {"role": "assistant", "content": "Paris."},
  {"role": "user", "content": "And how many people live there, roughly? Give me the city and the metro area."},
  {"role": "assistant", "content": "About 2.1 million in the city and roughly 12 million in the metropolitan area."},
  {"role": "user", "content": "What's the weather like there today?"},
  {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
  {"role": "tool", "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
  {"role": "assistant", "content": "It is 21.5 °C and clear in Paris right now."},
  {"role": "user", "content": "Thanks! Suggest three things to do this evening."}
])";

laneway::chat::ChatInputs make_inputs() {
  laneway::chat::ChatInputs in;
  in.messages = laneway::chat::value_from_json_text(kConversation).value();
  in.add_generation_prompt = true;
  in.bos_token = "<|begin_of_text|>";
  in.eos_token = "<|eot_id|>";
  in.now = laneway::chat::ChatDate{2026, 1, 15};
  return in;
}

void BM_ChatRender10Messages(benchmark::State& state) {
  auto tmpl = laneway::chat::ChatTemplate::parse(kTemplate);
  if (!tmpl.is_ok()) {
    state.SkipWithError(tmpl.status().to_string().c_str());
    return;
  }
  const laneway::chat::ChatInputs in = make_inputs();
  size_t bytes = 0;
  for (auto _ : state) {
    auto out = laneway::chat::render_chat(*tmpl, in);
    if (!out.is_ok()) {
      state.SkipWithError(out.status().to_string().c_str());
      return;
    }
    bytes = out->size();
    benchmark::DoNotOptimize(out);
  }
  state.counters["prompt_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_ChatRender10Messages)->Unit(benchmark::kMicrosecond);

void BM_ChatParse(benchmark::State& state) {
  for (auto _ : state) {
    auto tmpl = laneway::chat::ChatTemplate::parse(kTemplate);
    benchmark::DoNotOptimize(tmpl);
  }
}
BENCHMARK(BM_ChatParse)->Unit(benchmark::kMicrosecond);

}  // namespace
