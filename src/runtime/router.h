// Router: picks the lane for a request, in the order ../shared/LANES.md gives.
//   1. `model` names a lane or an alias -> that lane; a prompt longer than the
//      lane's context -> context_length_exceeded.
//   2. `model` is "auto" or absent -> the lane with the largest
//      min_prompt_tokens not above the prompt's token count (counted per lane);
//      if none, the default lane.
//   3. anything else -> model_not_found.
//   4. an unavailable lane (unhealthy, paused, loading) hands the request to
//      its `fallback` (followed as a chain); without one -> unavailable.
//
// Pure: the caller supplies prompt token counts, contexts and availability as
// callbacks, so the same code serves the HTTP server and tests. Immutable
// after construction; safe to use from any number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/lane_config.h"

namespace laneway {

enum class RouteOutcome { ok, model_not_found, context_length_exceeded, unavailable };

struct RouteResult {
  RouteOutcome outcome = RouteOutcome::ok;
  size_t lane = 0;            // the lane that serves it (ok), or the one that failed
  size_t requested_lane = 0;  // the lane steps 1-2 chose, before any fallback
  int64_t prompt_tokens = 0;  // the prompt's length on `lane` (when known)
  std::string message;        // for errors: what a client can act on
};

struct RouteQuery {
  // Tokens of this request's prompt on lane i (embedded: its tokenizer;
  // upstream: an estimate). May be called for several lanes; callers memoize.
  std::function<int64_t(size_t lane)> prompt_tokens;
  // Tokens of context a request may use on lane i; 0 = unknown (no check).
  std::function<int64_t(size_t lane)> context_tokens;
  // Whether lane i can take requests now (healthy, loaded, not paused).
  std::function<bool(size_t lane)> available;
};

class Router {
 public:
  // `hidden[i]`: lane i keeps its index but is not there for requests (a
  // model file that went away): not found by name or alias, never picked
  // for "auto", not listed in errors.
  explicit Router(const LanesConfig& config, const std::vector<bool>& hidden = {});

  // Lane index for a lane name or alias.
  std::optional<size_t> find(std::string_view model) const;
  size_t lane_count() const { return lanes_.size(); }

  // Steps 1-4 for a request on the shared API. `model` empty = omitted.
  RouteResult route(std::string_view model, const RouteQuery& query) const;
  // Steps 1 and 4 for a request that named its lane by URL (/lanes/<name>/v1).
  RouteResult route_to(size_t lane, const RouteQuery& query) const;

 private:
  struct LaneInfo {
    std::string name;
    std::vector<std::string> aliases;
    std::optional<int64_t> min_prompt_tokens;
    std::optional<size_t> fallback;
    bool is_default = false;
    bool hidden = false;
  };
  RouteResult finish(size_t lane, const RouteQuery& query) const;

  std::vector<LaneInfo> lanes_;
};

}  // namespace laneway
