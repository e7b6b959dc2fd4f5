// libFuzzer target: bytes as the body of POST /v1/chat/completions and
// /v1/completions, through what the routes do before the engine: the JSON
// parse (parse_json_body), the strict validation of each endpoint, the
// prompt-length estimate of upstream lanes, and for an accepted chat request
// the prompt rendering through a ChatPrompt with a fixed ChatML-like
// template. Besides no crash, leak or UB: every rejection is a 400 whose
// body is JSON, and an accepted request keeps the documented bounds and
// renders every message's text verbatim.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "server/chat_prompt.h"
#include "server/completion_request.h"
#include "server/json_body.h"

namespace {

using laneway::server::ApiError;
using laneway::server::ChatPrompt;
using laneway::server::CompletionRequest;
using laneway::server::Endpoint;

// A leading system (or developer) message becomes the trimmed system turn;
// every other message is one ChatML turn, its content as sent.
constexpr const char* kTemplate =
    "{{ bos_token }}{% for m in messages %}"
    "{% if loop.first and m['role'] in ['system', 'developer'] %}"
    "<|im_start|>system\n{{ m['content'] | trim }}<|im_end|>\n"
    "{% else %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

const ChatPrompt& prompt() {
  static const std::unique_ptr<ChatPrompt> p = [] {
    auto r = ChatPrompt::from_source(kTemplate, "<s>", "</s>");
    if (!r) std::abort();  // the fixed template must parse
    return std::move(r).value();
  }();
  return *p;
}

void check_error(const ApiError& e) {
  if (e.http_status != 400 || e.message.empty()) std::abort();
  const auto j = nlohmann::json::parse(e.to_json(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.contains("error")) std::abort();
}

void check_accepted(const CompletionRequest& r) {
  if (r.stop.size() > laneway::server::kMaxStopStrings) std::abort();
  for (const auto& s : r.stop) {
    if (s.empty()) std::abort();
  }
  if (r.max_tokens && *r.max_tokens < 1) std::abort();
  const auto& s = r.sampling;
  if (!(s.temperature >= 0 && s.temperature <= 2) || !(s.top_p > 0 && s.top_p <= 1) || s.top_k < 0) std::abort();
  if (r.include_usage && !r.stream) std::abort();
  if (r.endpoint == Endpoint::completions) {
    if (r.prompt.empty() == r.prompt_token_ids.empty()) std::abort();  // exactly one form
    for (int32_t id : r.prompt_token_ids) {
      if (id < 0) std::abort();
    }
    return;
  }
  if (r.messages.empty()) std::abort();
  auto text = prompt().render(r.messages);
  if (!text) return;  // a render limit (huge input) is an answer, not a crash
  const std::string& t = *text;
  if (t.rfind("<s>", 0) != 0 || prompt().needs_bos(t)) std::abort();
  const std::string tail = "<|im_start|>assistant\n";
  if (t.size() < tail.size() || t.compare(t.size() - tail.size(), tail.size(), tail) != 0) std::abort();
  for (size_t i = 0; i < r.messages.size(); ++i) {
    const auto& m = r.messages[i];
    if (i == 0 && (m.role == "system" || m.role == "developer")) continue;  // trimmed
    if (t.find("<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n") == std::string::npos) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string raw(reinterpret_cast<const char*>(data), size);
  nlohmann::json body;
  if (auto e = laneway::server::parse_json_body(raw, body)) {
    check_error(*e);
    return 0;
  }
  if (laneway::server::estimate_prompt_tokens(body) < 0) std::abort();
  for (Endpoint endpoint : {Endpoint::chat, Endpoint::completions}) {
    CompletionRequest r;
    if (auto e = laneway::server::parse_completion_request(body, endpoint, r)) {
      check_error(*e);
      continue;
    }
    if (r.endpoint != endpoint) std::abort();
    check_accepted(r);
  }
  return 0;
}
