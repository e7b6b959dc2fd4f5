// The lane configuration (lanes.yaml), exactly as ../shared/LANES.md defines
// it, parsed into native structs. One parser serves `laneway serve --config`
// and `laneway plan --lanes`, so it knows nothing about HTTP.
//
// Every error names the file, the line and the key ("lanes.yaml:14:
// lanes[2].cache_type_k: expected one of f16, q8_0, q4_0, got 'q5_1'").
// Unknown keys, wrong types and impossible values (a lane with both `model`
// and `service`, a fallback that names no lane, two default lanes, ...) are
// errors, never ignored.
//
// Secrets (`api_key: env:NAME`) are stored as written; resolve_secret()
// reads the environment when the server starts, so parsing stays pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace laneway {

inline constexpr uint64_t kDefaultMaxBodyBytes = 64ull << 20;  // 64 MiB

// `server.tls`: every listener speaks HTTPS with this certificate chain and
// private key (PEM files; paths as written, the CLI resolves relative ones
// against the config file's folder).
struct TlsFiles {
  std::string cert;
  std::string key;
};

struct ServerSection {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<std::string> api_keys;  // empty: no key checks (lanes may still have their own)
  std::optional<TlsFiles> tls;        // unset: plain HTTP
  uint64_t max_body_bytes = kDefaultMaxBodyBytes;
  std::vector<std::string> open_routes;  // answered without a key: readiness, lanes, metrics
  std::vector<std::string> cors_origins;  // browser origins allowed ("http://localhost:3000", or "*"); none by default
  std::optional<int> ollama_port;     // also serve Ollama's routes on this port
};

struct MachineSection {
  std::string profile;                       // "" = what the hardware probe reports
  std::optional<uint64_t> reserve_os_bytes;
  std::optional<uint64_t> reserve_other_bytes;
};

// One call of a service's sleep or wake: POST `path` (from the root of the
// replica's host, not its API base: vLLM's /sleep beside /v1) with `body`
// (JSON; "" = none).
struct ServiceCall {
  std::string path;
  std::string body;
};

// How burst mode asks a service to release its memory and take it back
// (LANES.md `sleep`; docs/config.md).
struct ServiceSleep {
  std::string path;               // e.g. /sleep (a query may follow: /sleep?level=2)
  std::vector<ServiceCall> wake;  // e.g. /wake_up; several calls are made in order
  std::string frees;              // "all" | "none" (what sleeping really frees)
  // The sleep call as made: `path`, with level=2 added when `frees` is all
  // and the path names no level (vLLM's default, level 1, moves the weights
  // to host memory, which frees nothing on a unified-memory APU).
  std::string sleep_target() const;
};

// How a replicated service picks a replica (`balance`); least_busy is the only rule so far.
enum class ServiceBalance { least_busy };
// `affinity`: none, or prefix (prompts sharing their first bytes go to one replica).
enum class ServiceAffinity { none, prefix };

struct ServiceConfig {
  std::string name;
  // Base URLs ending in the API root, e.g. http://127.0.0.1:8000/v1: one per
  // replica, from `url` (one) or `urls` (several), never both. http:// or https://.
  std::vector<std::string> urls;
  ServiceBalance balance = ServiceBalance::least_busy;
  ServiceAffinity affinity = ServiceAffinity::none;
  std::string ca_file;  // "" = the system CAs only; else a PEM file trusted in addition (https replicas)
  std::string api_key;  // as written: a literal key, "env:NAME", or "" for none
  std::optional<uint64_t> memory_budget_bytes;
  std::optional<ServiceSleep> sleep;
  int line = 0;         // 1-based line of the entry in the file, for later messages
  // Burst mode may put it to sleep: `sleep` frees all, and it says what it holds.
  bool sleeps_in_burst() const { return sleep && sleep->frees == "all" && memory_budget_bytes.has_value(); }
};

enum class LaneKind { embedded, upstream };

// When an embedded lane's weights are resident (LANES.md `load`).
enum class LaneLoad { eager, on_demand };
// What a lane does with its running requests before a pause (`on_pause`).
enum class OnPause { drain, preempt };

// The default idle time of an on_demand lane before it unloads.
inline constexpr std::chrono::milliseconds kDefaultKeepAlive{5 * 60 * 1000};

struct LaneConfig {
  std::string name;                   // [a-z0-9_-]+, unique across lane names and aliases
  std::vector<std::string> aliases;   // other model names clients may send
  LaneKind kind = LaneKind::embedded;

  // Upstream lanes.
  std::string service;                // names an entry of `services`
  std::string upstream_model;         // "" = forward the client's `model` unchanged

