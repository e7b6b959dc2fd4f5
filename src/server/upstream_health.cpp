#include "server/upstream_service.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace laneway::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using namespace net::experimental::awaitable_operators;

Result<HttpUrl> parse_http_url(const std::string& url) {
  if (url.rfind("https://", 0) == 0) {
    return unsupported_error("{}: https upstreams are not supported yet; use http:// (a local service, or a TLS proxy)", url);
  }
  if (url.rfind("http://", 0) != 0) return invalid_argument_error("{}: expected an http:// URL", url);
  std::string rest = url.substr(7);
  HttpUrl out;
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out.base_path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
  if (authority.empty()) return invalid_argument_error("{}: no host", url);
  if (authority.front() == '[') {  // [::1]:8000
    const size_t close = authority.find(']');
    if (close == std::string::npos) return invalid_argument_error("{}: bad IPv6 address", url);
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return invalid_argument_error("{}: bad port", url);
      out.port = authority.substr(close + 2);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
  } else {
    out.host = authority;
  }
  if (out.host.empty() || out.port.empty() ||
      out.port.find_first_not_of("0123456789") != std::string::npos || std::stoul(out.port) > 65535) {
    return invalid_argument_error("{}: bad host or port", url);
  }
  return out;
}

Result<std::unique_ptr<UpstreamService>> UpstreamService::create(const ServiceConfig& config) {
  auto s = std::unique_ptr<UpstreamService>(new UpstreamService());
  s->name_ = config.name;
  s->url_text_ = config.url;
  auto url = parse_http_url(config.url);
  if (!url) return url.status().with_context("service " + config.name);
  s->url_ = *url;
  auto key = resolve_secret(config.api_key);
  if (!key) return key.status().with_context("service " + config.name + " api_key");
  s->api_key_ = *key;
  return s;
}

std::string UpstreamService::health_target() const {
  // http://host:8000/v1 -> /health (vLLM, llama-server, Laneway); a deeper
  // base keeps its prefix: http://host/ollama/v1 -> /ollama/health.
  std::string root = url_.base_path;
  if (root.size() >= 3 && root.compare(root.size() - 3, 3, "/v1") == 0) root.resize(root.size() - 3);
  return root + "/health";
}

void UpstreamService::mark_healthy() {
  if (!healthy_.exchange(true)) {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_.clear();
  }
}

void UpstreamService::mark_unhealthy(std::string why) {
  healthy_.store(false, std::memory_order_release);
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = std::move(why);
}

std::string UpstreamService::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

namespace {

net::awaitable<void> expire_after(std::chrono::milliseconds d) {
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

// GET target; the status code, or 0 with `error` set.
net::awaitable<int> http_get_status(const UpstreamService& s, const std::string& target, std::chrono::milliseconds timeout,
                                    std::string& error) {
  auto ex = co_await net::this_coro::executor;
  tcp::resolver resolver(ex);
  auto [rec, endpoints] = co_await resolver.async_resolve(s.url().host, s.url().port, net::as_tuple(net::use_awaitable));
  if (rec) {
    error = "cannot resolve " + s.url().host + ": " + rec.message();
    co_return 0;
  }
  tcp::socket socket(ex);
  auto c = co_await (net::async_connect(socket, endpoints, net::as_tuple(net::use_awaitable)) || expire_after(timeout));
  if (c.index() == 1 || std::get<0>(std::get<0>(c))) {
    error = c.index() == 1 ? "connect timed out" : "connect failed: " + std::get<0>(std::get<0>(c)).message();
    co_return 0;
  }
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, s.url().host + ":" + s.url().port);
  req.set(http::field::user_agent, "laneway-health");
  if (!s.api_key().empty()) req.set(http::field::authorization, "Bearer " + s.api_key());
  req.keep_alive(false);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  auto w = co_await (http::async_write(socket, req, net::as_tuple(net::use_awaitable)) || expire_after(timeout));
  if (w.index() == 1 || std::get<0>(std::get<0>(w))) {
    error = w.index() == 1 ? "request timed out" : "request failed: " + std::get<0>(std::get<0>(w)).message();
    co_return 0;
  }
  auto r = co_await (http::async_read(socket, buffer, res, net::as_tuple(net::use_awaitable)) || expire_after(timeout));
  if (r.index() == 1) {
    error = "no answer within " + std::to_string(timeout.count()) + " ms";
    co_return 0;
  }
  if (auto [ec, n] = std::get<0>(r); ec) {
    error = "reading the answer failed: " + ec.message();
    co_return 0;
  }
  co_return res.result_int();
}

}  // namespace

net::awaitable<bool> probe_upstream(UpstreamService& service, std::chrono::milliseconds timeout) {
  std::string error;
  int status = co_await http_get_status(service, service.health_target(), timeout, error);
  if (status == 404) status = co_await http_get_status(service, service.models_target(), timeout, error);
  const bool ok = status == 200;
  service.count_check(ok);
  if (ok) {
    service.mark_healthy();
  } else {
    service.mark_unhealthy(status == 0 ? error : "health check answered HTTP " + std::to_string(status));
  }
  co_return ok;
}

net::awaitable<void> upstream_health_loop(UpstreamService& service, std::chrono::milliseconds interval,
                                          const std::atomic<bool>& stop) {
  const auto timeout = std::max(std::chrono::milliseconds(500), std::min(interval, std::chrono::milliseconds(5000)));
  net::steady_timer timer(co_await net::this_coro::executor);
  while (!stop.load()) {
    co_await probe_upstream(service, timeout);
    timer.expires_after(interval);
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  }
}

}  // namespace laneway::server
