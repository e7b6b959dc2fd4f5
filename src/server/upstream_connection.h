// UpstreamConnection: one HTTP/1.1 connection to an upstream replica, plain
// TCP for http:// and TLS (OpenSSL through Boost.Asio SSL) for https://. The
// proxy and the health probes both use it, so a probe sees what a request
// would: the same resolver, the same certificate checks.
//
// TLS: the certificate chain is verified against the system CAs plus the
// service's ca_file (the context UpstreamService holds), and the replica's
// host name (or IP literal) against the certificate; SNI carries host names.
//
// Thread-safety: one coroutine at a time, like a socket.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "server/upstream_service.h"

namespace laneway::server {

class UpstreamConnection {
 public:
  using clock = std::chrono::steady_clock;
  using error_code = boost::system::error_code;

  explicit UpstreamConnection(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}

  // Resolves (an IP literal skips the resolver), connects and, for https,
  // shakes hands, all before `deadline`. "" when connected, else why, in
  // words a user can act on ("TLS handshake with 127.0.0.1:8443 failed:
  // certificate verify failed: unable to get local issuer certificate ...").
  boost::asio::awaitable<std::string> open(const UpstreamService& service, const UpstreamReplica& replica,
                                           clock::time_point deadline);

  template <class Message>
  boost::asio::awaitable<std::tuple<error_code, size_t>> write(Message& message) {
    namespace http = boost::beast::http;
    using boost::asio::as_tuple, boost::asio::use_awaitable;
    if (tls_) co_return co_await http::async_write(*tls_, message, as_tuple(use_awaitable));
    co_return co_await http::async_write(*plain_, message, as_tuple(use_awaitable));
  }
  template <class Parser>
  boost::asio::awaitable<std::tuple<error_code, size_t>> read_header(boost::beast::flat_buffer& buffer, Parser& parser) {
    namespace http = boost::beast::http;
    using boost::asio::as_tuple, boost::asio::use_awaitable;
    if (tls_) co_return co_await http::async_read_header(*tls_, buffer, parser, as_tuple(use_awaitable));
    co_return co_await http::async_read_header(*plain_, buffer, parser, as_tuple(use_awaitable));
  }
  template <class Parser>
  boost::asio::awaitable<std::tuple<error_code, size_t>> read_some(boost::beast::flat_buffer& buffer, Parser& parser) {
    namespace http = boost::beast::http;
    using boost::asio::as_tuple, boost::asio::use_awaitable;
    if (tls_) co_return co_await http::async_read_some(*tls_, buffer, parser, as_tuple(use_awaitable));
    co_return co_await http::async_read_some(*plain_, buffer, parser, as_tuple(use_awaitable));
  }
  template <class Message>
  boost::asio::awaitable<std::tuple<error_code, size_t>> read(boost::beast::flat_buffer& buffer, Message& message) {
    namespace http = boost::beast::http;
    using boost::asio::as_tuple, boost::asio::use_awaitable;
    if (tls_) co_return co_await http::async_read(*tls_, buffer, message, as_tuple(use_awaitable));
    co_return co_await http::async_read(*plain_, buffer, message, as_tuple(use_awaitable));
  }

  // The Host header for the replica ("host:port", brackets around IPv6).
  static std::string host_header(const HttpUrl& url);

  bool is_open() { return socket().is_open(); }

 private:
  boost::asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }

  boost::asio::any_io_executor executor_;
  std::optional<boost::asio::ip::tcp::socket> plain_;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
};

// Idle keep-alive connections to upstream replicas, taken by the next
// request to the same replica: no connect and no TLS handshake. A connection
// comes back only after a whole response that allows keep-alive; it is kept
// kIdleFor at most (under the 5 s keep-alive timeout of uvicorn, which vLLM
// runs, and of cpp-httplib, llama-server's), kPerReplica per replica. A
// server may still have closed one: the proxy then reconnects once, without
// holding it against the replica. Thread-safe.
class UpstreamConnectionPool {
 public:
  static constexpr auto kIdleFor = std::chrono::milliseconds(4000);
  static constexpr size_t kPerReplica = 16;

  // An idle connection to `replica`, or null.
  std::unique_ptr<UpstreamConnection> take(const UpstreamReplica& replica);
  void give_back(const UpstreamReplica& replica, std::unique_ptr<UpstreamConnection> connection);
  // Closes the connections idle longer than kIdleFor (the servers have closed
  // theirs by then: ours would sit in CLOSE_WAIT holding descriptors).
  void sweep();
  int64_t reused() const { return reused_.load(); }

 private:
  using Idle = std::pair<UpstreamConnection::clock::time_point, std::unique_ptr<UpstreamConnection>>;
  std::mutex mu_;
  std::map<const UpstreamReplica*, std::deque<Idle>> idle_;  // guarded by mu_; newest at the back
  std::atomic<int64_t> reused_{0};
};

// sweep() every second until `stop` (LanewayServer::start spawns it when
// there are services).
boost::asio::awaitable<void> sweep_idle_connections(UpstreamConnectionPool& pool, const std::atomic<bool>& stop);

}  // namespace laneway::server
