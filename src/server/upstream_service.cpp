// UpstreamService: URLs, replica state and replica choice (least_busy, prefix affinity).
#include "server/upstream_service.h"

#include <algorithm>
#include <limits>

#include <boost/asio/ssl.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace laneway::server {

namespace ssl = boost::asio::ssl;

Result<HttpUrl> parse_http_url(const std::string& url) {
  HttpUrl out;
  std::string rest;
  if (url.rfind("https://", 0) == 0) {
    out.tls = true;
    out.port = "443";
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return invalid_argument_error("{}: expected an http:// or https:// URL", url);
  }
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out.base_path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!out.base_path.empty() && out.base_path.back() == '/') out.base_path.pop_back();
  if (authority.empty()) return invalid_argument_error("{}: no host", url);
  if (authority.find('@') != std::string::npos) {
    return invalid_argument_error("{}: credentials in the URL are not supported; use the service's api_key", url);
  }
  if (authority.front() == '[') {  // [::1]:8000
    const size_t close = authority.find(']');
    if (close == std::string::npos) return invalid_argument_error("{}: bad IPv6 address", url);
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return invalid_argument_error("{}: bad port", url);
      out.port = authority.substr(close + 2);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string::npos) {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
  } else {
    out.host = authority;
  }
  if (out.host.empty() || out.port.empty() || out.port.size() > 5 ||
      out.port.find_first_not_of("0123456789") != std::string::npos || std::stoul(out.port) > 65535) {
    return invalid_argument_error("{}: bad host or port", url);
  }
  return out;
}

// ---- affinity key

namespace {

void append_capped(std::string& out, std::string_view s) {
  if (out.size() < kAffinityPrefixBytes) out.append(s.substr(0, kAffinityPrefixBytes - out.size()));
}

// A message's or prompt's text: a string, or the text parts of an array.
void append_text(std::string& out, const nlohmann::json& v) {
  if (v.is_string()) {
    append_capped(out, v.get_ref<const std::string&>());
  } else if (v.is_array()) {
    for (const auto& part : v) {
      if (out.size() >= kAffinityPrefixBytes) return;
      if (part.is_object()) {
        if (auto t = part.find("text"); t != part.end() && t->is_string()) append_capped(out, t->get_ref<const std::string&>());
      } else if (part.is_string()) {
        append_capped(out, part.get_ref<const std::string&>());
        return;  // a list of prompts: the first one decides
      } else if (part.is_number_integer()) {
        append_capped(out, std::to_string(part.get<int64_t>()) + " ");  // token ids
      } else if (part.is_array()) {
        append_text(out, part);  // a list of token-id prompts: the first one
        return;
      }
    }
  }
}

}  // namespace

std::string affinity_prefix(std::string_view json_body) {
  const nlohmann::json body = nlohmann::json::parse(json_body, nullptr, false);
  std::string out;
  if (!body.is_object()) return out;
  if (auto m = body.find("messages"); m != body.end() && m->is_array()) {
    for (const auto& msg : *m) {
      if (out.size() >= kAffinityPrefixBytes || !msg.is_object()) break;
      if (auto r = msg.find("role"); r != msg.end() && r->is_string()) append_capped(out, r->get_ref<const std::string&>());
      append_capped(out, "\n");
      if (auto c = msg.find("content"); c != msg.end()) append_text(out, *c);
      append_capped(out, "\n");
    }
    return out;
  }
  for (const char* key : {"prompt", "input"}) {
    if (auto p = body.find(key); p != body.end()) {
      append_text(out, *p);
      return out;
    }
  }
  return out;
}

// ---- replica state

void UpstreamReplica::mark_healthy() {
  std::lock_guard<std::mutex> lock(mu_);
  healthy_.store(true, std::memory_order_release);
  last_error_.clear();
  backoff_ = std::chrono::milliseconds(0);
}

void UpstreamReplica::mark_unhealthy(std::string why, bool from_request) {
  if (from_request) ++request_failures_;
  if (healthy_.exchange(false, std::memory_order_acq_rel)) ++ejections_;
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = std::move(why);
}

std::string UpstreamReplica::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

