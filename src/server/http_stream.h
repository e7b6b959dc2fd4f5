// HttpStream: one accepted connection, plain TCP or TLS (server.tls), as one
// Asio stream type: Beast's reads and writes, the exchange's writes and its
// hang-up watch use it the same way either way, and every operation keeps its
// per-operation cancellation (the `op || timer` races of http_server.cpp).
//
// The TLS handshake and close_notify are the caller's (tls_stream()): the
// server runs the handshake against its header timeout before any HTTP.
// socket() is the TCP connection underneath, for options, cancel() (which
// aborts a pending TLS operation too), shutdown and close.
//
// Thread-safety: none; used on its connection's strand. Neither copyable nor
// movable (the TLS layer holds a reference to the socket).
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

namespace laneway::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class HttpStream {
 public:
  using executor_type = tcp::socket::executor_type;
  using tls_stream_type = net::ssl::stream<tcp::socket&>;

  // `tls` null: plain HTTP. The context must outlive the stream.
  HttpStream(tcp::socket socket, net::ssl::context* tls) : socket_(std::move(socket)) {
    if (tls != nullptr) tls_ = std::make_unique<tls_stream_type>(socket_, *tls);
  }
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  tcp::socket& socket() { return socket_; }
  bool tls() const { return tls_ != nullptr; }
  tls_stream_type* tls_stream() { return tls_.get(); }

  // AsyncReadStream / AsyncWriteStream: forwarded to the TLS layer when there
  // is one, else to the socket; the handler (and so its cancellation slot and
  // executor) goes along unchanged.
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return net::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const MutableBuffers& b) {
          if (tls_) tls_->async_read_some(b, std::move(handler));
          else socket_.async_read_some(b, std::move(handler));
        },
        token, buffers);
  }
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return net::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          if (tls_) tls_->async_write_some(b, std::move(handler));
          else socket_.async_write_some(b, std::move(handler));
        },
        token, buffers);
  }

 private:
  tcp::socket socket_;
  std::unique_ptr<tls_stream_type> tls_;
};

}  // namespace laneway::server
