#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace laneway::server {

std::string ApiError::to_json() const {
  nlohmann::json e = {{"message", message}, {"type", type}, {"code", code}};
  e["param"] = param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param);
  // Invalid UTF-8 from a client can end up quoted in a message; replace it
  // rather than throw while reporting an error.
  return nlohmann::json{{"error", e}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ApiError bad_request(std::string message, std::string param, std::string code) {
  return {400, "invalid_request_error", std::move(code), std::move(message), std::move(param)};
}

ApiError unsupported_field(const std::string& field, const std::string& why) {
  std::string msg = "The field '" + field + "' is not supported by this lane's embedded engine";
  if (!why.empty()) msg += " (" + why + ")";
  msg += "; remove it, or route the request to an upstream lane that supports it";
  return {400, "invalid_request_error", "unsupported_field", msg, field};
}

ApiError invalid_json(const std::string& detail) {
  return {400, "invalid_request_error", "invalid_json", "The request body is not valid JSON: " + detail, ""};
}

ApiError unauthorized(std::string message) {
  return {401, "authentication_error", "invalid_api_key", std::move(message), ""};
}

ApiError not_found(std::string message, std::string code) {
  return {404, "invalid_request_error", std::move(code), std::move(message), ""};
}

ApiError model_not_found(std::string message) {
  return {404, "invalid_request_error", "model_not_found", std::move(message), "model"};
}

ApiError method_not_allowed(const std::string& method, const std::string& path) {
  return {405, "invalid_request_error", "method_not_allowed", "Method " + method + " is not allowed on " + path, ""};
}

ApiError payload_too_large(uint64_t limit_bytes, const std::string& lane) {
  std::string msg = "The request body is larger than the limit of " + std::to_string(limit_bytes) + " bytes";
  if (!lane.empty()) msg += " for lane '" + lane + "' (max_body_bytes in the lane config)";
  return {413, "invalid_request_error", "request_too_large", msg, ""};
}

ApiError context_length_exceeded(std::string message, std::string param) {
  return {400, "invalid_request_error", "context_length_exceeded", std::move(message), std::move(param)};
}

ApiError rate_limited(std::string message, int retry_after_s) {
  return {429, "rate_limit_error", "rate_limit_exceeded", std::move(message), "", retry_after_s};
}

ApiError unavailable(std::string message, int retry_after_s) {
  return {503, "server_error", "lane_unavailable", std::move(message), "", retry_after_s};
}

ApiError upstream_error(std::string message) {
  return {502, "server_error", "upstream_error", std::move(message), ""};
}

ApiError gateway_timeout(std::string message) {
  return {504, "server_error", "request_timeout", std::move(message), ""};
}

ApiError internal_error_response(std::string message) {
  return {500, "server_error", "internal_error", std::move(message), ""};
}

ApiError from_status(const Status& status) {
  switch (status.code()) {
    case StatusCode::invalid_argument: return bad_request(status.message());
    case StatusCode::unsupported: return bad_request(status.message(), "", "unsupported");
    case StatusCode::not_found: return not_found(status.message());
    case StatusCode::resource_exhausted: return rate_limited(status.message(), 1);
    case StatusCode::cancelled: return unavailable(status.message(), 5);
    case StatusCode::unavailable: return unavailable(status.message(), 5);
    default: return internal_error_response(status.to_string());
  }
}

}  // namespace laneway::server
