// UpstreamService: one OpenAI-compatible service behind one or more lanes
// (vLLM, llama-server, Ollama /v1, another Laneway), served by one or more
// replicas (`url`, or `urls`). Holds the parsed URLs, the resolved API key,
// the TLS client context for https replicas, and each replica's health and
// load.
//
// Replicas (LANES.md `urls`, `balance`, `affinity`; docs/config.md):
// - Each replica has its own health. A health loop per replica probes it
//   every health interval while it is healthy; once it fails (a probe, or a
//   request that failed before its first byte, which ejects it at once) it is
//   re-probed with exponential backoff: min(interval, 1 s), doubling, capped
//   at max(interval, 30 s); a passing probe resets the backoff.
// - The service is healthy when any replica is.
// - least_busy: a request goes to the healthy replica with the fewest
//   outstanding requests (sent by this Laneway, not answered yet); ties take
//   turns.
// - affinity: prefix: the first kAffinityPrefixBytes bytes of the prompt (the
//   chat messages' roles and text, or the completion prompt) pick a replica by
//   rendezvous hashing over the healthy replicas, so prompts sharing a long
//   prefix meet that replica's prefix cache and a replica coming back gets
//   its own prefixes back. When the chosen replica holds more than
//   2 x (the least busy one's outstanding) + 4 requests, least_busy decides.
//
// Thread-safety: health flags and counters are atomic; replica choice,
// last_error and the probe backoff are behind mutexes; everything else is
// immutable after creation.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio.hpp>

#include "config/lane_config.h"
#include "core/status.h"

namespace boost::asio::ssl {
class context;
}

namespace laneway::server {

struct HttpUrl {
  bool tls = false;  // https://
  std::string host;
  std::string port = "80";  // 443 for https
  std::string base_path;    // without a trailing slash: "/v1", or "" for the root
};
// http://host[:port][/path] or https://host[:port][/path].
Result<HttpUrl> parse_http_url(const std::string& url);

// How many leading bytes of a prompt choose its replica under `affinity: prefix`.
inline constexpr size_t kAffinityPrefixBytes = 256;

// The text `affinity: prefix` hashes: for chat, each message's role and text
// content in order; for completions, the prompt (or its first element); for
// embeddings, the input. At most kAffinityPrefixBytes bytes; "" when the body
// has none of these (least_busy then decides).
std::string affinity_prefix(std::string_view json_body);

class UpstreamReplica {
 public:
  UpstreamReplica(size_t index, std::string url_text, HttpUrl url)
      : index_(index), url_text_(std::move(url_text)), url_(std::move(url)) {}

  size_t index() const { return index_; }
  const std::string& url_text() const { return url_text_; }
  const HttpUrl& url() const { return url_; }

  bool healthy() const { return healthy_.load(std::memory_order_acquire); }
  void mark_healthy();
  // Ejects the replica; `from_request` counts it as a failed request too.
  void mark_unhealthy(std::string why, bool from_request = false);
  std::string last_error() const;

  int64_t outstanding() const { return outstanding_.load(); }
  int64_t requests() const { return requests_.load(); }
  int64_t request_failures() const { return request_failures_.load(); }
  int64_t checks() const { return checks_.load(); }
  int64_t check_failures() const { return check_failures_.load(); }
  int64_t ejections() const { return ejections_.load(); }
  void count_check(bool ok) {
    ++checks_;
    if (!ok) ++check_failures_;
  }

  // The wait before the next probe: `interval` while healthy, else the
  // backoff (which doubles each time it is asked for while unhealthy).
  std::chrono::milliseconds next_probe_delay(std::chrono::milliseconds interval);
  // The current backoff while unhealthy (0 when healthy), for /v1/lanes.
  std::chrono::milliseconds backoff() const;

 private:
  friend class UpstreamService;
  friend class ReplicaLease;
  const size_t index_;
  const std::string url_text_;
  const HttpUrl url_;
  std::atomic<bool> healthy_{false};  // unknown until the first probe answers
  std::atomic<int64_t> outstanding_{0};
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> request_failures_{0};
  std::atomic<int64_t> checks_{0};
  std::atomic<int64_t> check_failures_{0};
  std::atomic<int64_t> ejections_{0};
  mutable std::mutex mu_;
  std::string last_error_ = "not checked yet";  // guarded by mu_
  std::chrono::milliseconds backoff_{0};        // guarded by mu_; 0 = not backing off
};

// One request's claim on a replica: counts it outstanding until destroyed.
class ReplicaLease {
 public:
  ReplicaLease() = default;
  explicit ReplicaLease(UpstreamReplica* r) : replica_(r) {}  // outstanding already counted by pick()
  ReplicaLease(ReplicaLease&& o) noexcept : replica_(o.replica_) { o.replica_ = nullptr; }
  ReplicaLease& operator=(ReplicaLease&& o) noexcept;
  ReplicaLease(const ReplicaLease&) = delete;
  ReplicaLease& operator=(const ReplicaLease&) = delete;
  ~ReplicaLease() { release(); }

