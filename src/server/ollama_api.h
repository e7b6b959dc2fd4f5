// Ollama's REST API at the edge: parses the bodies of POST /api/generate and
// /api/chat into native structs (a CompletionRequest plus what only Ollama
// has), parses `keep_alive` durations, matches Ollama model names to lane
// names, and formats the NDJSON answers and `{"error": "..."}` errors.
//
// Defaults and types follow Ollama's documented API (docs/api.md,
// docs/modelfile.md): streaming unless `stream: false`; options default to
// temperature 0.8, top_k 40, top_p 0.9, min_p 0, repeat_penalty 1.1 over the
// last 64 tokens, a random seed; unknown options are ignored (listed in
// OllamaRequest::ignored_options for a debug log); an option of the wrong
// type is a 400 naming it. Fields Laneway does not implement (`format`,
// `images`, `tools`, `template`, `suffix`) are a 400 naming the field rather
// than silently ignored.
//
// Pure functions, no I/O; safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"
#include "server/api_error.h"
#include "server/completion_request.h"

namespace laneway::server {

enum class OllamaEndpoint { generate, chat };

// An error in Ollama's shape: {"error": "message"} with an HTTP status.
struct OllamaError {
  int http_status = 400;
  std::string message;
  int retry_after_s = 0;  // > 0: send Retry-After (429, 503)

  std::string to_json() const;
};
OllamaError ollama_bad_request(std::string message);
// The same status and message as an OpenAI-shaped ApiError (for errors the
// shared helpers produce: JSON parsing, messages, sampling ranges).
OllamaError ollama_error_from(const ApiError& error);

// --- keep_alive -------------------------------------------------------------

// How long a lane stays resident after a request (Ollama's keep_alive). The
// server only parses it; the model pool acts on it.
struct KeepAlive {
  enum class Mode { unload_now, for_duration, forever };
  Mode mode = Mode::for_duration;
  std::chrono::nanoseconds duration{0};  // for_duration only; > 0
};

// Go's time.ParseDuration: "300ms", "1.5h", "1h30m", "-2m", "0"; units ns, us
// (µs), ms, s, m, h. invalid_argument naming the text otherwise (a bare
// number other than 0 needs a unit; overflow is an error).
Result<std::chrono::nanoseconds> parse_go_duration(std::string_view text);

// `keep_alive` as Ollama reads it: a number is seconds (fractions dropped), a
// string a Go duration; 0 unloads now, negative keeps the lane forever. null
// means "not given". A 400 naming keep_alive for anything else.
std::optional<OllamaError> parse_keep_alive(const nlohmann::json& value, std::optional<KeepAlive>& out);

// --- model names ------------------------------------------------------------

// "llama3.2" -> "llama3.2:latest"; a name with a tag is kept as it is. A ':'
// inside a registry host ("host:5000/ns/model") is not a tag.
std::string ollama_full_name(std::string_view name);
// Whether a requested model name means `candidate` (a lane name or alias):
// equal after both get their implied ":latest", case-insensitively (Ollama's
// names are).
bool ollama_name_matches(std::string_view requested, std::string_view candidate);

// --- requests ---------------------------------------------------------------

struct OllamaRequest {
  OllamaEndpoint endpoint = OllamaEndpoint::generate;
  // model, messages (chat) or prompt (generate), sampling, stop; its
  // max_tokens stays unset (see num_predict) and its stream mirrors `stream`.
  CompletionRequest completion;
  bool stream = true;            // Ollama streams unless told not to
  bool raw = false;              // generate: the prompt goes to the model untemplated
  std::string system;            // generate: the system message for the template
  std::vector<int32_t> context;  // generate: `context` of an earlier answer (token ids)
  // The hook for the model pool: how long the lane stays resident after this
  // request (nullopt = the lane's own keep_alive).
  std::optional<KeepAlive> keep_alive;
  std::optional<int64_t> num_ctx;  // tokens of context the client asks for (> 0)
  // Tokens to generate: > 0 at most that many; 0 none; negative (-1
  // "infinite", -2 "fill the context", any other: Ollama treats every
  // negative value as unlimited) until the context is full or the model stops.
  std::optional<int64_t> num_predict;
  // Nothing to generate (generate without prompt, chat without messages):
  // Ollama answers done at once with done_reason "load".
  bool load_only = false;
  std::vector<std::string> ignored_options;  // option names read and ignored, for a debug log
};

std::optional<OllamaError> parse_ollama_request(const nlohmann::json& body, OllamaEndpoint endpoint,
                                                OllamaRequest& out);

// Tokens to generate at most for a prompt of `prompt_tokens` in a context of
// `context_tokens` (already narrowed by num_ctx): num_predict when positive,
// bounded by what the context leaves; the whole rest when absent or negative.
int64_t ollama_max_tokens(const OllamaRequest& req, int64_t prompt_tokens, int64_t context_tokens);

// --- answers ----------------------------------------------------------------

// "2024-05-01T12:00:00.123456789Z" (RFC 3339, UTC, nanoseconds as Go prints them).
std::string rfc3339_utc(std::chrono::system_clock::time_point t);

// The counters of a final object; durations in nanoseconds.
struct OllamaStats {
  int64_t total_ns = 0;
  int64_t load_ns = 0;
  int64_t prompt_eval_count = 0;
  int64_t prompt_eval_ns = 0;
  int64_t eval_count = 0;
  int64_t eval_ns = 0;
};

// One streamed chunk ("done": false), as one NDJSON line ending in '\n'.
std::string ollama_chunk(OllamaEndpoint endpoint, const std::string& model, const std::string& created_at,
                         const std::string& text);
// The final object ("done": true): `text` is the whole answer when not
// streamed, "" after a stream. `context` (generate only) is omitted when null.
// One NDJSON line ending in '\n'.
std::string ollama_final(OllamaEndpoint endpoint, const std::string& model, const std::string& created_at,
                         const std::string& text, const std::string& done_reason, const OllamaStats& stats,
                         const std::vector<int32_t>* context);

}  // namespace laneway::server
