#include "server/http_server.h"

#include <sys/resource.h>

#include <algorithm>

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace laneway::server {

using namespace net::experimental::awaitable_operators;

struct HttpServer::Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  bool idle = true;  // waiting for the next request (touched on the strand only)
};

namespace {

net::awaitable<void> expire_after(std::chrono::milliseconds d) {
  net::steady_timer timer(co_await net::this_coro::executor);
  timer.expires_after(d);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

// (Errors are built outside co_await expressions: GCC 12 mishandles braced
// temporaries there.)
ApiError http_error(int status, const char* code, std::string message) {
  return {status, "invalid_request_error", code, std::move(message), ""};
}

// Writes a complete error response outside of an exchange (bad HTTP, body too large).
net::awaitable<void> write_error(tcp::socket& socket, const ApiError& error, unsigned version,
                                 std::chrono::milliseconds timeout) {
  http::response<http::string_body> res{static_cast<http::status>(error.http_status), version ? version : 11};
  res.set(http::field::server, "laneway");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(false);
  res.body() = error.to_json();
  res.prepare_payload();
  co_await (http::async_write(socket, res, net::as_tuple(net::use_awaitable)) || expire_after(timeout));
}

// Reads and drops what the client still sends, until it closes or time is up.
// Closing a socket with unread bytes makes the kernel send a reset, which
// can destroy the error response before the client reads it.
net::awaitable<void> drain(tcp::socket& socket) {
  std::array<char, 16384> scratch;
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(net::buffer(scratch), net::as_tuple(net::use_awaitable));
    if (ec) co_return;
  }
}

}  // namespace

HttpServer::HttpServer(net::io_context& ioc, RequestHandler& handler, HttpServerOptions options)
    : ioc_(ioc),
      handler_(handler),
      options_(std::move(options)),
      max_connections_(options_.max_connections > 0 ? options_.max_connections : default_max_connections()) {}

HttpServer::~HttpServer() = default;

Status HttpServer::listen(const std::string& host, int port) {
  boost::system::error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec) return invalid_argument_error("cannot resolve host {}: {}", host, ec.message());
  std::string last_error = "no usable address";
  // One address is enough: "localhost" would otherwise race ::1 and 127.0.0.1 for an ephemeral port.
  for (const auto& entry : results) {
    // The acceptor has its own strand so stop_accepting() can close it safely.
    auto acceptor = std::make_shared<tcp::acceptor>(net::make_strand(ioc_));
    const tcp::endpoint ep = entry.endpoint();
    acceptor->open(ep.protocol(), ec);
    if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      last_error = ec.message();
      continue;
    }
    port_ = acceptor->local_endpoint().port();
    acceptors_.push_back(std::move(acceptor));
    return Status::ok();
  }
  return io_error("cannot listen on {}:{}: {}", host, port, last_error);
}

void HttpServer::start() {
  for (auto& acceptor : acceptors_) {
    net::co_spawn(acceptor->get_executor(), accept_loop(acceptor), net::detached);
  }
}

void HttpServer::stop_accepting() {
  stopping_ = true;
  for (auto& acceptor : acceptors_) {
    net::post(acceptor->get_executor(), [acceptor] {
      boost::system::error_code ignored;
      acceptor->close(ignored);
    });
  }
  std::lock_guard<std::mutex> lock(connections_mu_);
  for (auto& weak : connections_) {
    if (auto conn = weak.lock()) {
      net::post(conn->socket.get_executor(), [conn] {
        // An idle connection would otherwise sit in its header read until
        // the timeout; busy ones finish their request and then close.
        if (conn->idle) {
          boost::system::error_code ignored;
          conn->socket.cancel(ignored);
        }
      });
    }
  }
  connections_.clear();
}

int64_t default_max_connections() {
  struct rlimit lim {};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return 4096;
  return std::clamp<int64_t>(static_cast<int64_t>(lim.rlim_cur) / 2, 16, 4096);
}

net::awaitable<void> HttpServer::accept_loop(std::shared_ptr<tcp::acceptor> acceptor) {
  while (!stopping_) {
    // Each connection gets its own strand: its coroutine, its timers and the
    // events posted to it from engine threads never run concurrently.
    auto [ec, socket] = co_await acceptor->async_accept(net::make_strand(ioc_), net::as_tuple(net::use_awaitable));
    if (ec) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) co_return;
      continue;  // EMFILE and friends: keep accepting
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // SSE events are small; send them now
    if (open_connections_.load() >= max_connections_) {
      // Full: a short answer and close, so the descriptors left serve the
      // connections already open.
      net::co_spawn(socket.get_executor(), refuse(std::move(socket)), net::detached);
      continue;
    }
    auto conn = std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard<std::mutex> lock(connections_mu_);
      std::erase_if(connections_, [](const auto& w) { return w.expired(); });
      connections_.push_back(conn);
    }
    auto ex = conn->socket.get_executor();
    net::co_spawn(ex, serve(std::move(conn)), net::detached);
  }
}

