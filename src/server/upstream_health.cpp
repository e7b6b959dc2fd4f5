// Health probes of upstream replicas, and the sleep and wake calls of burst
// mode, over the same transport as requests (server/upstream_connection.h):
// plain HTTP or verified TLS.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <nlohmann/json.hpp>

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

// One request with `body` (JSON; none when empty) to `target`; the status
// code, or 0 with `error` set; the answer's body in `answer` when given.
net::awaitable<int> http_call(const UpstreamService& s, const UpstreamReplica& r, http::verb verb, const std::string& target,
                              const std::string& body, std::chrono::milliseconds timeout, std::string& error,
                              std::string* answer = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  UpstreamConnection conn(co_await net::this_coro::executor);
  // Connecting (and TLS) gets 5 s at most: a replica that is gone must not
  // hold a sleep or wake call, or the shutdown waiting for it, for the whole timeout.
  const auto connect_by = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(5));
  if (std::string why = co_await conn.open(s, r, connect_by); !why.empty()) {
    error = std::move(why);
    co_return 0;
  }
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, UpstreamConnection::host_header(r.url()));
  req.set(http::field::user_agent, "laneway");
  if (!s.api_key().empty()) req.set(http::field::authorization, "Bearer " + s.api_key());
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.keep_alive(false);
  req.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);  // control answers are small
  auto w = co_await (conn.write(req) || expire_at(deadline));
  if (w.index() == 1 || std::get<0>(std::get<0>(w))) {
    error = w.index() == 1 ? "request timed out" : "request failed: " + std::get<0>(std::get<0>(w)).message();
    co_return 0;
  }
  auto rd = co_await (conn.read(buffer, parser) || expire_at(deadline));
  if (rd.index() == 1) {
    error = "no answer within " + std::to_string(timeout.count()) + " ms";
    co_return 0;
  }
  if (auto [ec, n] = std::get<0>(rd); ec) {
    error = "reading the answer failed: " + ec.message();
    co_return 0;
  }
  if (answer) *answer = parser.get().body();
  co_return parser.get().result_int();
}

net::awaitable<int> http_get_status(const UpstreamService& s, const UpstreamReplica& r, const std::string& target,
                                    std::chrono::milliseconds timeout, std::string& error) {
  co_return co_await http_call(s, r, http::verb::get, target, "", timeout, error);
}

// Runs `call` to its end on an io_context of its own (the pool's loader
// thread calls the sleep hooks; the server's threads may be stopping).
template <typename Call>
Status run_blocking(Call call) {
  net::io_context ioc;
  Status out = internal_error("not run");
  net::co_spawn(ioc, call(), [&](std::exception_ptr e, Status st) {
    out = e ? internal_error("the call threw") : std::move(st);
  });
  ioc.run();
  return out;
}

// POST `call` to every replica; ok when each answered 2xx. (`call` by value:
// the coroutine outlives the caller's temporaries.)
net::awaitable<Status> post_to_replicas(const UpstreamService& s, ServiceCall call, std::chrono::milliseconds timeout) {
  for (const auto& r : s.replicas()) {
    std::string error;
    const int status = co_await http_call(s, *r, http::verb::post, call.path, call.body, timeout, error);
    if (status == 0) co_return make_error(StatusCode::unavailable, "POST {} to {}: {}", call.path, r->url_text(), error);
    if (status < 200 || status >= 300) {
      co_return make_error(StatusCode::unavailable, "POST {} to {} answered HTTP {}", call.path, r->url_text(), status);
    }
  }
  co_return Status::ok();
}

}  // namespace

Status sleep_service(const UpstreamService& service, const ServiceSleep& sleep, std::chrono::milliseconds timeout) {
  return run_blocking([&]() { return post_to_replicas(service, {sleep.sleep_target(), ""}, timeout); });
}

Status wake_service(const UpstreamService& service, const ServiceSleep& sleep, bool after_sleep,
                    std::chrono::milliseconds timeout, bool* woke) {
  if (woke) *woke = false;
  return run_blocking([&]() -> net::awaitable<Status> {
    if (!after_sleep) {
      // Asleep already (put to sleep by an earlier run)? vLLM says so at
      // /is_sleeping; a service that does not (or is not up) is taken as awake.
      bool asleep = false;
      for (const auto& r : service.replicas()) {
        std::string error, answer;
        const int status = co_await http_call(service, *r, http::verb::get, "/is_sleeping", "", timeout, error, &answer);
        if (status != 200) continue;
        const auto j = nlohmann::json::parse(answer, nullptr, false);
        asleep = asleep || (j.is_object() && j.contains("is_sleeping") && j["is_sleeping"] == true);
      }
      if (!asleep) co_return Status::ok();
    }
    for (const ServiceCall& call : sleep.wake) {
      if (Status st = co_await post_to_replicas(service, call, timeout); !st.is_ok()) co_return st;
    }
    if (woke) *woke = true;
    co_return Status::ok();
  });
}


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
