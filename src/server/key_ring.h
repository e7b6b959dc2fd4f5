// KeyRing: the bearer keys of a lanes.yaml (server.api_keys and each lane's
// api_keys) and what a presented key opens, as LANES.md "Who needs a key"
// says. The route side (which scope a route needs) is route_key_scope() in
// route_table.h; LanewayServer asks both in one place (dispatch) and, for
// routes that name their lane in the body, once more after routing.
//
//   server key  every route
//   lane key    that lane's routes (by model name, /lanes/NAME/..., its
//               listen port, Ollama's generate/chat/show for it) and the
//               listings (/v1/models, /api/tags, /api/ps, /api/version),
//               which then show only the lanes it opens; never the
//               server-wide routes (/v1/lanes, /metrics, lane control)
//   no key      lanes without keys while server.api_keys is empty (as
//               before lane keys existed); the server-wide routes only
//               while server.api_keys is empty
//
// A lane that does not exist is judged as a lane without keys, so a refusal
// never tells a keyless client which names exist.
//
// Keys are compared in constant time (every byte of every key of equal
// length, no early exit), so timing says nothing about a key's prefix.
// Pure and immutable after construction: safe from any number of threads.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/lane_config.h"

namespace laneway::server {

// What the request's key turned out to be.
struct Credentials {
  bool presented = false;   // an Authorization header came with the request
  bool server = false;      // a key of server.api_keys
  std::vector<bool> lanes;  // lanes[i]: a key of lane i's api_keys (indices of config.lanes)

  bool any_lane() const;
};

class KeyRing {
 public:
  KeyRing() = default;
  explicit KeyRing(const LanesConfig& config);

  // Whether any key is configured anywhere (else every route is open).
  bool enabled() const { return enabled_; }
  bool server_keys() const { return !server_.empty(); }

  // `authorization`: the header's value (nullopt: no header). Only
  // "Bearer KEY" is understood; anything else matches no key.
  Credentials identify(std::optional<std::string_view> authorization) const;

  // Server-wide routes: a server key, or none configured.
  bool opens_server(const Credentials& c) const;
  // Lane `lane` (nullopt: a lane that does not exist).
  bool opens_lane(const Credentials& c, std::optional<size_t> lane) const;
  // Routes open to every valid key, whose answer depends on the lanes it
  // opens (listings; the shared generation routes before routing).
  bool opens_any(const Credentials& c) const;

 private:
  std::vector<std::string> server_;
  std::vector<std::vector<std::string>> lanes_;  // per lane of the config, in order
  bool enabled_ = false;
};

// Equal-length compare of every byte (false at once only on a length mismatch).
bool keys_equal(std::string_view a, std::string_view b);

}  // namespace laneway::server
