// Parses and checks the body of POST /v1/chat/completions and /v1/completions
// for an embedded lane, into native structs (parse at the edge: the runtime
// never sees JSON). Every rejection names the field. Fields the embedded
// engine does not implement (n > 1, tools, response_format, logprobs, ...)
// are 400 unsupported_field, never silently ignored; neutral values of them
// (n: 1, logprobs: false, tools: []) are accepted, because common clients send
// them. Upstream lanes never come here: their bodies pass through untouched.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sampling/sampling_params.h"
#include "server/api_error.h"

namespace laneway::server {

enum class Endpoint { chat, completions };

// Stop strings per request. OpenAI allows 4; we take more (chat templates add
// their own end markers, and local clients send several), but a bound keeps
// the per-token stop matching cheap. More is a 400 naming `stop`.
inline constexpr size_t kMaxStopStrings = 16;

struct ChatMessage {
  std::string role;     // system | developer | user | assistant
  std::string content;  // text parts joined
};

struct CompletionRequest {
  Endpoint endpoint = Endpoint::chat;
  std::string model;                    // "" = omitted
  std::vector<ChatMessage> messages;    // chat
  std::string prompt;                   // completions, as text
  std::vector<int32_t> prompt_token_ids;  // completions, given as token ids (then `prompt` is empty)
  std::optional<int64_t> max_tokens;    // max_tokens or max_completion_tokens
  SamplingParams sampling;
  bool seed_given = false;
  std::vector<std::string> stop;
  bool stream = false;
  bool include_usage = false;           // stream_options.include_usage
  bool ignore_eos = false;              // llama.cpp extension
};

// Fails with a 400 ApiError naming the field.
std::optional<ApiError> parse_completion_request(const nlohmann::json& body, Endpoint endpoint,
                                                 CompletionRequest& out);

// The prompt text of a request body for estimating its length on upstream
// lanes (UTF-8 bytes / 4); lenient: never fails, counts what it finds.
int64_t estimate_prompt_tokens(const nlohmann::json& body);

}  // namespace laneway::server
