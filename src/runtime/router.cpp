#include "runtime/router.h"

#include <fmt/format.h>

namespace laneway {

Router::Router(const LanesConfig& config, const std::vector<bool>& hidden) {
  for (size_t i = 0; i < config.lanes.size(); ++i) {
    const auto& lane = config.lanes[i];
    const bool gone = i < hidden.size() && hidden[i];
    lanes_.push_back({lane.name, lane.aliases, lane.min_prompt_tokens, std::nullopt, lane.is_default && !gone, gone});
  }
  for (size_t i = 0; i < config.lanes.size(); ++i) {
    if (!config.lanes[i].fallback.empty()) lanes_[i].fallback = find(config.lanes[i].fallback);
  }
}

std::optional<size_t> Router::find(std::string_view model) const {
  for (size_t i = 0; i < lanes_.size(); ++i) {
    if (!lanes_[i].hidden && lanes_[i].name == model) return i;
  }
  for (size_t i = 0; i < lanes_.size(); ++i) {
    if (lanes_[i].hidden) continue;
    for (const auto& alias : lanes_[i].aliases) {
      if (alias == model) return i;
    }
  }
  return std::nullopt;
}

RouteResult Router::route(std::string_view model, const RouteQuery& query) const {
  if (!model.empty() && model != "auto") {
    if (auto lane = find(model)) return route_to(*lane, query);
    RouteResult r;
    r.outcome = RouteOutcome::model_not_found;
    std::string known;
    for (const auto& l : lanes_) {
      if (!l.hidden) known += (known.empty() ? "" : ", ") + l.name;
    }
    r.message = fmt::format("The model '{}' does not exist; lanes: {} (or their aliases, see GET /v1/models)", model, known);
    return r;
  }
  // "auto": the most demanding min_prompt_tokens rule the prompt satisfies.
  std::optional<size_t> best;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    const auto& rule = lanes_[i].min_prompt_tokens;
    if (!rule || lanes_[i].hidden) continue;
    if (best && *lanes_[*best].min_prompt_tokens >= *rule) continue;
    if (query.prompt_tokens(i) >= *rule) best = i;
  }
  if (!best) {
    for (size_t i = 0; i < lanes_.size(); ++i) {
      if (lanes_[i].is_default) best = i;
    }
  }
  if (!best) {
    RouteResult r;
    r.outcome = RouteOutcome::model_not_found;
    r.message = "no lane takes model 'auto' for this prompt: no min_prompt_tokens rule matches and no lane is "
                "marked `default: true`; name a lane in `model`";
    return r;
  }
  return route_to(*best, query);
}

RouteResult Router::route_to(size_t lane, const RouteQuery& query) const {
  RouteResult r;
  r.requested_lane = lane;
  // Step 4: follow fallbacks while the lane cannot take requests; a chain that
  // loops back ends the search.
  size_t current = lane;
  std::vector<bool> seen(lanes_.size(), false);
  while (!query.available(current)) {
    seen[current] = true;
    const auto next = lanes_[current].fallback;
    if (!next || seen[*next]) {
      r.outcome = RouteOutcome::unavailable;
      r.lane = lane;
      r.message = next ? fmt::format("lane '{}' and its fallbacks are unavailable (unhealthy, loading or paused)",
                                     lanes_[lane].name)
                       : fmt::format("lane '{}' is unavailable (unhealthy, loading or paused) and has no fallback",
                                     lanes_[lane].name);
      return r;
    }
    current = *next;
  }
  RouteResult done = finish(current, query);
  done.requested_lane = lane;
  return done;
}

RouteResult Router::finish(size_t lane, const RouteQuery& query) const {
  RouteResult r;
  r.lane = lane;
  r.prompt_tokens = query.prompt_tokens(lane);
  const int64_t ctx = query.context_tokens(lane);
  if (ctx > 0 && r.prompt_tokens >= ctx) {
    r.outcome = RouteOutcome::context_length_exceeded;
    r.message = fmt::format(
        "This model's maximum context length is {} tokens. However, your messages resulted in {} tokens (lane '{}')",
        ctx, r.prompt_tokens, lanes_[lane].name);
  }
  return r;
}

}  // namespace laneway
