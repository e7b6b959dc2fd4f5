// Streaming pass-through to an upstream lane's service. The body goes out as
// the client sent it, with `model` replaced by the lane's upstream_model; the
// answer comes back chunk by chunk as it arrives (SSE events are relayed as
// each one ends, never buffered to the end of the stream; a stream that breaks
// mid-event ends with an error event, not a torn one). Connections are kept
// alive and reused by the next request to the same replica
// (UpstreamConnectionPool): no connect or TLS handshake per request.
//
// Replicas: the service picks one (least busy, or by prompt prefix). A
// replica that fails before the client got a byte (connect refused or timed
// out, TLS refused, reset before the response header) is ejected at once and
// the request goes once more to another healthy replica; with none left the
// caller routes again (fallback or 503). Nothing is retried once bytes went
// to the client: a replica that dies mid-stream ends the client's stream with
// an error event.
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "server/json_patch.h"
#include "server/laneway_server.h"
#include "server/sse.h"
#include "server/upstream_connection.h"

namespace laneway::server {

using namespace net::experimental::awaitable_operators;

namespace {

net::awaitable<void> expire_at(net::steady_timer::time_point t) {
  net::steady_timer timer(co_await net::this_coro::executor, t);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

constexpr auto kConnectTimeout = std::chrono::seconds(5);
// An upstream event longer than this is relayed before its end (events from
// model servers are a few hundred bytes; this only bounds the memory).
constexpr size_t kMaxHeldEventBytes = 1 << 20;

struct ProxyTarget {
  UpstreamService& service;
  UpstreamReplica& replica;
  const std::string& lane;
  std::string_view api_path;
  const std::string& body;  // as forwarded (model patched)
  net::steady_timer::time_point started;
  net::steady_timer::time_point deadline;
  std::chrono::milliseconds request_timeout;
};

// One try on one replica. "" when the exchange is over (answered, relayed,
// failed mid-stream or the client left); else why the replica failed before
// anything reached the client (the replica is ejected by the caller).
net::awaitable<std::string> proxy_once(HttpExchange& ex, const ProxyTarget& t, Metrics& metrics,
                                       UpstreamConnectionPool& pool) {
  UpstreamService& svc = t.service;
  UpstreamReplica& rep = t.replica;

  // Request: the client's method, path below the API root and query; our own
  // credentials for the service (the client's key is for Laneway only).
  const HttpRequest& in = ex.request();
  std::string target = UpstreamService::target(rep, t.api_path);
  const std::string_view in_target = in.target();
  if (auto q = in_target.find('?'); q != std::string_view::npos) target += std::string(in_target.substr(q));
  http::request<http::string_body> req{in.method(), target, 11};
  req.set(http::field::host, UpstreamConnection::host_header(rep.url()));
  req.set(http::field::user_agent, "laneway");
  if (auto it = in.find(http::field::content_type); it != in.end()) req.set(http::field::content_type, it->value());
  else if (!t.body.empty()) req.set(http::field::content_type, "application/json");
  if (auto it = in.find(http::field::accept); it != in.end()) req.set(http::field::accept, it->value());
  if (!svc.api_key().empty()) req.set(http::field::authorization, "Bearer " + svc.api_key());
  req.keep_alive(true);
  req.body() = t.body;
  req.prepare_payload();

  // A kept connection when there is one (no connect, no handshake). The
  // server may have closed it while it waited: a write or a header read that
  // fails on it is tried once more on a new connection, and not held against
  // the replica.
  std::unique_ptr<UpstreamConnection> conn = pool.take(rep);
  beast::flat_buffer upbuf;
  std::optional<http::response_parser<http::buffer_body>> parser;
  for (;;) {
    const bool reused = conn != nullptr;
    if (!conn) {
      conn = std::make_unique<UpstreamConnection>(co_await net::this_coro::executor);
      if (std::string why = co_await conn->open(svc, rep, std::min(t.deadline, net::steady_timer::clock_type::now() + kConnectTimeout));
          !why.empty()) {
        co_return why;
      }
    }
    std::string failed;
    auto w = co_await (conn->write(req) || expire_at(t.deadline));
    if (w.index() == 1) co_return "sending the request timed out";
    if (auto [ec, n] = std::get<0>(w); ec) failed = "sending the request failed: " + ec.message();

    // Response header: the client may hang up while the upstream thinks.
    upbuf.clear();
    parser.emplace();
    parser->body_limit(boost::none);
    if (failed.empty()) {
      auto h = co_await (conn->read_header(upbuf, *parser) || ex.watch_hangup() || expire_at(t.deadline));
      if (h.index() == 1) co_return "";  // client gone; closing the connection tells the upstream
      if (h.index() == 2) {
        // It may still be working on it: not retried, not ejected.
        const ApiError e = gateway_timeout(fmt::format("upstream service '{}' ({}) did not answer within {} ms",
                                                       svc.name(), rep.url_text(), t.request_timeout.count()));
        co_await ex.send_error(e);
        co_return "";
      }
      if (auto [ec, n] = std::get<0>(h); ec) failed = "no response: " + ec.message();
    }
    if (failed.empty()) break;
    if (!reused || upbuf.size() > 0) co_return failed;
    conn.reset();  // closed while it was idle: once more on a new connection
  }
  const auto& head = parser->get();
  metrics.observe_ttft(t.lane, std::chrono::duration<double>(net::steady_timer::clock_type::now() - t.started).count());
  std::string content_type = "application/json";
  if (auto it = head.find(http::field::content_type); it != head.end()) content_type = std::string(it->value());
  const bool sse = content_type.find("text/event-stream") != std::string::npos;
  if (!co_await ex.begin_stream(head.result(), content_type)) co_return "";

  // Body, relayed as it comes; an event stream event by event (the bytes of
  // an event not ended yet wait in `held`, up to kMaxHeldEventBytes).
  std::array<char, 16 * 1024> buf;
  uint64_t relayed = 0;
  std::string held;
  std::string failure;
  while (!parser->is_done()) {
    parser->get().body().data = buf.data();
    parser->get().body().size = buf.size();
    auto r = co_await (conn->read_some(upbuf, *parser) || ex.watch_hangup() || expire_at(t.deadline));
    if (r.index() == 1) co_return "";  // client gone
    if (r.index() == 2) {
      failure = fmt::format("upstream service '{}' did not finish within {} ms", svc.name(), t.request_timeout.count());
      break;
    }
    const auto [ec, n] = std::get<0>(r);
    const size_t got = buf.size() - parser->get().body().size;
    if (got > 0) {
      relayed += got;
      std::string_view out(buf.data(), got);
      if (sse) {
        const size_t scanned = held.size();
        held.append(out);
        const size_t ended =
            held.size() > kMaxHeldEventBytes ? held.size() : sse_complete_prefix(held, scanned > 0 ? scanned - 1 : 0);
        out = std::string_view(held).substr(0, ended);
      }
      if (!out.empty() && !co_await ex.write_chunk(out)) co_return "";
      if (sse) held.erase(0, out.size());
    }
    if (ec && ec != http::error::need_buffer) {
      failure = fmt::format("upstream service '{}' ({}) closed the connection mid-response ({})", svc.name(),
                            rep.url_text(), ec.message());
      rep.mark_unhealthy(failure, true);
      break;
    }
  }
  metrics.count_upstream_bytes(t.lane, relayed);
  if (!failure.empty()) {
    if (sse) {
      // A clean SSE ending with an error event: clients raise it instead of
      // hanging. The event the upstream did not finish is dropped.
      co_await ex.write_chunk(SseFormatter::error_event(upstream_error(failure)));
      co_await ex.end_stream();
    }
    // Otherwise leave the chunked body unterminated: the connection closes and
    // the client sees a truncated response, never a complete-looking one.
    co_return "";
  }
  // The whole response is read: the connection is free for the next request
  // (before the client sees the end, which may send that request at once).
  if (parser->keep_alive() && upbuf.size() == 0) pool.give_back(rep, std::move(conn));
  // A clean end: what the upstream sent last goes out as it is, ended or not.
  if (!held.empty() && !co_await ex.write_chunk(held)) co_return "";
  co_await ex.end_stream();
  co_return "";
}

// (Outside the coroutine: GCC 12 miscompiles some braced JSON initializers inside coroutines.)
void log_retry(const ServerLog& log, const UpstreamService& svc, const UpstreamReplica& failed, const std::string& why,
               const UpstreamReplica& next) {
  if (!log.enabled(spdlog::level::warn)) return;
  log.write(spdlog::level::warn, "upstream",
            fmt::format("{}: replica {} failed before answering ({}); retrying on {}", svc.name(), failed.url_text(), why,
                        next.url_text()),
            log.json() ? nlohmann::ordered_json{{"service", svc.name()}, {"replica", failed.url_text()}, {"error", why},
                                                {"retry", next.url_text()}}
                       : nlohmann::ordered_json::object());
}

}  // namespace

net::awaitable<bool> LanewayServer::proxy_to_upstream(HttpExchange& ex, LaneRuntime& lane, std::string_view api_path,
                                                      const std::string& body, const std::string& requested_model,
                                                      bool stream) {
  (void)requested_model;
  (void)stream;
  UpstreamService& svc = *lane.service;
  ex.access_note().lane = lane.config->name;  // the access line names the lane, as for embedded lanes
  const auto started = net::steady_timer::clock_type::now();
  const auto deadline = started + options_.request_timeout;

  std::string out_body = body;
  if (!lane.config->upstream_model.empty() && !body.empty()) {
    if (auto patched = replace_json_model(body, lane.config->upstream_model)) out_body = std::move(*patched);
  }
  const std::string key = svc.affinity() == ServiceAffinity::prefix ? affinity_prefix(body) : std::string();

  ReplicaLease lease = svc.pick(key);
  if (!lease) co_return false;  // no healthy replica: the caller routes again (fallback or 503)
  std::string failures;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const ProxyTarget target{svc, *lease, lane.config->name, api_path, out_body, started, deadline, options_.request_timeout};
    const std::string why = co_await proxy_once(ex, target, metrics_, upstream_connections_);
    if (why.empty()) co_return true;
    // Nothing reached the client: eject the replica; try once more elsewhere.
    lease->mark_unhealthy(why, true);
    failures += fmt::format("{}{}: {}", failures.empty() ? "" : "; ", lease->url_text(), why);
    if (ex.client_gone() || attempt == 1) break;
    UpstreamReplica* failed = &*lease;
    lease = svc.pick(key, failed);
    if (!lease) break;
    svc.count_retry();
    log_retry(options_.log, svc, *failed, why, *lease);
  }
  lease.release();
  // Every replica down: the lane is unhealthy now, and routing again picks
  // its fallback or answers 503. Otherwise the one retry is spent: 502.
  if (!svc.healthy() || ex.client_gone()) co_return false;
  const ApiError e = upstream_error(fmt::format("upstream service '{}' failed before answering: {}", svc.name(), failures));
  co_await ex.send_error(e);
  co_return true;
}

}  // namespace laneway::server
