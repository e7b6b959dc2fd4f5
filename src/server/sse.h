// Server-sent events for streamed completions, in OpenAI's chunk format:
//   data: {"id":..., "object":"chat.completion.chunk", "choices":[{"index":0,"delta":{...},"finish_reason":null}]}
//   ...
//   data: [DONE]
// With stream_options.include_usage, every chunk carries "usage": null and a
// last chunk with empty choices carries the usage. An error mid-stream is one
// event {"error": {...}} (what OpenAI's clients raise as an APIError).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "server/api_error.h"
#include "server/completion_request.h"

namespace laneway::server {

class SseFormatter {
 public:
  SseFormatter(Endpoint endpoint, std::string id, int64_t created, std::string model, bool include_usage)
      : endpoint_(endpoint), id_(std::move(id)), created_(created), model_(std::move(model)), include_usage_(include_usage) {}

  std::string role_chunk() const;                      // chat: delta {"role":"assistant","content":""}
  std::string text_chunk(std::string_view text) const;
  std::string finish_chunk(std::string_view finish_reason) const;
  std::string usage_chunk(int64_t prompt_tokens, int64_t completion_tokens) const;
  static std::string error_event(const ApiError& error);
  static std::string done() { return "data: [DONE]\n\n"; }

 private:
  std::string chunk(std::string_view text, bool role, std::string_view finish_reason) const;

  Endpoint endpoint_;
  std::string id_;
  int64_t created_;
  std::string model_;
  bool include_usage_;
};

// The whole (non-streamed) response body.
std::string completion_response(Endpoint endpoint, const std::string& id, int64_t created, const std::string& model,
                                const std::string& text, std::string_view finish_reason, int64_t prompt_tokens,
                                int64_t completion_tokens);

// The length of `bytes`' longest prefix that ends at the end of an event
// (a blank line: "\n\n", "\r\n\r\n" or "\r\r", as the SSE format allows), 0
// when no event has ended yet. The upstream proxy relays an event stream up
// to there and holds the rest until its event ends, so an upstream that fails
// mid-event never leaves the client a torn event in front of the error event.
// `bytes` must start at a line's start. Only event ends from `from` on are
// looked for: pass the length the bytes had at the last call less one (no
// event had ended before it; its last byte may have been half of "\r\n"), so
// that a stream fed in pieces is scanned once.
size_t sse_complete_prefix(std::string_view bytes, size_t from = 0);

}  // namespace laneway::server
