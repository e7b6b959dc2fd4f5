#include "server/upstream_connection.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

namespace laneway::server {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using namespace net::experimental::awaitable_operators;

namespace {

net::awaitable<void> expire_at(std::chrono::steady_clock::time_point t) {
  net::steady_timer timer(co_await net::this_coro::executor, t);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

}  // namespace

std::string UpstreamConnection::host_header(const HttpUrl& url) {
  const bool v6 = url.host.find(':') != std::string::npos;
  const bool default_port = url.port == (url.tls ? "443" : "80");
  std::string host = v6 ? "[" + url.host + "]" : url.host;
  // http keeps host:port always (as before replicas); https names the port only when it is not 443.
  if (!url.tls || !default_port) host += ":" + url.port;
  return host;
}

net::awaitable<std::string> UpstreamConnection::open(const UpstreamService& service, const UpstreamReplica& replica,
                                                     clock::time_point deadline) {
  const HttpUrl& url = replica.url();
  const std::string where = url.host + ":" + url.port;
  std::vector<tcp::endpoint> endpoints;
  error_code aec;
  const auto address = net::ip::make_address(url.host, aec);
  const bool ip_literal = !aec;
  if (ip_literal) {
    endpoints.emplace_back(address, static_cast<unsigned short>(std::stoul(url.port)));
  } else {
    tcp::resolver resolver(executor_);
    auto r = co_await (resolver.async_resolve(url.host, url.port, net::as_tuple(net::use_awaitable)) || expire_at(deadline));
    if (r.index() == 1) co_return "cannot resolve " + url.host + ": timed out";
    auto [rec, results] = std::get<0>(r);
    if (rec) co_return "cannot resolve " + url.host + ": " + rec.message();
    for (const auto& e : results) endpoints.push_back(e.endpoint());
  }

  if (url.tls) {
    ssl::context* ctx = service.tls_context();
    if (!ctx) co_return "no TLS context for an https replica";  // create() makes one whenever a URL is https
    tls_.emplace(executor_, *ctx);
    SSL* native = tls_->native_handle();
    // SNI carries host names only (RFC 6066: never IP literals).
    if (!ip_literal && SSL_set_tlsext_host_name(native, url.host.c_str()) != 1) {
      co_return "TLS: cannot set the server name " + url.host;
    }
    X509_VERIFY_PARAM* param = SSL_get0_param(native);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set = ip_literal ? X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str())
                               : X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), url.host.size());
    if (set != 1) co_return "TLS: cannot check the certificate against " + url.host;
    tls_->set_verify_mode(ssl::verify_peer);
  } else {
    plain_.emplace(executor_);
  }

  auto c = co_await (net::async_connect(socket(), endpoints, net::as_tuple(net::use_awaitable)) || expire_at(deadline));
  if (c.index() == 1) co_return "connect to " + where + " timed out";
  if (auto [ec, endpoint] = std::get<0>(c); ec) co_return "connect to " + where + " failed: " + ec.message();
  error_code ignored;
  socket().set_option(tcp::no_delay(true), ignored);
  if (!tls_) co_return std::string();

  auto h = co_await (tls_->async_handshake(ssl::stream_base::client, net::as_tuple(net::use_awaitable)) ||
                     expire_at(deadline));
  if (h.index() == 1) co_return "TLS handshake with " + where + " timed out";
  if (auto [ec] = std::get<0>(h); ec) {
    const long verify = SSL_get_verify_result(tls_->native_handle());
    if (verify != X509_V_OK) {
      const bool name = verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH;
      co_return fmt::format("TLS handshake with {} failed: certificate verify failed: {}{}", where,
                            X509_verify_cert_error_string(verify),
                            name ? fmt::format(" (the certificate does not name {})", url.host)
                                 : " (is the issuing CA in the system store or the service's ca_file?)");
    }
    co_return fmt::format("TLS handshake with {} failed: {}", where, ec.message());
  }
  co_return std::string();
}

std::unique_ptr<UpstreamConnection> UpstreamConnectionPool::take(const UpstreamReplica& replica) {
  std::unique_ptr<UpstreamConnection> out;
  std::deque<Idle> expired;  // closed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(&replica);
    if (it == idle_.end()) return nullptr;
    const auto now = UpstreamConnection::clock::now();
    while (!it->second.empty() && now - it->second.front().first > kIdleFor) {
      expired.push_back(std::move(it->second.front()));
      it->second.pop_front();
    }
    if (!it->second.empty()) {
      out = std::move(it->second.back().second);
      it->second.pop_back();
    }
  }
  if (out) ++reused_;
  return out;
}

void UpstreamConnectionPool::give_back(const UpstreamReplica& replica, std::unique_ptr<UpstreamConnection> connection) {
  if (!connection || !connection->is_open()) return;
  std::unique_ptr<UpstreamConnection> dropped;
  std::lock_guard<std::mutex> lock(mu_);
  auto& idle = idle_[&replica];
  if (idle.size() >= kPerReplica) {
    dropped = std::move(idle.front().second);
    idle.pop_front();
  }
  idle.emplace_back(UpstreamConnection::clock::now(), std::move(connection));
}

void UpstreamConnectionPool::sweep() {
  std::vector<std::unique_ptr<UpstreamConnection>> expired;  // closed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = UpstreamConnection::clock::now();
    for (auto& [replica, idle] : idle_) {
      while (!idle.empty() && now - idle.front().first > kIdleFor) {
        expired.push_back(std::move(idle.front().second));
        idle.pop_front();
      }
    }
  }
}

net::awaitable<void> sweep_idle_connections(UpstreamConnectionPool& pool, const std::atomic<bool>& stop) {
  net::steady_timer timer(co_await net::this_coro::executor);
  while (!stop.load()) {
    timer.expires_after(std::chrono::seconds(1));
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    pool.sweep();
  }
}

}  // namespace laneway::server
