// Streaming pass-through to an upstream lane's service. The body goes out as
// the client sent it, with `model` replaced by the lane's upstream_model; the
// answer comes back chunk by chunk as it arrives (SSE events are relayed as
// they are read, never buffered to the end). A service that fails is marked
// unhealthy at once (its lanes' /health turns 503 before the next probe);
// one that dies mid-stream ends the client's stream with an error event.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "server/json_patch.h"
#include "server/laneway_server.h"
#include "server/sse.h"

namespace laneway::server {

using namespace net::experimental::awaitable_operators;

namespace {

net::awaitable<void> expire_at(net::steady_timer::time_point t) {
  net::steady_timer timer(co_await net::this_coro::executor, t);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

constexpr auto kConnectTimeout = std::chrono::seconds(5);

}  // namespace

net::awaitable<bool> LanewayServer::proxy_to_upstream(HttpExchange& ex, LaneRuntime& lane, std::string_view api_path,
                                                      const std::string& body, const std::string& requested_model,
                                                      bool stream) {
  (void)requested_model;
  (void)stream;
  UpstreamService& svc = *lane.service;
  const auto started = net::steady_timer::clock_type::now();
  const auto deadline = started + options_.request_timeout;
  auto executor = co_await net::this_coro::executor;

  std::string out_body = body;
  if (!lane.config->upstream_model.empty() && !body.empty()) {
    if (auto patched = replace_json_model(body, lane.config->upstream_model)) out_body = std::move(*patched);
  }

  // Connect. An IP literal skips the resolver (a thread hop per request).
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code aec;
  const auto address = net::ip::make_address(svc.url().host, aec);
  if (!aec) {
    endpoints.emplace_back(address, static_cast<unsigned short>(std::stoul(svc.url().port)));
  } else {
    tcp::resolver resolver(executor);
    auto [rec, results] = co_await resolver.async_resolve(svc.url().host, svc.url().port, net::as_tuple(net::use_awaitable));
    if (rec) {
      svc.mark_unhealthy("cannot resolve " + svc.url().host + ": " + rec.message());
      co_return false;
    }
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }
  tcp::socket up(executor);
  {
    auto c = co_await (net::async_connect(up, endpoints, net::as_tuple(net::use_awaitable)) ||
                       expire_at(started + kConnectTimeout));
    if (c.index() == 1 || std::get<0>(std::get<0>(c))) {
      svc.mark_unhealthy(c.index() == 1 ? "connect timed out" : "connect failed: " + std::get<0>(std::get<0>(c)).message());
      co_return false;
    }
  }
  boost::system::error_code ignored;
  up.set_option(tcp::no_delay(true), ignored);

  // Request: the client's method, path below the API root and query; our own
  // credentials for the service (the client's key is for Laneway only).
  const HttpRequest& in = ex.request();
  std::string target = svc.target(api_path);
  const std::string_view in_target = in.target();
  if (auto q = in_target.find('?'); q != std::string_view::npos) target += std::string(in_target.substr(q));
  http::request<http::string_body> req{in.method(), target, 11};
  req.set(http::field::host, svc.url().host + ":" + svc.url().port);
  req.set(http::field::user_agent, "laneway");
  if (auto it = in.find(http::field::content_type); it != in.end()) req.set(http::field::content_type, it->value());
  else if (!out_body.empty()) req.set(http::field::content_type, "application/json");
  if (auto it = in.find(http::field::accept); it != in.end()) req.set(http::field::accept, it->value());
  if (!svc.api_key().empty()) req.set(http::field::authorization, "Bearer " + svc.api_key());
  req.keep_alive(false);
  req.body() = std::move(out_body);
  req.prepare_payload();
  {
    auto w = co_await (http::async_write(up, req, net::as_tuple(net::use_awaitable)) || expire_at(deadline));
    if (w.index() == 1 || std::get<0>(std::get<0>(w))) {
      svc.mark_unhealthy("sending the request failed");
      co_return false;
    }
  }

  // Response header: the client may hang up while the upstream thinks.
  beast::flat_buffer upbuf;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  {
    auto h = co_await (http::async_read_header(up, upbuf, parser, net::as_tuple(net::use_awaitable)) ||
                       ex.watch_hangup() || expire_at(deadline));
    if (h.index() == 1) co_return true;  // client gone; closing `up` tells the upstream
    if (h.index() == 2) {
      const ApiError e = gateway_timeout(fmt::format("upstream service '{}' did not answer within {} ms", svc.name(),
                                                     options_.request_timeout.count()));
      co_await ex.send_error(e);
      co_return true;
    }
    if (auto [ec, n] = std::get<0>(h); ec) {
      svc.mark_unhealthy("no response: " + ec.message());
      co_return false;
    }
  }
  const auto& head = parser.get();
  metrics_.observe_ttft(lane.config->name,
                        std::chrono::duration<double>(net::steady_timer::clock_type::now() - started).count());
  std::string content_type = "application/json";
  if (auto it = head.find(http::field::content_type); it != head.end()) content_type = std::string(it->value());
  const bool sse = content_type.find("text/event-stream") != std::string::npos;
  if (!co_await ex.begin_stream(head.result(), content_type)) co_return true;

  // Body, relayed as it comes.
  std::array<char, 16 * 1024> buf;
  uint64_t relayed = 0;
  std::string failure;
  while (!parser.is_done()) {
    parser.get().body().data = buf.data();
    parser.get().body().size = buf.size();
    auto r = co_await (http::async_read_some(up, upbuf, parser, net::as_tuple(net::use_awaitable)) ||
                       ex.watch_hangup() || expire_at(deadline));
    if (r.index() == 1) co_return true;  // client gone
    if (r.index() == 2) {
      failure = fmt::format("upstream service '{}' did not finish within {} ms", svc.name(), options_.request_timeout.count());
      break;
    }
    const auto [ec, n] = std::get<0>(r);
    const size_t got = buf.size() - parser.get().body().size;
    if (got > 0) {
      relayed += got;
      if (!co_await ex.write_chunk(std::string_view(buf.data(), got))) co_return true;
    }
    if (ec && ec != http::error::need_buffer) {
      failure = fmt::format("upstream service '{}' closed the connection mid-response ({})", svc.name(), ec.message());
      svc.mark_unhealthy(failure);
      break;
    }
  }
  metrics_.count_upstream_bytes(lane.config->name, relayed);
  if (!failure.empty()) {
    if (sse) {
      // A clean SSE ending with an error event: clients raise it instead of hanging.
      co_await ex.write_chunk(SseFormatter::error_event(upstream_error(failure)));
      co_await ex.end_stream();
    }
    // Otherwise leave the chunked body unterminated: the connection closes and
    // the client sees a truncated response, never a complete-looking one.
    co_return true;
  }
  co_await ex.end_stream();
  co_return true;
}

}  // namespace laneway::server
