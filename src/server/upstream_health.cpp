// Health probes of upstream replicas, over the same transport as requests
// (server/upstream_connection.h): plain HTTP or verified TLS.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "server/upstream_connection.h"
#include "server/upstream_service.h"

namespace laneway::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace net::experimental::awaitable_operators;

namespace {

net::awaitable<void> expire_at(std::chrono::steady_clock::time_point t) {
  net::steady_timer timer(co_await net::this_coro::executor, t);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

// GET target; the status code, or 0 with `error` set.
net::awaitable<int> http_get_status(const UpstreamService& s, const UpstreamReplica& r, const std::string& target,
                                    std::chrono::milliseconds timeout, std::string& error) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  UpstreamConnection conn(co_await net::this_coro::executor);
  if (std::string why = co_await conn.open(s, r, deadline); !why.empty()) {
    error = std::move(why);
    co_return 0;
  }
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, UpstreamConnection::host_header(r.url()));
  req.set(http::field::user_agent, "laneway-health");
  if (!s.api_key().empty()) req.set(http::field::authorization, "Bearer " + s.api_key());
  req.keep_alive(false);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  auto w = co_await (conn.write(req) || expire_at(deadline));
  if (w.index() == 1 || std::get<0>(std::get<0>(w))) {
    error = w.index() == 1 ? "request timed out" : "request failed: " + std::get<0>(std::get<0>(w)).message();
    co_return 0;
  }
  auto rd = co_await (conn.read(buffer, res) || expire_at(deadline));
  if (rd.index() == 1) {
    error = "no answer within " + std::to_string(timeout.count()) + " ms";
    co_return 0;
  }
  if (auto [ec, n] = std::get<0>(rd); ec) {
    error = "reading the answer failed: " + ec.message();
    co_return 0;
  }
  co_return res.result_int();
}

}  // namespace

net::awaitable<bool> probe_upstream(UpstreamService& service, UpstreamReplica& replica, std::chrono::milliseconds timeout) {
  std::string error;
  int status = co_await http_get_status(service, replica, UpstreamService::health_target(replica), timeout, error);
  if (status == 404) {
    status = co_await http_get_status(service, replica, replica.url().base_path + "/models", timeout, error);
  }
  const bool ok = status == 200;
  replica.count_check(ok);
  if (ok) {
    replica.mark_healthy();
  } else {
    replica.mark_unhealthy(status == 0 ? error : "health check answered HTTP " + std::to_string(status));
  }
  co_return ok;
}

net::awaitable<void> upstream_health_loop(UpstreamService& service, size_t replica, std::chrono::milliseconds interval,
                                          const std::atomic<bool>& stop) {
  const auto timeout = std::max(std::chrono::milliseconds(500), std::min(interval, std::chrono::milliseconds(5000)));
  UpstreamReplica& r = service.replica(replica);
  net::steady_timer timer(co_await net::this_coro::executor);
  while (!stop.load()) {
    co_await probe_upstream(service, r, timeout);
    // Healthy: the next probe after `interval`; unhealthy: after the backoff
    // (shutdown stops the io_context, so a long backoff holds nothing up).
    timer.expires_after(r.next_probe_delay(interval));
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  }
}

}  // namespace laneway::server