std::chrono::milliseconds UpstreamReplica::next_probe_delay(std::chrono::milliseconds interval) {
  std::lock_guard<std::mutex> lock(mu_);
  if (healthy_.load()) {
    backoff_ = std::chrono::milliseconds(0);
    return interval;
  }
  const auto first = std::min(interval, std::chrono::milliseconds(1000));
  const auto cap = std::max(interval, std::chrono::milliseconds(30'000));
  backoff_ = backoff_.count() == 0 ? first : std::min(cap, backoff_ * 2);
  return backoff_;
}

std::chrono::milliseconds UpstreamReplica::backoff() const {
  std::lock_guard<std::mutex> lock(mu_);
  return backoff_;
}

ReplicaLease& ReplicaLease::operator=(ReplicaLease&& o) noexcept {
  if (this != &o) {
    release();
    replica_ = o.replica_;
    o.replica_ = nullptr;
  }
  return *this;
}

void ReplicaLease::release() {
  if (replica_) --replica_->outstanding_;
  replica_ = nullptr;
}

// ---- the service

UpstreamService::~UpstreamService() = default;

Result<std::unique_ptr<UpstreamService>> UpstreamService::create(const ServiceConfig& config) {
  auto s = std::unique_ptr<UpstreamService>(new UpstreamService());
  s->name_ = config.name;
  s->affinity_ = config.affinity;
  if (config.urls.empty()) return invalid_argument_error("service {}: no URL", config.name);
  bool any_tls = false;
  for (const auto& text : config.urls) {
    auto url = parse_http_url(text);
    if (!url) return url.status().with_context("service " + config.name);
    any_tls = any_tls || url->tls;
    s->replicas_.push_back(std::make_unique<UpstreamReplica>(s->replicas_.size(), text, *url));
  }
  if (any_tls) {
    boost::system::error_code ec;
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                     ec);
    ctx->set_default_verify_paths(ec);
    if (ec) return io_error("service {}: cannot read the system CA certificates: {}", config.name, ec.message());
    if (!config.ca_file.empty()) {
      ctx->load_verify_file(config.ca_file, ec);
      if (ec) {
        return invalid_argument_error("service {}: ca_file {}: no PEM certificate could be read ({})", config.name,
                                      config.ca_file, ec.message());
      }
    }
    ctx->set_verify_mode(ssl::verify_peer, ec);
    s->tls_ = std::move(ctx);
  }
  auto key = resolve_secret(config.api_key);
  if (!key) return key.status().with_context("service " + config.name + " api_key");
  s->api_key_ = *key;
  return s;
}

std::string UpstreamService::health_target(const UpstreamReplica& r) {
  // http://host:8000/v1 -> /health (vLLM, llama-server, Laneway); a deeper
  // base keeps its prefix: http://host/ollama/v1 -> /ollama/health.
  std::string root = r.url().base_path;
  if (root.size() >= 3 && root.compare(root.size() - 3, 3, "/v1") == 0) root.resize(root.size() - 3);
  return root + "/health";
}

bool UpstreamService::healthy() const {
  return std::any_of(replicas_.begin(), replicas_.end(), [](const auto& r) { return r->healthy(); });
}

size_t UpstreamService::healthy_replicas() const {
  return static_cast<size_t>(std::count_if(replicas_.begin(), replicas_.end(), [](const auto& r) { return r->healthy(); }));
}

std::string UpstreamService::last_error() const {
  if (healthy()) return "";
  if (replicas_.size() == 1) return replicas_.front()->last_error();
  std::string out = fmt::format("all {} replicas are unhealthy", replicas_.size());
  for (const auto& r : replicas_) out += fmt::format("; {}: {}", r->url_text(), r->last_error());
  return out;
}

int64_t UpstreamService::checks() const {
  int64_t n = 0;
  for (const auto& r : replicas_) n += r->checks();
  return n;
}

int64_t UpstreamService::failures() const {
  int64_t n = 0;
  for (const auto& r : replicas_) n += r->check_failures();
  return n;
}

namespace {

// 64-bit FNV-1a, then a final mix, so neighbouring replica indexes score independently.
uint64_t rendezvous_score(std::string_view key, size_t replica) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  h ^= (replica + 1) * 0x9e3779b97f4a7c15ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace

ReplicaLease UpstreamService::pick(std::string_view affinity_key, const UpstreamReplica* exclude) {
  std::lock_guard<std::mutex> lock(pick_mu_);
  const size_t n = replicas_.size();
  UpstreamReplica* least = nullptr;
  int64_t least_busy = std::numeric_limits<int64_t>::max();
  for (size_t k = 0; k < n; ++k) {
    UpstreamReplica* r = replicas_[(rotate_ + k) % n].get();
    if (r == exclude || !r->healthy()) continue;
    if (r->outstanding() < least_busy) {
      least = r;
      least_busy = r->outstanding();
    }
  }
  if (!least) return {};
  UpstreamReplica* chosen = least;
  if (affinity_ == ServiceAffinity::prefix && !affinity_key.empty()) {
    UpstreamReplica* best = nullptr;
    uint64_t best_score = 0;
    for (const auto& r : replicas_) {
      if (r.get() == exclude || !r->healthy()) continue;
      const uint64_t score = rendezvous_score(affinity_key, r->index());
      if (!best || score > best_score) {
        best = r.get();
        best_score = score;
      }
    }
    // The prefix's replica, unless it is far busier than the least busy one.
    if (best && best->outstanding() <= 2 * least_busy + 4) chosen = best;
  }
  if (chosen == least) rotate_ = (least->index() + 1) % n;  // ties take turns
  ++chosen->outstanding_;
  ++chosen->requests_;
  return ReplicaLease(chosen);
}

}  // namespace laneway::server