net::awaitable<void> HttpServer::refuse(tcp::socket socket) {
  ++refused_connections_;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  int64_t last = last_refusal_log_ms_.load();
  if (now_ms - last >= 10'000 && last_refusal_log_ms_.compare_exchange_strong(last, now_ms)) {
    const int64_t count = refused_connections_.exchange(0);
    options_.log.write(spdlog::level::warn, "connections",
                       "too many open connections: new ones get 503 until some close",
                       {{"open", open_connections_.load()}, {"max_connections", max_connections_},
                        {"refused", count}});
  }
  const ApiError e = http_error(503, "too_many_connections",
                                "The server has too many open connections; retry shortly");
  co_await write_error(socket, e, 11, std::chrono::milliseconds(1000));
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

net::awaitable<void> HttpServer::serve(std::shared_ptr<Connection> conn) {
  ++open_connections_;
  struct Closer {
    HttpServer* self;
    ~Closer() { --self->open_connections_; }
  } closer{this};
  tcp::socket& socket = conn->socket;
  beast::flat_buffer buffer;
  bool drain_before_close = false;  // after an error answered without reading the whole request
  for (;;) {
    conn->idle = true;
    if (stopping_) break;
    http::request_parser<http::string_body> parser;
    parser.header_limit(options_.header_limit_bytes);
    parser.body_limit(boost::none);  // set per request once the header is known
    auto header = co_await (http::async_read_header(socket, buffer, parser, net::as_tuple(net::use_awaitable)) ||
                            expire_after(options_.header_timeout));
    conn->idle = false;
    if (header.index() == 1) {
      // Slow or silent client: an idle keep-alive connection just closes; a
      // half-sent header gets 408.
      if (buffer.size() > 0) {
        const ApiError e = http_error(408, "request_timeout", "Request header timed out");
        co_await write_error(socket, e, 11, options_.write_timeout);
        drain_before_close = true;
      }
      break;
    }
    if (auto [ec, n] = std::get<0>(header); ec) {
      if (ec == http::error::end_of_stream || ec == net::error::eof || ec == net::error::operation_aborted ||
          ec == net::error::connection_reset) {
        break;
      }
      const int status = ec == http::error::header_limit ? 431 : 400;
      const ApiError e = http_error(status, status == 431 ? "header_too_large" : "bad_http",
                                    "Malformed HTTP request: " + ec.message());
      co_await write_error(socket, e, 11, options_.write_timeout);
      drain_before_close = true;
      break;
    }
    const auto limit = handler_.body_limit(parser.get().base());
    if (auto len = parser.content_length(); len && *len > limit.bytes) {
      const ApiError e = payload_too_large(limit.bytes, limit.lane);
      co_await write_error(socket, e, parser.get().version(), options_.write_timeout);
      drain_before_close = true;
      break;
    }
    parser.body_limit(limit.bytes);
    if (!parser.is_done()) {
      // Piece by piece: each read races the inactivity timeout, the whole
      // body the overall one.
      const auto deadline = std::chrono::steady_clock::now() + options_.body_timeout;
      bool timed_out = false;
      boost::system::error_code ec;
      while (!parser.is_done()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                                std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          timed_out = true;
          break;
        }
        auto piece = co_await (http::async_read_some(socket, buffer, parser, net::as_tuple(net::use_awaitable)) ||
                               expire_after(std::min(left, options_.body_idle_timeout)));
        if (piece.index() == 1) {
          timed_out = true;
          break;
        }
        ec = std::get<0>(std::get<0>(piece));
        if (ec) break;
      }
      if (timed_out) {
        const ApiError e = http_error(408, "request_timeout", "Request body timed out");
        co_await write_error(socket, e, parser.get().version(), options_.write_timeout);
        break;
      }
      if (ec) {
        if (ec == http::error::body_limit) {
          const ApiError e = payload_too_large(limit.bytes, limit.lane);
          co_await write_error(socket, e, parser.get().version(), options_.write_timeout);
          drain_before_close = true;
        } else if (ec != http::error::end_of_stream && ec != net::error::eof && ec != net::error::connection_reset) {
          const ApiError e = http_error(400, "bad_http", "Malformed HTTP body: " + ec.message());
          co_await write_error(socket, e, parser.get().version(), options_.write_timeout);
        }
        break;
      }
    }
    HttpRequest request = parser.release();
    HttpExchange exchange(socket, buffer, request, options_.write_timeout);
    ++active_requests_;
    std::string failure;
    try {
      co_await handler_.handle(exchange);
    } catch (const std::exception& e) {
      failure = e.what();  // (no co_await inside a handler: answer below)
    }
    if (!failure.empty() && !exchange.responded()) {
      // A bug in a route must not take the server down; answer 500 if we still can.
      co_await exchange.send_error(internal_error_response("internal error: " + failure));
    }
    --active_requests_;
    if (!exchange.responded()) {
      co_await exchange.send_error(internal_error_response("the route sent no response"));
    }
    if (exchange.streaming() || !exchange.keep_alive() || exchange.client_gone() || !request.keep_alive()) break;
  }
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  if (drain_before_close) co_await (drain(socket) || expire_after(std::chrono::milliseconds(1000)));
  socket.close(ignored);
}

}  // namespace laneway::server
