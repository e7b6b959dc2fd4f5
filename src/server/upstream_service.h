// UpstreamService: one OpenAI-compatible server behind one or more lanes
// (vLLM, llama-server, Ollama /v1, another Laneway). Holds its parsed URL,
// its resolved API key and its health, which a health loop per service keeps
// fresh and the proxy turns unhealthy at once when a request fails.
//
// Thread-safety: the health flag is atomic; last_error is behind a mutex;
// everything else is immutable after creation.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include <boost/asio.hpp>

#include "core/status.h"
#include "config/lane_config.h"

namespace laneway::server {

struct HttpUrl {
  std::string host;
  std::string port = "80";
  std::string base_path;  // without a trailing slash: "/v1", or "" for the root
};
// http://host[:port][/path]; https is refused (no TLS client yet).
Result<HttpUrl> parse_http_url(const std::string& url);

class UpstreamService {
 public:
  static Result<std::unique_ptr<UpstreamService>> create(const ServiceConfig& config);

  const std::string& name() const { return name_; }
  const std::string& url_text() const { return url_text_; }
  const HttpUrl& url() const { return url_; }
  const std::string& api_key() const { return api_key_; }

  // `/v1/...` under the service's base URL: base_path + suffix ("/chat/completions").
  std::string target(std::string_view suffix) const { return url_.base_path + std::string(suffix); }
  // Where health is probed: /health beside the API root, then <base>/models.
  std::string health_target() const;
  std::string models_target() const { return url_.base_path + "/models"; }

  bool healthy() const { return healthy_.load(std::memory_order_acquire); }
  void mark_healthy();
  void mark_unhealthy(std::string why);
  std::string last_error() const;
  int64_t checks() const { return checks_.load(); }
  int64_t failures() const { return failures_.load(); }
  void count_check(bool ok) {
    ++checks_;
    if (!ok) ++failures_;
  }

 private:
  std::string name_;
  std::string url_text_;
  HttpUrl url_;
  std::string api_key_;
  std::atomic<bool> healthy_{false};  // unknown until the first probe answers
  std::atomic<int64_t> checks_{0};
  std::atomic<int64_t> failures_{0};
  mutable std::mutex mu_;
  std::string last_error_ = "not checked yet";  // guarded by mu_
};

// Probes the service every `interval` until `stop` is set: GET /health, and
// <base>/models when /health is missing (404). Runs on its own strand.
boost::asio::awaitable<void> upstream_health_loop(UpstreamService& service, std::chrono::milliseconds interval,
                                                  const std::atomic<bool>& stop);
// One probe (also used at start-up). True when the service answered 200.
boost::asio::awaitable<bool> probe_upstream(UpstreamService& service, std::chrono::milliseconds timeout);

}  // namespace laneway::server
