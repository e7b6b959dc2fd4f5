// HttpServer: HTTP/1.1 on Boost.Beast with C++20 coroutines. One coroutine
// per connection on its own strand (no thread per connection); every read
// and write races a timer (`co_await (op || timer)`), so a slow or silent
// client costs a coroutine, never a thread or a hang.
//
// What it does itself: accept (up to a cap on open connections), read the
// header, ask the handler for the body limit of that request (per lane),
// read the body (a pause in it times out like a slow header does), hand an
// HttpExchange to the handler, keep-alive, and answer malformed HTTP,
// oversized bodies and timeouts with OpenAI-shaped errors.
//
// TLS (options.tls set): every connection starts with the TLS handshake,
// which races the header timeout like a slow header does (a client that
// never finishes it is closed and holds no one up); a plain HTTP request to
// such a port gets a plain-text 400 saying to use https, and the port keeps
// serving. Everything after the handshake is the same as plain HTTP.
//
// Thread-safety: listen/start/stop_accepting/close_idle may be called from
// any thread; the handler is called concurrently from the io_context's
// threads (one call per request, each on its connection's strand).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "server/http_exchange.h"
#include "server/server_log.h"

namespace laneway::server {

struct HttpServerOptions {
  std::chrono::milliseconds header_timeout{30'000};     // also how long an idle keep-alive connection stays
  std::chrono::milliseconds body_idle_timeout{30'000};  // a body that stops arriving for this long gets 408
  std::chrono::milliseconds body_timeout{300'000};      // the whole body, however large
  std::chrono::milliseconds write_timeout{60'000};      // one write to a client that stopped reading
  uint32_t header_limit_bytes = 64 * 1024;
  // Open connections at most (each listening port counts its own); beyond
  // it a new connection gets 503 and is closed, with a log line (at most one
  // every 10 s, with the count). 0: half the process's file descriptor
  // limit, at most 4096.
  int64_t max_connections = 0;
  // Set: every connection speaks TLS with this context (tls_context.h); null: plain HTTP.
  std::shared_ptr<net::ssl::context> tls;
  ServerLog log;
};

// The connection cap for max_connections = 0, from RLIMIT_NOFILE.
int64_t default_max_connections();

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // The largest body accepted for a request with this header, and the lane
  // named in the error when it is exceeded ("" = server-wide limit).
  struct BodyLimit {
    uint64_t bytes = 0;
    std::string lane;
  };
  virtual BodyLimit body_limit(const http::request_header<>& header) = 0;
  // Answers one request (exactly one response through the exchange).
  virtual net::awaitable<void> handle(HttpExchange& exchange) = 0;
};

class HttpServer {
 public:
  HttpServer(net::io_context& ioc, RequestHandler& handler, HttpServerOptions options);
  ~HttpServer();

  // Binds and listens (port 0 picks a free port). Call before start().
  Status listen(const std::string& host, int port);
  int port() const { return port_; }
  // Starts the accept loop(s) on the io_context.
  void start();
  // Shutdown, step 1: stop accepting, close idle connections, and answer
  // nothing more on kept-alive ones (they close after their current request).
  void stop_accepting();
  // Requests being answered now.
  int64_t active_requests() const { return active_requests_.load(); }
  int64_t open_connections() const { return open_connections_.load(); }

 private:
  struct Connection;
  net::awaitable<void> accept_loop(std::shared_ptr<tcp::acceptor> acceptor);
  net::awaitable<void> serve(std::shared_ptr<Connection> conn);
  net::awaitable<void> refuse(std::shared_ptr<Connection> conn);
  // TLS: the handshake within the header timeout; false when it failed or timed out.
  net::awaitable<bool> handshake(HttpStream& stream, std::chrono::milliseconds timeout);

  net::io_context& ioc_;
  RequestHandler& handler_;
  HttpServerOptions options_;
  std::vector<std::shared_ptr<tcp::acceptor>> acceptors_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> active_requests_{0};
  std::atomic<int64_t> open_connections_{0};
  int64_t max_connections_ = 0;
  std::atomic<int64_t> refused_connections_{0};        // since the last log line about them
  std::atomic<int64_t> last_refusal_log_ms_{-1'000'000};
  std::mutex connections_mu_;
  std::vector<std::weak_ptr<Connection>> connections_;  // guarded by connections_mu_
};

}  // namespace laneway::server
