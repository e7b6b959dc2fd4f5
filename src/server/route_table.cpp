#include "server/route_table.h"

namespace laneway::server {

namespace {

constexpr std::string_view kUnknown = "unknown";

// The query's value of `lane` ("" when absent); the last one wins.
std::string_view query_lane(std::string_view query) {
  std::string_view name;
  for (size_t start = 0; start <= query.size();) {
    const size_t amp = std::min(query.find('&', start), query.size());
    const auto pair = query.substr(start, amp - start);
    if (pair.rfind("lane=", 0) == 0) name = pair.substr(5);
    start = amp + 1;
  }
  return name;
}

// The routes below /v1 that both the shared API and a lane's base URL serve.
RouteMatch match_api(std::string_view api_path, bool by_lane) {
  RouteMatch m;
  m.api_path = api_path;
  if (api_path == "/chat/completions") {
    m.id = RouteId::chat;
    m.label = by_lane ? "/lanes/{lane}/v1/chat/completions" : "/v1/chat/completions";
  } else if (api_path == "/completions") {
    m.id = RouteId::completions;
    m.label = by_lane ? "/lanes/{lane}/v1/completions" : "/v1/completions";
  } else if (api_path == "/models") {
    m.id = RouteId::models;
    m.label = by_lane ? "/lanes/{lane}/v1/models" : "/v1/models";
  } else if (api_path == "/lanes" && !by_lane) {
    m.id = RouteId::lanes;
    m.label = "/v1/lanes";
  } else if (api_path.rfind("/lanes/", 0) == 0 && !by_lane) {
    // /lanes/NAME/reload, /lanes/NAME/unload
    std::string_view rest = api_path.substr(7);
    const size_t slash = rest.find('/');
    const std::string_view action = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
    if (slash != 0 && slash != std::string_view::npos && (action == "reload" || action == "unload")) {
      m.id = RouteId::lane_control;
      m.lane = rest.substr(0, slash);
      m.action = action;
      m.label = action == "reload" ? "/v1/lanes/{lane}/reload" : "/v1/lanes/{lane}/unload";
    } else {
      m.id = RouteId::unknown_api;
      m.label = kUnknown;
    }
  } else if (by_lane) {
    m.id = RouteId::lane_api;
    m.label = "/lanes/{lane}/v1/*";
  } else {
    m.id = RouteId::unknown_api;
    m.label = kUnknown;
  }
  return m;
}

// Ollama's routes below /api; anything else there is counted as "/api/*".
RouteMatch match_ollama(std::string_view api_path) {
  static constexpr std::string_view kLabels[] = {"/api/version", "/api/tags", "/api/show", "/api/ps", "/api/generate",
                                                 "/api/chat", "/api/embed", "/api/embeddings"};
  RouteMatch m;
  m.id = RouteId::ollama_api;
  m.api_path = api_path;
  m.label = "/api/*";
  for (std::string_view label : kLabels) {
    if (label.substr(4) == api_path) m.label = label;
  }
  return m;
}

}  // namespace

RouteMatch match_route(std::string_view path, std::string_view query) {
  RouteMatch m;
  m.label = kUnknown;
  if (path == "/health") {
    m.label = "/health";
    m.lane = query_lane(query);
    m.id = m.lane.empty() ? RouteId::liveness : RouteId::readiness;
    return m;
  }
  if (path == "/metrics") {
    m.id = RouteId::metrics;
    m.label = "/metrics";
    return m;
  }
  if (path == "/v1" || path.rfind("/v1/", 0) == 0) return match_api(path.substr(3), false);
  if (path == "/ui") {
    m.id = RouteId::ui;
    m.label = "/ui";
    return m;
  }
  if (path == "/") {
    m.id = RouteId::ollama_root;
    m.label = "/";
    return m;
  }
  if (path == "/api" || path.rfind("/api/", 0) == 0) return match_ollama(path.substr(4));
  if (path.rfind("/lanes/", 0) == 0) {
    std::string_view rest = path.substr(7);
    const std::string_view lane = rest.substr(0, rest.find('/'));
    rest.remove_prefix(lane.size());
    if (lane.empty()) {
      m.id = RouteId::unknown_api;  // "/lanes//..." names no lane
    } else if (rest == "/health") {
      m.id = RouteId::readiness;
      m.label = "/lanes/{lane}/health";
    } else if (rest == "/v1" || rest.rfind("/v1/", 0) == 0) {
      m = match_api(rest.substr(3), true);
    } else {
      m.id = RouteId::unknown_api;  // behind the key: a 404 would tell which lanes exist
    }
    m.lane = lane;
    m.lane_from_url = true;
    return m;
  }
  return m;
}

const std::vector<std::string_view>& route_labels() {
  static const std::vector<std::string_view> labels = {
      "/health", "/metrics", "/v1/chat/completions", "/v1/completions", "/v1/models", "/v1/lanes",
      "/lanes/{lane}/health", "/lanes/{lane}/v1/chat/completions", "/lanes/{lane}/v1/completions",
      "/lanes/{lane}/v1/models", "/lanes/{lane}/v1/*", "/v1/lanes/{lane}/reload", "/v1/lanes/{lane}/unload",
      "/ui", "/", "/api/version", "/api/tags", "/api/show", "/api/ps", "/api/generate", "/api/chat", "/api/embed",
      "/api/embeddings", "/api/*", "preflight", "shutdown", kUnknown};
  return labels;
}

Result<OpenRoutes> OpenRoutes::parse(const std::vector<std::string>& names) {
  OpenRoutes open;
  for (const auto& n : names) {
    if (n == "readiness") open.readiness = true;
    else if (n == "lanes") open.lanes = true;
    else if (n == "metrics") open.metrics = true;
    else return invalid_argument_error("open_routes: unknown route '{}' (expected readiness, lanes or metrics)", n);
  }
  return open;
}

bool route_needs_key(RouteId route, const OpenRoutes& open) {
  switch (route) {
    case RouteId::liveness: return false;
    case RouteId::unknown: return false;
    case RouteId::ollama_root: return false;  // says only that the server is up, as liveness does
    case RouteId::ui: return false;           // a page without data: what it shows comes from /v1/lanes
    case RouteId::readiness: return !open.readiness;
    case RouteId::lanes: return !open.lanes;
    case RouteId::lane_control: return true;
    case RouteId::metrics: return !open.metrics;
    case RouteId::models:
    case RouteId::chat:
    case RouteId::completions:
    case RouteId::lane_api:
    case RouteId::ollama_api:
    case RouteId::unknown_api: return true;
  }
  return true;
}

KeyScope route_key_scope(const RouteMatch& route, const OpenRoutes& open) {
  if (!route_needs_key(route.id, open)) return KeyScope::none;
  switch (route.id) {
    case RouteId::readiness:
    case RouteId::lane_api: return KeyScope::lane;
    case RouteId::models:
    case RouteId::chat:
    case RouteId::completions: return route.lane_from_url ? KeyScope::lane : KeyScope::any;
    case RouteId::unknown_api: return route.lane_from_url ? KeyScope::lane : KeyScope::server;
    case RouteId::ollama_api: return KeyScope::any;
    case RouteId::lanes:
    case RouteId::metrics:
    case RouteId::lane_control: return KeyScope::server;
    case RouteId::liveness:
    case RouteId::unknown:
    case RouteId::ollama_root:
    case RouteId::ui: return KeyScope::none;
  }
  return KeyScope::server;
}

}  // namespace laneway::server
