#include "server/key_ring.h"

#include <algorithm>

namespace laneway::server {

bool Credentials::any_lane() const { return std::find(lanes.begin(), lanes.end(), true) != lanes.end(); }

bool keys_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

KeyRing::KeyRing(const LanesConfig& config) : server_(config.server.api_keys) {
  enabled_ = !server_.empty();
  for (const auto& lane : config.lanes) {
    lanes_.push_back(lane.api_keys);
    enabled_ = enabled_ || !lane.api_keys.empty();
  }
}

Credentials KeyRing::identify(std::optional<std::string_view> authorization) const {
  Credentials c;
  c.lanes.assign(lanes_.size(), false);
  c.presented = authorization.has_value();
  if (!authorization) return c;
  std::string_view value = *authorization;
  constexpr std::string_view kBearer = "Bearer ";
  if (value.size() <= kBearer.size() || value.substr(0, kBearer.size()) != kBearer) return c;
  value.remove_prefix(kBearer.size());
  // Every key is compared, whatever matched before: the time taken depends
  // on the configuration, never on how much of a key the client guessed.
  bool server = false;
  for (const auto& key : server_) server |= keys_equal(key, value);
  c.server = server;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    bool match = false;
    for (const auto& key : lanes_[i]) match |= keys_equal(key, value);
    c.lanes[i] = match;
  }
  return c;
}

bool KeyRing::opens_server(const Credentials& c) const { return server_.empty() || c.server; }

bool KeyRing::opens_lane(const Credentials& c, std::optional<size_t> lane) const {
  if (c.server) return true;
  if (!lane || *lane >= lanes_.size()) return server_.empty();
  if (lanes_[*lane].empty()) return server_.empty();
  return *lane < c.lanes.size() && c.lanes[*lane];
}

bool KeyRing::opens_any(const Credentials& c) const { return server_.empty() || c.server || c.any_lane(); }

}  // namespace laneway::server
