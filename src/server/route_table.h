// The routes of the HTTP API as a closed set: what a request path names
// (which route, which lane), the `route` label it is counted under in
// /metrics, and whether it needs a key ("Who needs a key" in LANES.md).
//
// Metrics labels come only from this fixed set (route templates such as
// "/lanes/{lane}/v1/completions", or "unknown"), never from request text:
// a label made of the path would let any client, keyed or not, add a series
// per request and grow /metrics and the server's memory without bound.
//
// Pure functions; the returned views point into `path`/`query` or static text.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace laneway::server {

enum class RouteId {
  liveness,      // GET /health
  ui,            // GET /ui: the status page (its data comes from /v1/lanes, behind the key)
  readiness,     // GET /health?lane=NAME, /lanes/NAME/health
  metrics,       // GET /metrics
  models,        // /v1/models, /lanes/NAME/v1/models
  lanes,         // /v1/lanes (shared API only)
  lane_control,  // POST /v1/lanes/NAME/reload | /v1/lanes/NAME/unload (shared API only)
  chat,          // /v1/chat/completions, /lanes/NAME/v1/chat/completions
  completions,   // /v1/completions, /lanes/NAME/v1/completions
  lane_api,      // any other /lanes/NAME/v1/...: passed to upstream lanes
  unknown_api,   // any other /v1/... or /lanes/NAME/...: 404, but behind the key
  ollama_root,   // GET|HEAD /: Ollama's liveness answer ("Ollama is running")
  ollama_api,    // /api/...: Ollama's API (routes_ollama.cpp; api_path below /api)
  unknown,       // anything else: 404
};

struct RouteMatch {
  RouteId id = RouteId::unknown;
  std::string_view lane;      // lane named by the URL or ?lane= ("" = none; may name no configured lane)
  bool lane_from_url = false; // /lanes/NAME/...
  std::string_view api_path;  // below /v1 ("/chat/completions", ...) or /api ("/chat"), "" when not an API route
  std::string_view action;    // lane_control: "reload" or "unload"
  std::string_view label;     // the metrics `route` label: always one of route_labels()
};

// `path` without the query; `query` without the '?'.
RouteMatch match_route(std::string_view path, std::string_view query);

// Every value match_route() gives as a label, plus the labels the server
// uses outside of routing ("shutdown").
const std::vector<std::string_view>& route_labels();

// Routes answered without a key although keys are set (server.open_routes).
struct OpenRoutes {
  bool readiness = false;  // /health?lane=, /lanes/NAME/health
  bool lanes = false;      // GET /v1/lanes
  bool metrics = false;    // GET /metrics

  // From the config's list ("readiness", "lanes", "metrics"); invalid_argument
  // naming any other entry.
  static Result<OpenRoutes> parse(const std::vector<std::string>& names);
};

// Whether a route needs a key when keys are set. Liveness never does (an
// orchestrator must be able to tell the process is up); readiness, the lane
// list and metrics reveal lane names, states and token counts, so they do
// unless open_routes lists them; unknown paths outside /v1 and /lanes are
// 404 either way.
bool route_needs_key(RouteId route, const OpenRoutes& open);

// Which key a route takes once any key is configured (key_ring.h says what
// each key opens).
enum class KeyScope {
  none,    // answered without a key (liveness, /ui, open_routes, ...)
  server,  // server-wide: /v1/lanes, /metrics, lane control, unknown /v1/... routes
  any,     // any valid key: listings (filtered to the lanes the key opens) and the
           // shared generation routes, whose lane is known only after routing
  lane,    // the lane RouteMatch::lane names (by URL or ?lane=)
};
KeyScope route_key_scope(const RouteMatch& route, const OpenRoutes& open);

}  // namespace laneway::server
