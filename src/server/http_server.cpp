#include "server/http_server.h"

#include <sys/resource.h>

#include <algorithm>

#include <fmt/format.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace laneway::server {

using namespace net::experimental::awaitable_operators;

struct HttpServer::Connection {
  Connection(tcp::socket s, net::ssl::context* tls) : stream(std::move(s), tls) {}
  HttpStream stream;
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
net::awaitable<void> write_error(HttpStream& stream, const ApiError& error, unsigned version,
                                 std::chrono::milliseconds timeout) {
  http::response<http::string_body> res{static_cast<http::status>(error.http_status), version ? version : 11};
  res.set(http::field::server, "laneway");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(false);
  res.body() = error.to_json();
  res.prepare_payload();
  co_await (http::async_write(stream, res, net::as_tuple(net::use_awaitable)) || expire_after(timeout));
}

// Reads and drops what the client still sends, until it closes or time is up.
// Closing a socket with unread bytes makes the kernel send a reset, which
// can destroy the error response before the client reads it. (Raw TCP even
// on a TLS connection: the bytes are thrown away, there is nothing to decrypt.)
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
      net::post(conn->stream.get_executor(), [conn] {
        // An idle connection would otherwise sit in its header read (or its
        // TLS handshake) until the timeout; busy ones finish their request
        // and then close.
        if (conn->idle) {
          boost::system::error_code ignored;
          conn->stream.socket().cancel(ignored);
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
    auto conn = std::make_shared<Connection>(std::move(socket), options_.tls.get());
    if (open_connections_.load() >= max_connections_) {
      // Full: a short answer and close, so the descriptors left serve the
      // connections already open.
      auto ex = conn->stream.get_executor();
      net::co_spawn(ex, refuse(std::move(conn)), net::detached);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(connections_mu_);
      std::erase_if(connections_, [](const auto& w) { return w.expired(); });
      connections_.push_back(conn);
    }
    auto ex = conn->stream.get_executor();
    net::co_spawn(ex, serve(std::move(conn)), net::detached);
  }
}

net::awaitable<void> HttpServer::refuse(std::shared_ptr<Connection> conn) {
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
  // Over TLS the answer needs a handshake first; a short one, so refusals
  // stay cheap (a client that stalls it is just closed).
  bool can_answer = true;
  if (conn->stream.tls()) can_answer = co_await handshake(conn->stream, std::chrono::milliseconds(1000));
  if (can_answer) co_await write_error(conn->stream, e, 11, std::chrono::milliseconds(1000));
  boost::system::error_code ignored;
  conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  conn->stream.socket().close(ignored);
}

net::awaitable<bool> HttpServer::handshake(HttpStream& stream, std::chrono::milliseconds timeout) {
  auto hs = co_await (stream.tls_stream()->async_handshake(net::ssl::stream_base::server,
                                                           net::as_tuple(net::use_awaitable)) ||
                      expire_after(timeout));
  if (hs.index() == 1) co_return false;  // never finished: closed like a silent client
  const auto [ec] = std::get<0>(hs);
  if (!ec) co_return true;
  // Plain HTTP sent to the TLS port: OpenSSL recognises the request line. Say
  // so in plain HTTP (the client reads no TLS) and close.
  if (ec.category() == net::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST) {
    static constexpr std::string_view kBody = "This port speaks HTTPS: send the request to https:// instead\n";
    const std::string answer = fmt::format(
        "HTTP/1.1 400 Bad Request\r\nServer: laneway\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
        "Connection: close\r\n\r\n{}",
        kBody.size(), kBody);
    co_await (net::async_write(stream.socket(), net::buffer(answer), net::as_tuple(net::use_awaitable)) ||
              expire_after(options_.write_timeout));
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    co_await (drain(stream.socket()) || expire_after(std::chrono::milliseconds(1000)));
  }
  co_return false;
}

net::awaitable<void> HttpServer::serve(std::shared_ptr<Connection> conn) {
  ++open_connections_;
  struct Closer {
    HttpServer* self;
    ~Closer() { --self->open_connections_; }
  } closer{this};
  HttpStream& stream = conn->stream;
  beast::flat_buffer buffer;
  bool drain_before_close = false;  // after an error answered without reading the whole request
  // TLS: the handshake first, within the header timeout (stop_accepting()
  // cancels it like an idle header read).
  if (stream.tls()) {
    // (co_await kept out of compound conditions: GCC 12's coroutines.)
    bool shaken = !stopping_;
    if (shaken) shaken = co_await handshake(stream, options_.header_timeout);
    if (!shaken) {
      boost::system::error_code ignored;
      stream.socket().close(ignored);
      co_return;
    }
  }
  for (;;) {
    conn->idle = true;
    if (stopping_) break;
    http::request_parser<http::string_body> parser;
    parser.header_limit(options_.header_limit_bytes);
    parser.body_limit(boost::none);  // set per request once the header is known
    auto header = co_await (http::async_read_header(stream, buffer, parser, net::as_tuple(net::use_awaitable)) ||
                            expire_after(options_.header_timeout));
    conn->idle = false;
    if (header.index() == 1) {
      // Slow or silent client: an idle keep-alive connection just closes; a
      // half-sent header gets 408.
      if (buffer.size() > 0) {
        const ApiError e = http_error(408, "request_timeout", "Request header timed out");
        co_await write_error(stream, e, 11, options_.write_timeout);
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
      co_await write_error(stream, e, 11, options_.write_timeout);
      drain_before_close = true;
      break;
    }
    const auto limit = handler_.body_limit(parser.get().base());
    if (auto len = parser.content_length(); len && *len > limit.bytes) {
      const ApiError e = payload_too_large(limit.bytes, limit.lane);
      co_await write_error(stream, e, parser.get().version(), options_.write_timeout);
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
        auto piece = co_await (http::async_read_some(stream, buffer, parser, net::as_tuple(net::use_awaitable)) ||
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
        co_await write_error(stream, e, parser.get().version(), options_.write_timeout);
        break;
      }
      if (ec) {
        if (ec == http::error::body_limit) {
          const ApiError e = payload_too_large(limit.bytes, limit.lane);
          co_await write_error(stream, e, parser.get().version(), options_.write_timeout);
          drain_before_close = true;
        } else if (ec != http::error::end_of_stream && ec != net::error::eof && ec != net::error::connection_reset) {
          const ApiError e = http_error(400, "bad_http", "Malformed HTTP body: " + ec.message());
          co_await write_error(stream, e, parser.get().version(), options_.write_timeout);
        }
        break;
      }
    }
    HttpRequest request = parser.release();
    HttpExchange exchange(stream, buffer, request, options_.write_timeout);
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
  if (stream.tls() && !drain_before_close) {
    // close_notify, so the client can tell the end from a cut; its answer is
    // not waited for long (clients often just close).
    co_await (stream.tls_stream()->async_shutdown(net::as_tuple(net::use_awaitable)) ||
              expire_after(std::chrono::milliseconds(250)));
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  if (drain_before_close) co_await (drain(stream.socket()) || expire_after(std::chrono::milliseconds(1000)));
  stream.socket().close(ignored);
}

}  // namespace laneway::server
