// Metrics: the server's counters and the time-to-first-token histogram, and
// the Prometheus text rendering of them together with lane gauges (queue
// depth, busy slots, KV use, tokens/s, upstream health) sampled at scrape time.
//
// Thread-safety: all methods may be called from any thread (one mutex; a
// request touches it once or twice, never per token).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/generation.h"

namespace laneway::server {

// What a lane looks like at scrape time.
struct LaneGauges {
  std::string lane;
  std::string kind;   // "embedded" | "upstream"
  bool ready = false;
  std::string state;  // LANES.md's lane state ("ready", "loading", ...)
  int64_t loads = 0;    // embedded lanes: times loaded and unloaded by the pool
  int64_t unloads = 0;
  uint64_t resident_bytes = 0;  // the planner's bill while loaded, else 0
  LaneStats stats;  // the engine's counters (zero for upstream lanes)
};

// One replica of an upstream service (its URL is the `replica` label).
struct ReplicaGauges {
  std::string url;
  bool healthy = false;
  int64_t outstanding = 0;       // requests sent, not answered yet
  int64_t requests = 0;          // requests sent (retries included)
  int64_t failures = 0;          // requests that failed (before the first byte, or mid-response)
  int64_t ejections = 0;         // healthy -> unhealthy transitions
  int64_t checks = 0;            // health checks sent
  int64_t check_failures = 0;
};

struct ServiceGauges {
  std::string service;
  bool healthy = false;  // any replica healthy
  int64_t checks = 0;    // over all replicas
  int64_t failures = 0;
  int64_t retries = 0;   // requests retried on another replica
  std::vector<ReplicaGauges> replicas;
  // A service that sleeps in burst mode (LANES.md `sleep`): asleep now, and
  // how often the pool put it to sleep and woke it. Unset for the others.
  bool sleeps = false;
  bool asleep = false;
  int64_t sleeps_total = 0;
  int64_t wakes_total = 0;
};

class Metrics {
 public:
  static constexpr std::array<double, 12> kTtftBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                          0.5,   1.0,  2.5,   5.0,  10.0, 30.0};

  // One answered request; lane "" for requests no lane took (404, 401, ...).
  void count_request(const std::string& lane, const std::string& route, int status);
  void observe_ttft(const std::string& lane, double seconds);
  // Tokens of upstream lanes (embedded lanes report their own totals).
  void count_upstream_bytes(const std::string& lane, uint64_t bytes);

  std::string render(const std::vector<LaneGauges>& lanes, const std::vector<ServiceGauges>& services) const;

 private:
  struct Histogram {
    std::array<uint64_t, kTtftBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;  // (lane, route, status)
  std::map<std::string, Histogram> ttft_;
  std::map<std::string, uint64_t> upstream_bytes_;
};

// Escapes a label value for the Prometheus text format.
std::string prometheus_label(const std::string& value);

}  // namespace laneway::server
