// ApiError: every error the server answers, in OpenAI's shape:
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "max_tokens", "code": "invalid_value"}}
// `code` is always a string so clients can switch on it; `param` names the
// offending field when there is one (null otherwise).
#pragma once

#include <string>

#include "core/status.h"

namespace laneway::server {

struct ApiError {
  int http_status = 400;
  std::string type = "invalid_request_error";
  std::string code = "invalid_request";
  std::string message;
  std::string param;         // "" = null
  int retry_after_s = 0;     // > 0: send Retry-After (429, 503)

  std::string to_json() const;
};

// Builders for the errors the routes use.
ApiError bad_request(std::string message, std::string param = "", std::string code = "invalid_value");
ApiError unsupported_field(const std::string& field, const std::string& why = "");
ApiError invalid_json(const std::string& detail);
ApiError unauthorized(std::string message);
ApiError not_found(std::string message, std::string code = "not_found");
ApiError model_not_found(std::string message);
ApiError method_not_allowed(const std::string& method, const std::string& path);
ApiError payload_too_large(uint64_t limit_bytes, const std::string& lane);
// `param`: the field holding the prompt ("messages" on chat, "prompt" on completions).
ApiError context_length_exceeded(std::string message, std::string param);
ApiError rate_limited(std::string message, int retry_after_s);
ApiError unavailable(std::string message, int retry_after_s);
ApiError upstream_error(std::string message);
ApiError gateway_timeout(std::string message);
ApiError internal_error_response(std::string message);
// Maps a Status from the runtime (invalid_argument -> 400, resource_exhausted -> 429, ...).
ApiError from_status(const Status& status);

}  // namespace laneway::server
