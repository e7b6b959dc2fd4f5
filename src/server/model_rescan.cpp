// Rescanning the model folders while serving (ServeOptions::model_lanes).
// A GGUF added to a --models-dir, an Ollama store or (when `serve` was given
// no model) one of the usual places becomes an on-demand lane; a file that
// went away hides its lane (unloaded once idle) until it is back; a file
// replaced in place is read again before its next load. Lanes written in
// lanes.yaml or given with -m are never touched: a file that would take one
// of their names is reported once and skipped.
//
// Rescans run on the worker threads (off_io), one at a time under
// rescan_mu_. Readers never lock: lanes_ is append-only, `gone` is atomic and
// the router is replaced whole.
#include <fmt/format.h>

#include "server/laneway_server.h"

namespace laneway::server {

namespace {

using Clock = std::chrono::steady_clock;

// Listings rescan at most this often; a request for an unknown model always
// gets a rescan that began after it asked (concurrent ones share it).
constexpr auto kListingRescanInterval = std::chrono::seconds(1);

bool names_lane(const LaneConfig& lane, const std::string& name) {
  return lane.name == name || std::find(lane.aliases.begin(), lane.aliases.end(), name) != lane.aliases.end();
}

}  // namespace

net::awaitable<void> LanewayServer::rescan_models(bool now) {
  if (!options_.model_lanes || stopping_) co_return;
  const Clock::time_point asked = Clock::now();
  co_await off_io([this, now, asked] {
    std::lock_guard<std::mutex> lock(rescan_mu_);
    // A rescan that began after this request asked has seen what it would.
    if (last_rescan_ != Clock::time_point{} && last_rescan_ >= asked) return 0;
    if (!now && last_rescan_ != Clock::time_point{} && asked - last_rescan_ < kListingRescanInterval) return 0;
    last_rescan_ = Clock::now();  // when this one began
    rescan_models_blocking();
    return 0;
  });
}

void LanewayServer::rescan_models_blocking() {
  auto report = [this](const std::string& key, const std::string& message) {
    if (!rescan_reported_.insert(key).second) return;  // said once
    options_.log.write(spdlog::level::warn, "models", message, {{"message", message}});
  };
  auto found = options_.model_lanes();
  if (!found) {
    report("scan:" + found.status().message(), "rescan of the model folders failed: " + found.status().message());
    return;
  }
  bool changed = false;
  std::set<std::string> present;
  for (LaneConfig& lc : *found) {
    std::optional<size_t> same;
    for (size_t i = 0; i < lanes_.size(); ++i) {
      if (lanes_[i]->config->name == lc.name) same = i;
    }
    if (same) {
      LaneRuntime& l = *lanes_[*same];
      if (!l.config->from_model_source || l.config->model_path != lc.model_path) {
        report("name:" + lc.model_path,
               fmt::format("{} gives the lane name '{}', which lane {} ({}) already has; rename the file to serve it",
                           lc.model_path, lc.name, l.config->name,
                           l.config->model_path.empty() ? l.config->service : l.config->model_path));
        continue;
      }
      present.insert(lc.name);
      if (l.gone.exchange(false)) {
        changed = true;
        options_.log.write(spdlog::level::info, "models", fmt::format("{}: {} is back", lc.name, lc.model_path),
                           {{"lane", lc.name}, {"file", lc.model_path}, {"event", "back"}});
      }
      const auto stamp = file_stamp(lc.model_path);
      const bool file_changed = stamp ? stamp->first != l.file_mtime_ns || int64_t(stamp->second) != l.file_size
                                 : l.file_size != -1;
      if (file_changed && !pool_->status(*l.pool_lane).resident) {
        options_.log.write(spdlog::level::info, "models", fmt::format("{}: {} changed; read again", lc.name, lc.model_path),
                           {{"lane", lc.name}, {"file", lc.model_path}, {"event", "changed"}});
        pool_->replace(*l.pool_lane, setup_embedded(l, nullptr));
      }
      continue;
    }
    // A new file. Its alias (the original name) must not name another lane.
    std::string taken;
    for (const auto& other : lanes_) {
      if (other->gone) continue;
      for (const auto& alias : lc.aliases) {
        if (names_lane(*other->config, alias)) taken = other->config->name;
      }
      if (std::find(other->config->aliases.begin(), other->config->aliases.end(), lc.name) != other->config->aliases.end()) {
        taken = other->config->name;
      }
    }
    if (!taken.empty()) {
      report("name:" + lc.model_path, fmt::format("{} gives lane '{}' a name or alias that lane {} already has; rename "
                                                  "the file to serve it",
                                                  lc.model_path, lc.name, taken));
      continue;
    }
    if (lanes_.size() == lanes_.capacity()) {
      report("full", fmt::format("the model folders hold more models than the {} lanes a server adds; {} and later "
                                 "files are not served",
                                 lanes_.capacity(), lc.model_path));
      break;
    }
    auto lane = std::make_unique<LaneRuntime>();
    lane->index = lanes_.size();
    lane->own_config = std::make_unique<const LaneConfig>(std::move(lc));
    lane->config = lane->own_config.get();
    lane->pool_lane = pool_->add(setup_embedded(*lane, nullptr));
    options_.log.write(spdlog::level::info, "models",
                       fmt::format("{}: new lane for {}", lane->config->name, lane->config->model_path),
                       {{"lane", lane->config->name}, {"file", lane->config->model_path}, {"event", "added"}});
    present.insert(lane->config->name);
    lanes_.push_back(std::move(lane));
    changed = true;
  }
  for (const auto& l : lanes_) {
    if (!l->config->from_model_source || l->gone || present.count(l->config->name)) continue;
    l->gone = true;
    pool_->unload(*l->pool_lane);  // once idle: a request that holds it finishes
    changed = true;
    options_.log.write(spdlog::level::info, "models",
                       fmt::format("{}: {} is gone; the lane is hidden until it is back", l->config->name,
                                   l->config->model_path),
                       {{"lane", l->config->name}, {"file", l->config->model_path}, {"event", "gone"}});
  }
  if (changed) rebuild_router();
}

void LanewayServer::rebuild_router() {
  LanesConfig config;  // the Router reads the lanes only
  std::vector<bool> hidden;
  for (const auto& l : lanes_) {
    config.lanes.push_back(*l->config);
    hidden.push_back(l->hidden());
  }
  std::atomic_store(&router_, std::shared_ptr<const Router>(std::make_shared<const Router>(config, hidden)));
}

}  // namespace laneway::server
