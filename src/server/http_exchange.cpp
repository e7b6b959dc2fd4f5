#include "server/http_exchange.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace laneway::server {

using namespace net::experimental::awaitable_operators;

namespace {

net::awaitable<void> expire_after(std::chrono::milliseconds d) {
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

}  // namespace

net::awaitable<bool> HttpExchange::write_with_timeout(net::const_buffer data) {
  auto r = co_await (net::async_write(stream_, data, net::as_tuple(net::use_awaitable)) || expire_after(write_timeout_));
  if (r.index() == 1) {
    // The client stopped reading: give up on it rather than hold the stream.
    keep_alive_ = false;
    client_gone_ = true;
    co_return false;
  }
  const auto [ec, n] = std::get<0>(r);
  if (ec) {
    keep_alive_ = false;
    client_gone_ = true;
    co_return false;
  }
  co_return true;
}

net::awaitable<bool> HttpExchange::send(http::status status, std::string body, std::string_view content_type,
                                        int retry_after_s) {
  responded_ = true;
  status_code_ = static_cast<int>(status);
  http::response<http::string_body> res{status, request_.version()};
  res.set(http::field::server, "laneway");
  res.set(http::field::content_type, content_type);
  if (retry_after_s > 0) res.set(http::field::retry_after, std::to_string(retry_after_s));
  for (const auto& [name, value] : extra_headers_) res.set(name, value);
  res.keep_alive(request_.keep_alive() && keep_alive_);
  keep_alive_ = res.keep_alive();
  res.body() = std::move(body);
  res.prepare_payload();
  auto r = co_await (http::async_write(stream_, res, net::as_tuple(net::use_awaitable)) || expire_after(write_timeout_));
  if (r.index() == 1 || std::get<0>(std::get<0>(r))) {
    keep_alive_ = false;
    client_gone_ = true;
    co_return false;
  }
  co_return true;
}

net::awaitable<bool> HttpExchange::send_error(const ApiError& error) {
  return send(static_cast<http::status>(error.http_status), error.to_json(), "application/json", error.retry_after_s);
}

net::awaitable<bool> HttpExchange::begin_stream(http::status status, std::string_view content_type) {
  responded_ = true;
  streaming_ = true;
  status_code_ = static_cast<int>(status);
  http::response<http::empty_body> res{status, request_.version()};
  res.set(http::field::server, "laneway");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-cache");
  for (const auto& [name, value] : extra_headers_) res.set(name, value);
  res.keep_alive(request_.keep_alive());
  keep_alive_ = res.keep_alive();
  res.chunked(true);
  http::response_serializer<http::empty_body> sr{res};
  auto r = co_await (http::async_write_header(stream_, sr, net::as_tuple(net::use_awaitable)) ||
                     expire_after(write_timeout_));
  if (r.index() == 1 || std::get<0>(std::get<0>(r))) {
    keep_alive_ = false;
    client_gone_ = true;
    co_return false;
  }
  co_return true;
}

net::awaitable<bool> HttpExchange::write_chunk(std::string_view data) {
  if (data.empty()) co_return !client_gone_;  // an empty chunk would end the body
  // Chunk header, data and CRLF in one write: one packet per event.
  char header[32];
  const int n = std::snprintf(header, sizeof(header), "%zx\r\n", data.size());
  std::string framed;
  framed.reserve(static_cast<size_t>(n) + data.size() + 2);
  framed.append(header, static_cast<size_t>(n)).append(data).append("\r\n");
  co_return co_await write_with_timeout(net::buffer(framed));
}

net::awaitable<bool> HttpExchange::end_stream() {
  static constexpr std::string_view kLast = "0\r\n\r\n";
  const bool ok = co_await write_with_timeout(net::buffer(kLast.data(), kLast.size()));
  streaming_ = false;
  co_return ok;
}

net::awaitable<void> HttpExchange::watch_hangup() {
  if (client_gone_) co_return;
  if (watching_) {
    auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted) co_return;  // cancelled: the other side of the race won
    if (ec) {
      client_gone_ = true;
      keep_alive_ = false;
      co_return;
    }
    // A client that pipelines its next request is still there; keep its
    // bytes for the connection and stop reading ahead (the buffer must not grow).
    buffer_.commit(n);
    watching_ = false;
  }
  net::steady_timer never(stream_.get_executor(), net::steady_timer::time_point::max());
  co_await never.async_wait(net::as_tuple(net::use_awaitable));
}

net::awaitable<bool> HttpExchange::wait_or_disconnect(net::steady_timer& signal) {
  if (client_gone_) co_return false;
  co_await (signal.async_wait(net::as_tuple(net::use_awaitable)) || watch_hangup());
  co_return !client_gone_;
}

}  // namespace laneway::server
