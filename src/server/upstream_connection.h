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

#include <chrono>
#include <optional>
#include <string>
#include <tuple>

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

 private:
  boost::asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }

  boost::asio::any_io_executor executor_;
  std::optional<boost::asio::ip::tcp::socket> plain_;
  std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
};

}  // namespace laneway::server