  explicit operator bool() const { return replica_ != nullptr; }
  UpstreamReplica* operator->() const { return replica_; }
  UpstreamReplica& operator*() const { return *replica_; }
  void release();

 private:
  UpstreamReplica* replica_ = nullptr;
};

class UpstreamService {
 public:
  static Result<std::unique_ptr<UpstreamService>> create(const ServiceConfig& config);
  ~UpstreamService();

  const std::string& name() const { return name_; }
  // The first replica's URL (the only one for a `url:` service).
  const std::string& url_text() const { return replicas_.front()->url_text(); }
  const HttpUrl& url() const { return replicas_.front()->url(); }
  const std::string& api_key() const { return api_key_; }
  ServiceAffinity affinity() const { return affinity_; }
  const std::vector<std::unique_ptr<UpstreamReplica>>& replicas() const { return replicas_; }
  UpstreamReplica& replica(size_t i) { return *replicas_[i]; }
  // The client context for https replicas (nullptr when every replica is http).
  boost::asio::ssl::context* tls_context() const { return tls_.get(); }

  // `/v1/...` under a replica's base URL: base_path + suffix ("/chat/completions").
  static std::string target(const UpstreamReplica& r, std::string_view suffix) {
    return r.url().base_path + std::string(suffix);
  }
  std::string target(std::string_view suffix) const { return target(*replicas_.front(), suffix); }
  // Where health is probed: /health beside the API root, then <base>/models.
  static std::string health_target(const UpstreamReplica& r);
  std::string health_target() const { return health_target(*replicas_.front()); }
  std::string models_target() const { return url().base_path + "/models"; }

  // Any replica healthy.
  bool healthy() const;
  size_t healthy_replicas() const;
  // Single-replica services: the replica's state (tests and code built before replicas).
  void mark_healthy() { replicas_.front()->mark_healthy(); }
  void mark_unhealthy(std::string why) { replicas_.front()->mark_unhealthy(std::move(why)); }
  // "" while healthy; else why: the replica's error, or each replica's.
  std::string last_error() const;
  int64_t checks() const;
  int64_t failures() const;
  int64_t retries() const { return retries_.load(); }
  void count_retry() { ++retries_; }

  // Chooses a healthy replica for a request (see the header comment) and
  // counts it outstanding for the lease's life; `exclude` (may be null) is
  // never chosen. An empty lease when no healthy replica is left.
  ReplicaLease pick(std::string_view affinity_key, const UpstreamReplica* exclude = nullptr);

 private:
  UpstreamService() = default;
  std::string name_;
  std::string api_key_;
  ServiceAffinity affinity_ = ServiceAffinity::none;
  std::vector<std::unique_ptr<UpstreamReplica>> replicas_;  // at least one
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::atomic<int64_t> retries_{0};
  std::mutex pick_mu_;
  size_t rotate_ = 0;  // guarded by pick_mu_: where the tie-break scan starts
};

// Probes one replica until `stop` is set: every `interval` while healthy,
// with backoff while not (see the header comment). GET /health, and
// <base>/models when /health is missing (404).
boost::asio::awaitable<void> upstream_health_loop(UpstreamService& service, size_t replica,
                                                  std::chrono::milliseconds interval, const std::atomic<bool>& stop);
// One probe. True when the replica answered 200.
boost::asio::awaitable<bool> probe_upstream(UpstreamService& service, UpstreamReplica& replica,
                                            std::chrono::milliseconds timeout);

// Burst mode (LANES.md `sleep`): the service's sleep call (sleep_target())
// POSTed to every replica; ok when each answered 2xx. Blocking (it runs on
// an io_context of its own): for the model pool's loader thread.
Status sleep_service(const UpstreamService& service, const ServiceSleep& sleep, std::chrono::milliseconds timeout);
// Its wake calls, in order, to every replica. `after_sleep` false (the pool
// starting): only when a replica says it is asleep (vLLM's GET /is_sleeping
// answers {"is_sleeping": true}; an earlier run may have left it so); `woke`
// tells whether calls were made.
Status wake_service(const UpstreamService& service, const ServiceSleep& sleep, bool after_sleep,
                    std::chrono::milliseconds timeout, bool* woke = nullptr);

}  // namespace laneway::server