  // Embedded lanes.
  std::string model_path;
  // Planning only (`laneway plan --lanes`): the named shape and weight type
  // (as `laneway plan --shape NAME --type T`) that stand for model_path on a
  // machine that does not have the file yet. Serving always reads the file.
  std::string shape;                  // "" = none; e.g. "llama-3.1-8b"
  std::string shape_type = "Q4_K_M";  // weight type or mix of the shape
  int64_t context_tokens = 0;         // 0 = the model's trained context (upstream: unknown)
  int64_t burst_context_tokens = 0;   // 0 = none
  std::string cache_type_k = "f16";   // f16 | q8_0 | q4_0
  std::string cache_type_v = "f16";
  int64_t slots = 1;                  // parallel sequences
  int64_t queue = 8;                  // waiting requests beyond busy slots; then 429
  std::string gpu_layers = "auto";    // "auto" (all on a usable GPU, else the CPU), "all" or a count
  std::string device = "auto";        // auto, a device name or index (`laneway doctor`)
  bool mlock = false;
  LaneLoad load = LaneLoad::eager;
  // Idle time before the lane unloads; negative = never (pinned while loaded).
  // Unset: on_demand lanes kDefaultKeepAlive, eager lanes never.
  std::optional<std::chrono::milliseconds> keep_alive;
  std::optional<uint64_t> memory_budget_bytes;  // the plan refuses a bill above it

  // Both kinds.
  std::optional<int64_t> min_prompt_tokens;  // routing rule for model "auto"
  std::optional<uint64_t> max_body_bytes;    // unset: server.max_body_bytes
  int64_t priority = 0;                      // higher keeps its memory in burst mode
  bool pausable = true;                      // false: burst mode and the pool never unload it
  OnPause on_pause = OnPause::drain;
  std::string fallback;                      // lane used while this one is unhealthy or paused
  bool is_default = false;                   // `default: true`
  std::optional<int> listen_port;            // `listen: PORT`
  std::vector<std::string> api_keys;         // open this lane's routes too, besides server.api_keys
  int line = 0;                              // 1-based line of the entry
  // Made from a file of a models folder or store (model_sources.h), not
  // written in lanes.yaml: a rescan of the folders may find it gone.
  bool from_model_source = false;

  bool embedded() const { return kind == LaneKind::embedded; }
  // keep_alive with its default applied.
  std::chrono::milliseconds idle_unload_after() const {
    if (keep_alive) return *keep_alive;
    return load == LaneLoad::on_demand ? kDefaultKeepAlive : std::chrono::milliseconds(-1);
  }
};

struct LanesConfig {
  std::string source;  // file name used in messages ("<command line>" when built from flags)
  ServerSection server;
  std::optional<MachineSection> machine;
  std::vector<ServiceConfig> services;
  std::vector<LaneConfig> lanes;
  // Lanes made from files (config/model_sources.h), as written ("~/" and
  // relative paths are resolved by whoever scans them); "" = none. With
  // either set, `lanes` may be empty.
  std::string models_dir;
  std::string ollama_models;

  // nullptr when absent. Lookups by lane name only (not aliases).
  const LaneConfig* find_lane(std::string_view name) const;
  const ServiceConfig* find_service(std::string_view name) const;
  // The body limit that applies to a lane (its own, else the server's).
  uint64_t max_body_bytes_for(const LaneConfig& lane) const;
};

// Parses YAML text; `source` names the file in error messages.
Result<LanesConfig> parse_lanes_config(std::string_view yaml_text, std::string_view source);
// Reads and parses a file (io_error naming the path when unreadable).
Result<LanesConfig> load_lanes_config(const std::string& path);

// Checks cross-references and values of a config built in code (the parser
// runs it too): unique names, exactly one of model/service, services and
// fallbacks that exist, at most one default lane.
Status validate_lanes_config(const LanesConfig& config);

// "64MiB" -> 67108864, "1GB" -> 1000000000, "4096" / "4096B" -> 4096.
// Units: B, KiB, MiB, GiB, TiB (1024) and KB, MB, GB, TB (1000); a decimal
// number is allowed ("1.5GiB"). invalid_argument for anything else.
Result<uint64_t> parse_size_bytes(std::string_view text);
// "32k" -> 32768, "1M" -> 1048576, "4096" -> 4096 (k = 1024, M = 1048576).
Result<int64_t> parse_token_count(std::string_view text);
// Durations as Go (and so Ollama's keep_alive) writes them: "5m", "1h30m",
// "300ms", "2.5s"; a bare number is seconds; "-1" or any negative = never.
// Units: ns, us, ms, s, m, h. invalid_argument for anything else.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// "env:NAME" -> the variable's value (not_found when unset); anything else as is.
Result<std::string> resolve_secret(const std::string& value);

}  // namespace laneway
