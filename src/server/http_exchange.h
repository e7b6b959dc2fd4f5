// HttpExchange: one request on one connection, handed to the route that
// answers it. The route sends exactly one response: a whole one (send), or a
// stream (begin_stream, write_chunk..., end_stream) using chunked transfer
// encoding so server-sent events reach the client as they are produced.
//
// Thread-safety: none; it lives on its connection's strand, like the
// coroutine that uses it. The stream (plain TCP or TLS) and buffer are
// borrowed from the connection and outlive the exchange.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "server/api_error.h"
#include "server/http_stream.h"

namespace laneway::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

using HttpRequest = http::request<http::string_body>;

class HttpExchange {
 public:
  HttpExchange(HttpStream& stream, beast::flat_buffer& buffer, HttpRequest& request,
               std::chrono::milliseconds write_timeout)
      : stream_(stream), buffer_(buffer), request_(request), write_timeout_(write_timeout) {}

  // A header every response of this exchange carries (CORS, ...). Call
  // before responding.
  void add_header(http::field name, std::string value) { extra_headers_.emplace_back(name, std::move(value)); }

  const HttpRequest& request() const { return request_; }
  HttpRequest& request() { return request_; }
  net::any_io_executor executor() { return stream_.get_executor(); }

  // Whole responses. Return false when the client is gone or too slow.
  net::awaitable<bool> send(http::status status, std::string body, std::string_view content_type,
                            int retry_after_s = 0);
  net::awaitable<bool> send_json(http::status status, std::string body) {
    return send(status, std::move(body), "application/json");
  }
  net::awaitable<bool> send_error(const ApiError& error);

  // Streaming responses (chunked). begin_stream sends the header.
  net::awaitable<bool> begin_stream(http::status status, std::string_view content_type);
  net::awaitable<bool> write_chunk(std::string_view data);
  net::awaitable<bool> end_stream();

  // Waits until `signal` fires (someone cancels it) or the client hangs up.
  // Returns false once the client is gone (EOF or reset). Bytes the client
  // sends meanwhile (a pipelined request) are kept for the connection.
  net::awaitable<bool> wait_or_disconnect(net::steady_timer& signal);
  // Completes only when the client hangs up (or when cancelled, e.g. as the
  // losing side of `op || exchange.watch_hangup()`).
  net::awaitable<void> watch_hangup();
  bool client_gone() const { return client_gone_; }

  bool responded() const { return responded_; }
  bool streaming() const { return streaming_; }
  // False after an incomplete response: the connection must close.
  bool keep_alive() const { return keep_alive_; }
  int status_code() const { return status_code_; }

  // What a route reports for the access log (server_log.h) beyond the status.
  struct AccessNote {
    std::string lane;               // the lane that answered ("" = none)
    int64_t prompt_tokens = -1;     // -1: not a generation
    int64_t generated_tokens = -1;
    double time_to_first_token_s = -1;
  };
  AccessNote& access_note() { return access_note_; }

  HttpStream& stream() { return stream_; }

 private:
  net::awaitable<bool> write_with_timeout(net::const_buffer data);

  HttpStream& stream_;  // the connection: plain TCP or TLS
  beast::flat_buffer& buffer_;
  AccessNote access_note_;
  HttpRequest& request_;
  std::chrono::milliseconds write_timeout_;
  bool responded_ = false;
  bool streaming_ = false;
  bool keep_alive_ = true;
  bool client_gone_ = false;
  bool watching_ = true;  // false once pipelined bytes arrived: stop reading ahead
  int status_code_ = 0;
  std::vector<std::pair<http::field, std::string>> extra_headers_;
};

}  // namespace laneway::server
