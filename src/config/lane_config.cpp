#include "config/lane_config.h"
#include "core/did_you_mean.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace laneway {

std::string ServiceSleep::sleep_target() const {
  if (frees != "all") return path;
  const size_t q = path.find('?');
  if (q != std::string::npos) {
    // A level named in the query is kept as written.
    const std::string_view query = std::string_view(path).substr(q + 1);
    for (size_t at = 0; at <= query.size();) {
      const size_t amp = std::min(query.find('&', at), query.size());
      if (query.substr(at, amp - at).rfind("level=", 0) == 0) return path;
      at = amp + 1;
    }
  }
  return path + (q == std::string::npos ? "?level=2" : "&level=2");
}

const LaneConfig* LanesConfig::find_lane(std::string_view name) const {
  for (const auto& lane : lanes) {
    if (lane.name == name) return &lane;
  }
  return nullptr;
}

const ServiceConfig* LanesConfig::find_service(std::string_view name) const {
  for (const auto& service : services) {
    if (service.name == name) return &service;
  }
  return nullptr;
}

uint64_t LanesConfig::max_body_bytes_for(const LaneConfig& lane) const {
  return lane.max_body_bytes.value_or(server.max_body_bytes);
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits "1.5GiB" into the number and its unit; the number must be finite and >= 0.
Result<std::pair<double, std::string_view>> split_number(std::string_view text, std::string_view what) {
  text = trim(text);
  size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == 0) return invalid_argument_error("expected a {} like {}, got '{}'", what,
                                            what == "size" ? "64MiB" : "32k", text);
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, value);
  if (ec != std::errc() || ptr != text.data() + i || !std::isfinite(value)) {
    return invalid_argument_error("'{}' is not a number", text.substr(0, i));
  }
  return std::pair<double, std::string_view>{value, trim(text.substr(i))};
}

// An origin as browsers send it: scheme://host[:port], no path; or "*".
bool is_cors_origin(std::string_view o) {
  if (o == "*") return true;
  const bool scheme = o.rfind("http://", 0) == 0 || o.rfind("https://", 0) == 0;
  return scheme && o.find('/', o.find("//") + 2) == std::string_view::npos && o.size() > o.find("//") + 2;
}

bool is_lane_name(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Reads one YAML document into LanesConfig, remembering where each value came from.
class Reader {
 public:
  explicit Reader(std::string_view source) : source_(source) {}

  Status error(const YAML::Node& node, const std::string& key, const std::string& message) const {
    const int line = node.Mark().is_null() ? 0 : node.Mark().line + 1;
    if (line > 0) return invalid_argument_error("{}:{}: {}: {}", source_, line, key, message);
    return invalid_argument_error("{}: {}: {}", source_, key, message);
  }

  // Every key of `map` must be in `allowed`; a key may appear once.
  Status check_keys(const YAML::Node& map, const std::string& path, std::initializer_list<std::string_view> allowed) {
    std::set<std::string> seen;
    for (const auto& kv : map) {
      if (!kv.first.IsScalar()) return error(kv.first, path, "keys must be plain names");
      const std::string key = kv.first.Scalar();
      const std::string full = path.empty() ? key : path + "." + key;
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string list;
        std::vector<std::string> names;
        for (auto a : allowed) {
          list += (list.empty() ? "" : ", ") + std::string(a);
          names.emplace_back(a);
        }
        const std::string near = nearest_name(key, names);
        return error(kv.first, full,
                     (near.empty() ? "unknown key" : "unknown key; did you mean '" + near + "'?") +
                         " (expected one of: " + list + ")");
      }
      if (!seen.insert(key).second) return error(kv.first, full, "the key appears twice");
    }
    return Status::ok();
  }

  Result<std::string> string(const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) return error(node, key, "expected a string");
    return node.Scalar();
  }

  Result<int64_t> integer(const YAML::Node& node, const std::string& key, int64_t min, int64_t max) {
    if (!node.IsScalar()) return error(node, key, "expected an integer");
    const std::string& s = node.Scalar();
    int64_t v = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size()) return error(node, key, "expected an integer, got '" + s + "'");
    if (v < min || v > max) return error(node, key, fmt::format("must be between {} and {}, got {}", min, max, v));
    return v;
  }

  Result<bool> boolean(const YAML::Node& node, const std::string& key) {
    if (node.IsScalar()) {
      const std::string& s = node.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    return error(node, key, "expected true or false");
  }

  Result<uint64_t> size(const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) return error(node, key, "expected a size like 64MiB");
    auto v = parse_size_bytes(node.Scalar());
    if (!v) return error(node, key, v.status().message());
    return *v;
  }

  Result<int64_t> tokens(const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) return error(node, key, "expected a token count like 32k");
    auto v = parse_token_count(node.Scalar());
    if (!v) return error(node, key, v.status().message());
    return *v;
  }

  Result<std::string> one_of(const YAML::Node& node, const std::string& key, std::initializer_list<std::string_view> values) {
    LANEWAY_ASSIGN_OR_RETURN(std::string s, string(node, key));
    if (std::find(values.begin(), values.end(), s) != values.end()) return s;
    std::string list;
    for (auto v : values) list += (list.empty() ? "" : ", ") + std::string(v);
    return error(node, key, "expected one of " + list + ", got '" + s + "'");
  }

  Result<std::vector<std::string>> string_list(const YAML::Node& node, const std::string& key) {
    if (!node.IsSequence()) return error(node, key, "expected a list of strings");
    std::vector<std::string> out;
    for (size_t i = 0; i < node.size(); ++i) {
      const std::string item_key = fmt::format("{}[{}]", key, i);
      LANEWAY_ASSIGN_OR_RETURN(std::string s, string(node[i], item_key));
      if (s.empty()) return error(node[i], item_key, "must not be empty");
      out.push_back(std::move(s));
    }
    return out;
  }

  Status read_server(const YAML::Node& node, ServerSection& out) {
    if (!node.IsMap()) return error(node, "server", "expected a mapping");
    LANEWAY_TRY(check_keys(node, "server", {"host", "port", "api_keys", "max_body_bytes", "open_routes", "ollama_port", "cors_origins", "tls"}));
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      const std::string full = "server." + key;
      if (key == "host") {
        LANEWAY_ASSIGN_OR_RETURN(out.host, string(kv.second, full));
        if (out.host.empty()) return error(kv.second, full, "must not be empty");
      } else if (key == "port") {
        LANEWAY_ASSIGN_OR_RETURN(int64_t port, integer(kv.second, full, 0, 65535));
        out.port = static_cast<int>(port);
      } else if (key == "api_keys") {
        LANEWAY_ASSIGN_OR_RETURN(out.api_keys, string_list(kv.second, full));
      } else if (key == "max_body_bytes") {
        LANEWAY_ASSIGN_OR_RETURN(out.max_body_bytes, size(kv.second, full));
        if (out.max_body_bytes == 0) return error(kv.second, full, "must be more than 0 bytes");
      } else if (key == "open_routes") {
        LANEWAY_ASSIGN_OR_RETURN(out.open_routes, string_list(kv.second, full));
        for (const auto& r : out.open_routes) {
          if (r != "readiness" && r != "lanes" && r != "metrics") {
            return error(kv.second, full, "expected readiness, lanes or metrics, got '" + r + "'");
          }
        }
      } else if (key == "cors_origins") {
        LANEWAY_ASSIGN_OR_RETURN(out.cors_origins, string_list(kv.second, full));
        for (const auto& o : out.cors_origins) {
          if (!is_cors_origin(o)) return error(kv.second, full, "expected origins like http://localhost:3000 (no path) or *, got '" + o + "'");
        }
      } else if (key == "ollama_port") {
        LANEWAY_ASSIGN_OR_RETURN(int64_t port, integer(kv.second, full, 0, 65535));
        out.ollama_port = static_cast<int>(port);
      } else if (key == "tls") {
        LANEWAY_ASSIGN_OR_RETURN(out.tls, read_tls(kv.second, full));
      }
    }
    return Status::ok();
  }

  // server.tls: { cert: PATH, key: PATH }, both required.
  Result<TlsFiles> read_tls(const YAML::Node& node, const std::string& path) {
    if (!node.IsMap()) return error(node, path, "expected a mapping like { cert: cert.pem, key: key.pem }");
    LANEWAY_TRY(check_keys(node, path, {"cert", "key"}));
    TlsFiles tls;
    for (const char* key : {"cert", "key"}) {
      const std::string full = path + "." + key;
      if (!node[key]) {
        return error(node, full, std::string("is missing: TLS needs both `cert` (the PEM certificate chain) and `key` "
                                             "(its PEM private key)"));
      }
      LANEWAY_ASSIGN_OR_RETURN(std::string file, string(node[key], full));
      if (file.empty()) return error(node[key], full, "must name a PEM file");
      (std::string_view(key) == "cert" ? tls.cert : tls.key) = std::move(file);
    }
    return tls;
  }

  Status read_machine(const YAML::Node& node, MachineSection& out) {
    if (!node.IsMap()) return error(node, "machine", "expected a mapping");
    LANEWAY_TRY(check_keys(node, "machine", {"profile", "reserve_os", "reserve_other"}));
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      const std::string full = "machine." + key;
      if (key == "profile") {
        LANEWAY_ASSIGN_OR_RETURN(out.profile, one_of(kv.second, full, {"this-machine", "strix-halo-128g",
                                                                      "ryzen-vega8-16g", "mac-venus-32g"}));
      } else if (key == "reserve_os") {
        LANEWAY_ASSIGN_OR_RETURN(out.reserve_os_bytes, size(kv.second, full));
      } else if (key == "reserve_other") {
        LANEWAY_ASSIGN_OR_RETURN(out.reserve_other_bytes, size(kv.second, full));
      }
    }
    return Status::ok();
  }

  Status check_service_url(const YAML::Node& node, const std::string& key, const std::string& url) {
    const bool http = url.rfind("http://", 0) == 0, https = url.rfind("https://", 0) == 0;
    const size_t host_at = http ? 7 : 8;
    if ((!http && !https) || url.size() <= host_at || url[host_at] == '/') {
      return error(node, key, "expected an http:// or https:// URL such as http://127.0.0.1:8000/v1, got '" + url + "'");
    }
    return Status::ok();
  }

  Status read_service(const YAML::Node& node, const std::string& path, ServiceConfig& out) {
    if (!node.IsMap()) return error(node, path, "expected a mapping");
    out.line = node.Mark().line + 1;
    LANEWAY_TRY(check_keys(node, path,
                           {"name", "url", "urls", "balance", "affinity", "ca_file", "api_key", "memory_budget", "sleep"}));
    if (node["url"] && node["urls"]) {
      return error(node["urls"], path + ".urls", "a service has `url` (one server) or `urls` (replicas), not both");
    }
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      const std::string full = path + "." + key;
      if (key == "name") {
        LANEWAY_ASSIGN_OR_RETURN(out.name, string(kv.second, full));
        if (!is_lane_name(out.name)) return error(kv.second, full, "must match [a-z0-9_-]+, got '" + out.name + "'");
      } else if (key == "url") {
        LANEWAY_ASSIGN_OR_RETURN(std::string url, string(kv.second, full));
        LANEWAY_TRY(check_service_url(kv.second, full, url));
        out.urls = {std::move(url)};
      } else if (key == "urls") {
        if (!kv.second.IsSequence() || kv.second.size() == 0) {
          return error(kv.second, full, "expected a non-empty list of URLs, one per replica");
        }
        for (size_t i = 0; i < kv.second.size(); ++i) {
          const std::string item = fmt::format("{}[{}]", full, i);
          LANEWAY_ASSIGN_OR_RETURN(std::string url, string(kv.second[i], item));
          LANEWAY_TRY(check_service_url(kv.second[i], item, url));
          if (std::find(out.urls.begin(), out.urls.end(), url) != out.urls.end()) {
            return error(kv.second[i], item, "'" + url + "' is listed twice");
          }
          out.urls.push_back(std::move(url));
        }
      } else if (key == "balance") {
        // least_busy is the only rule so far; anything else is a clear error.
        if (auto b = one_of(kv.second, full, {"least_busy"}); !b) return b.status();
        out.balance = ServiceBalance::least_busy;
      } else if (key == "affinity") {
        LANEWAY_ASSIGN_OR_RETURN(std::string a, one_of(kv.second, full, {"prefix", "none"}));
        out.affinity = a == "prefix" ? ServiceAffinity::prefix : ServiceAffinity::none;
      } else if (key == "ca_file") {
        LANEWAY_ASSIGN_OR_RETURN(out.ca_file, string(kv.second, full));
        std::error_code ec;
        if (out.ca_file.empty()) return error(kv.second, full, "must name a PEM file");
        if (!std::filesystem::is_regular_file(out.ca_file, ec) || !std::ifstream(out.ca_file).good()) {
          return error(kv.second, full, "'" + out.ca_file + "' is not a readable file (expected PEM certificates)");
        }
      } else if (key == "api_key") {
        LANEWAY_ASSIGN_OR_RETURN(out.api_key, string(kv.second, full));
        if (out.api_key == "env:") return error(kv.second, full, "env: needs a variable name (env:NAME)");
      } else if (key == "memory_budget") {
        LANEWAY_ASSIGN_OR_RETURN(out.memory_budget_bytes, size(kv.second, full));
      } else if (key == "sleep") {
        if (!kv.second.IsMap()) return error(kv.second, full, "expected a mapping like { path: /sleep, wake: /wake_up, frees: all }");
        LANEWAY_TRY(check_keys(kv.second, full, {"path", "wake", "frees"}));
        ServiceSleep sleep;
        auto absolute = [&](const YAML::Node& n, const std::string& where, const std::string& p) -> Status {
          if (p.rfind('/', 0) == 0) return Status::ok();
          return error(n, where, "expected a path starting with '/', got '" + p + "'");
        };
        // A wake call: a path, or { path, body }.
        auto call = [&](const YAML::Node& n, const std::string& where) -> Result<ServiceCall> {
          ServiceCall c;
          if (n.IsMap()) {
            LANEWAY_TRY(check_keys(n, where, {"path", "body"}));
            if (!n["path"]) return error(n, where + ".path", "missing");
            LANEWAY_ASSIGN_OR_RETURN(c.path, string(n["path"], where + ".path"));
            if (n["body"]) {
              LANEWAY_ASSIGN_OR_RETURN(c.body, string(n["body"], where + ".body"));
            }
          } else {
            LANEWAY_ASSIGN_OR_RETURN(c.path, string(n, where));
          }
          LANEWAY_TRY(absolute(n, where, c.path));
          return c;
        };
        for (const auto& s : kv.second) {
          const std::string skey = s.first.Scalar();
          const std::string sfull = full + "." + skey;
          if (skey == "path") {
            LANEWAY_ASSIGN_OR_RETURN(sleep.path, string(s.second, sfull));
            LANEWAY_TRY(absolute(s.second, sfull, sleep.path));
          } else if (skey == "wake") {
            if (s.second.IsSequence()) {
              if (s.second.size() == 0) return error(s.second, sfull, "expected at least one call");
              if (s.second.size() > 8) return error(s.second, sfull, "at most 8 calls");
              for (size_t k = 0; k < s.second.size(); ++k) {
                LANEWAY_ASSIGN_OR_RETURN(ServiceCall c, call(s.second[k], fmt::format("{}[{}]", sfull, k)));
                sleep.wake.push_back(std::move(c));
              }
            } else {
              LANEWAY_ASSIGN_OR_RETURN(ServiceCall c, call(s.second, sfull));
              sleep.wake.push_back(std::move(c));
            }
          } else if (skey == "frees") {
            LANEWAY_ASSIGN_OR_RETURN(sleep.frees, one_of(s.second, sfull, {"all", "none"}));
          }
        }
        if (sleep.path.empty() || sleep.wake.empty()) return error(kv.second, full, "needs both path and wake");
        if (sleep.frees.empty()) return error(kv.second, full + ".frees", "missing (all or none)");
        out.sleep = sleep;
      }
    }
    if (out.name.empty()) return error(node, path + ".name", "missing");
    if (out.urls.empty()) return error(node, path + ".url", "missing (`url`, or `urls` for replicas)");
    if (!out.ca_file.empty() &&
        std::none_of(out.urls.begin(), out.urls.end(), [](const std::string& u) { return u.rfind("https://", 0) == 0; })) {
      return error(node["ca_file"], path + ".ca_file", "applies only to https:// URLs (this service has none)");
    }
    return Status::ok();
  }

  Status read_lane(const YAML::Node& node, const std::string& path, LaneConfig& out) {
    if (!node.IsMap()) return error(node, path, "expected a mapping");
    out.line = node.Mark().line + 1;
    LANEWAY_TRY(check_keys(node, path,
                           {"name", "aliases", "service", "upstream_model", "model", "context", "burst_context",
                            "cache_type_k", "cache_type_v", "slots", "queue", "min_prompt_tokens", "max_body_bytes",
                            "priority", "gpu_layers", "device", "mlock", "fallback", "default", "listen", "shape",
                            "shape_type", "load", "keep_alive", "pausable", "on_pause", "memory_budget", "api_keys"}));
    const bool has_model = static_cast<bool>(node["model"]);
    const bool has_service = static_cast<bool>(node["service"]);
    if (has_model && has_service) {
      return error(node["service"], path + ".service", "a lane has exactly one of `model` (embedded) or `service` (upstream), not both");
    }
    if (!has_model && !has_service) {
      return error(node, path, "a lane needs `model` (a GGUF file, embedded) or `service` (an upstream)");
    }
    out.kind = has_model ? LaneKind::embedded : LaneKind::upstream;
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      const std::string full = path + "." + key;
      static constexpr std::string_view kEmbeddedOnly[] = {"burst_context", "cache_type_k", "cache_type_v", "slots",
                                                           "queue", "gpu_layers", "device", "mlock", "shape", "shape_type",
                                                           "load", "keep_alive", "memory_budget"};
      if (!out.embedded() && std::find(std::begin(kEmbeddedOnly), std::end(kEmbeddedOnly), key) != std::end(kEmbeddedOnly)) {
        return error(kv.first, full, "applies only to embedded lanes (this lane uses service `" +
                                         node["service"].as<std::string>("") + "`)");
      }
      if (out.embedded() && key == "upstream_model") {
        return error(kv.first, full, "applies only to upstream lanes (lanes with `service`)");
      }
      if (key == "name") {
        LANEWAY_ASSIGN_OR_RETURN(out.name, string(kv.second, full));
        if (!is_lane_name(out.name)) return error(kv.second, full, "must match [a-z0-9_-]+, got '" + out.name + "'");
      } else if (key == "aliases") {
        LANEWAY_ASSIGN_OR_RETURN(out.aliases, string_list(kv.second, full));
      } else if (key == "api_keys") {
        LANEWAY_ASSIGN_OR_RETURN(out.api_keys, string_list(kv.second, full));
      } else if (key == "service") {
        LANEWAY_ASSIGN_OR_RETURN(out.service, string(kv.second, full));
      } else if (key == "upstream_model") {
        LANEWAY_ASSIGN_OR_RETURN(out.upstream_model, string(kv.second, full));
        if (out.upstream_model.empty()) return error(kv.second, full, "must not be empty");
      } else if (key == "model") {
        LANEWAY_ASSIGN_OR_RETURN(out.model_path, string(kv.second, full));
        if (out.model_path.empty()) return error(kv.second, full, "must name a GGUF file");
      } else if (key == "shape") {
        LANEWAY_ASSIGN_OR_RETURN(out.shape, string(kv.second, full));
        if (out.shape.empty()) return error(kv.second, full, "must name a shape such as llama-3.1-8b");
      } else if (key == "shape_type") {
        LANEWAY_ASSIGN_OR_RETURN(out.shape_type, string(kv.second, full));
        if (out.shape_type.empty()) return error(kv.second, full, "must name a weight type such as Q4_K_M");
      } else if (key == "context") {
        LANEWAY_ASSIGN_OR_RETURN(out.context_tokens, tokens(kv.second, full));
        if (out.context_tokens < 1) return error(kv.second, full, "must be at least 1 token");
      } else if (key == "burst_context") {
        LANEWAY_ASSIGN_OR_RETURN(out.burst_context_tokens, tokens(kv.second, full));
        if (out.burst_context_tokens < 1) return error(kv.second, full, "must be at least 1 token");
      } else if (key == "cache_type_k") {
        LANEWAY_ASSIGN_OR_RETURN(out.cache_type_k, one_of(kv.second, full, {"f16", "q8_0", "q4_0"}));
      } else if (key == "cache_type_v") {
        LANEWAY_ASSIGN_OR_RETURN(out.cache_type_v, one_of(kv.second, full, {"f16", "q8_0", "q4_0"}));
      } else if (key == "slots") {
        LANEWAY_ASSIGN_OR_RETURN(out.slots, integer(kv.second, full, 1, 1024));
      } else if (key == "queue") {
        LANEWAY_ASSIGN_OR_RETURN(out.queue, integer(kv.second, full, 0, 1'000'000));
      } else if (key == "min_prompt_tokens") {
        LANEWAY_ASSIGN_OR_RETURN(out.min_prompt_tokens, tokens(kv.second, full));
      } else if (key == "max_body_bytes") {
        LANEWAY_ASSIGN_OR_RETURN(out.max_body_bytes, size(kv.second, full));
        if (*out.max_body_bytes == 0) return error(kv.second, full, "must be more than 0 bytes");
      } else if (key == "priority") {
        LANEWAY_ASSIGN_OR_RETURN(out.priority, integer(kv.second, full, -1'000'000, 1'000'000));
      } else if (key == "gpu_layers") {
        LANEWAY_ASSIGN_OR_RETURN(out.gpu_layers, string(kv.second, full));
        if (out.gpu_layers != "all" && out.gpu_layers != "auto") {
          LANEWAY_ASSIGN_OR_RETURN(int64_t n, integer(kv.second, full, 0, 100'000));
          out.gpu_layers = std::to_string(n);
        }
      } else if (key == "device") {
        LANEWAY_ASSIGN_OR_RETURN(out.device, string(kv.second, full));
      } else if (key == "mlock") {
        LANEWAY_ASSIGN_OR_RETURN(out.mlock, boolean(kv.second, full));
      } else if (key == "fallback") {
        LANEWAY_ASSIGN_OR_RETURN(out.fallback, string(kv.second, full));
      } else if (key == "default") {
        LANEWAY_ASSIGN_OR_RETURN(out.is_default, boolean(kv.second, full));
      } else if (key == "listen") {
        LANEWAY_ASSIGN_OR_RETURN(int64_t port, integer(kv.second, full, 1, 65535));
        out.listen_port = static_cast<int>(port);
      } else if (key == "load") {
        LANEWAY_ASSIGN_OR_RETURN(std::string v, one_of(kv.second, full, {"eager", "on_demand"}));
        out.load = v == "eager" ? LaneLoad::eager : LaneLoad::on_demand;
      } else if (key == "keep_alive") {
        if (!kv.second.IsScalar()) return error(kv.second, full, "expected a duration like 5m, 30s or -1");
        auto d = parse_duration(kv.second.Scalar());
        if (!d) return error(kv.second, full, d.status().message());
        out.keep_alive = *d;
      } else if (key == "pausable") {
        LANEWAY_ASSIGN_OR_RETURN(out.pausable, boolean(kv.second, full));
      } else if (key == "on_pause") {
        LANEWAY_ASSIGN_OR_RETURN(std::string v, one_of(kv.second, full, {"drain", "preempt"}));
        out.on_pause = v == "drain" ? OnPause::drain : OnPause::preempt;
      } else if (key == "memory_budget") {
        LANEWAY_ASSIGN_OR_RETURN(out.memory_budget_bytes, size(kv.second, full));
        if (*out.memory_budget_bytes == 0) return error(kv.second, full, "must be more than 0 bytes");
      }
    }
    if (out.name.empty()) return error(node, path + ".name", "missing");
    if (node["shape_type"] && !node["shape"]) {
      return error(node["shape_type"], path + ".shape_type", "needs `shape` (the shape this weight type applies to)");
    }
    if (out.burst_context_tokens > 0 && out.context_tokens > 0 && out.burst_context_tokens < out.context_tokens) {
      return error(node["burst_context"], path + ".burst_context",
                   fmt::format("({} tokens) must not be smaller than context ({} tokens)", out.burst_context_tokens,
                               out.context_tokens));
    }
    return Status::ok();
  }

  Result<LanesConfig> read(const YAML::Node& root) {
    LanesConfig config;
    config.source = source_;
    if (!root.IsMap()) return error(root, "(top level)", "expected a mapping with server, machine, services and lanes");
    LANEWAY_TRY(check_keys(root, "", {"server", "machine", "services", "lanes", "models_dir", "ollama_models"}));
    for (const char* key : {"models_dir", "ollama_models"}) {
      if (!root[key]) continue;
      LANEWAY_ASSIGN_OR_RETURN(std::string path, string(root[key], key));
      if (path.empty()) return error(root[key], key, "must not be empty");
      (std::string_view(key) == "models_dir" ? config.models_dir : config.ollama_models) = std::move(path);
    }
    const bool file_lanes = !config.models_dir.empty() || !config.ollama_models.empty();
    if (root["server"]) LANEWAY_TRY(read_server(root["server"], config.server));
    if (root["machine"]) {
      MachineSection machine;
      LANEWAY_TRY(read_machine(root["machine"], machine));
      config.machine = machine;
    }
    if (const auto services = root["services"]) {
      if (!services.IsSequence()) return error(services, "services", "expected a list of services");
      for (size_t i = 0; i < services.size(); ++i) {
        ServiceConfig s;
        LANEWAY_TRY(read_service(services[i], fmt::format("services[{}]", i), s));
        config.services.push_back(std::move(s));
      }
    }
    const auto lanes = root["lanes"];
    if (!lanes && !file_lanes) return error(root, "lanes", "missing: a config needs at least one lane (or models_dir)");
    if (lanes && (!lanes.IsSequence() || (lanes.size() == 0 && !file_lanes))) {
      return error(lanes, "lanes", "expected a non-empty list of lanes");
    }
    for (size_t i = 0; lanes && i < lanes.size(); ++i) {
      LaneConfig lane;
      LANEWAY_TRY(read_lane(lanes[i], fmt::format("lanes[{}]", i), lane));
      config.lanes.push_back(std::move(lane));
    }
    LANEWAY_TRY(validate_lanes_config(config));
    return config;
  }

 private:
  std::string source_;
};

// "file:line: " for an entry of the config, when known.
std::string where(const LanesConfig& c, int line) {
  return line > 0 ? fmt::format("{}:{}: ", c.source, line) : fmt::format("{}: ", c.source);
}

}  // namespace

Status validate_lanes_config(const LanesConfig& c) {
  for (const auto& o : c.server.cors_origins) {
    if (!is_cors_origin(o)) {
      return invalid_argument_error("{}server.cors_origins: expected origins like http://localhost:3000 (no path) or *, got '{}'",
                                    where(c, 0), o);
    }
  }
  std::set<std::string> service_names;
  for (size_t i = 0; i < c.services.size(); ++i) {
    if (!service_names.insert(c.services[i].name).second) {
      return invalid_argument_error("{}services[{}].name: service '{}' is defined twice", where(c, c.services[i].line), i,
                                    c.services[i].name);
    }
  }
  for (size_t i = 0; i < c.services.size(); ++i) {
    if (c.services[i].urls.empty()) {
      return invalid_argument_error("{}services[{}].urls: service '{}' has no URL", where(c, c.services[i].line), i,
                                    c.services[i].name);
    }
  }
  std::set<std::string> model_names;  // lane names and aliases share one namespace
  std::set<int> ports{c.server.port};
  int defaults = 0;
  for (size_t i = 0; i < c.lanes.size(); ++i) {
    const LaneConfig& lane = c.lanes[i];
    const std::string at = where(c, lane.line) + fmt::format("lanes[{}]", i);
    if (!is_lane_name(lane.name)) return invalid_argument_error("{}.name: must match [a-z0-9_-]+, got '{}'", at, lane.name);
    if (lane.name == "auto") return invalid_argument_error("{}.name: 'auto' is reserved for routing by prompt length", at);
    if (!model_names.insert(lane.name).second) {
      return invalid_argument_error("{}.name: '{}' is already a lane name or alias", at, lane.name);
    }
    for (const auto& alias : lane.aliases) {
      if (alias == "auto") return invalid_argument_error("{}.aliases: 'auto' is reserved for routing by prompt length", at);
      if (!model_names.insert(alias).second) {
        return invalid_argument_error("{}.aliases: '{}' is already a lane name or alias", at, alias);
      }
    }
    if (lane.embedded()) {
      if (lane.model_path.empty()) return invalid_argument_error("{}.model: an embedded lane needs a GGUF file", at);
      if (lane.slots < 1) return invalid_argument_error("{}.slots: must be at least 1", at);
      if (lane.queue < 0) return invalid_argument_error("{}.queue: must not be negative", at);
      for (const auto* t : {&lane.cache_type_k, &lane.cache_type_v}) {
        if (*t != "f16" && *t != "q8_0" && *t != "q4_0") {
          return invalid_argument_error("{}.cache_type: expected f16, q8_0 or q4_0, got '{}'", at, *t);
        }
      }
    } else if (!c.find_service(lane.service)) {
      std::string known;
      for (const auto& s : c.services) known += (known.empty() ? "" : ", ") + s.name;
      return invalid_argument_error("{}.service: no service named '{}' (services: {})", at, lane.service,
                                    known.empty() ? "none defined" : known);
    }
    if (lane.min_prompt_tokens && *lane.min_prompt_tokens < 0) {
      return invalid_argument_error("{}.min_prompt_tokens: must not be negative", at);
    }
    if (!lane.fallback.empty()) {
      if (lane.fallback == lane.name) return invalid_argument_error("{}.fallback: a lane cannot fall back to itself", at);
      if (!c.find_lane(lane.fallback)) {
        return invalid_argument_error("{}.fallback: no lane named '{}'", at, lane.fallback);
      }
    }
    if (lane.is_default && ++defaults > 1) {
      return invalid_argument_error("{}.default: only one lane may be the default", at);
    }
    if (lane.listen_port && !ports.insert(*lane.listen_port).second) {
      return invalid_argument_error("{}.listen: port {} is already used by the server or another lane", at,
                                    *lane.listen_port);
    }
  }
  return Status::ok();
}

Result<LanesConfig> parse_lanes_config(std::string_view yaml_text, std::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return invalid_argument_error("{}:{}: not valid YAML: {}", source, e.mark.line + 1, e.msg);
  }
  try {
    Reader reader(source);
    return reader.read(root);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws for things like aliases to missing anchors; report them like the rest.
    return invalid_argument_error("{}:{}: {}", source, e.mark.line + 1, e.msg);
  }
}

Result<LanesConfig> load_lanes_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open lane config {}", path);
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return io_error("cannot read lane config {}", path);
  return parse_lanes_config(ss.str(), path);
}

Result<uint64_t> parse_size_bytes(std::string_view text) {
  LANEWAY_ASSIGN_OR_RETURN(auto parts, split_number(text, "size"));
  const auto [number, unit] = parts;
  struct Unit {
    std::string_view name;
    double factor;
  };
  static constexpr Unit kUnits[] = {
      {"", 1},           {"B", 1},
      {"KiB", 1024.0},   {"MiB", 1024.0 * 1024},   {"GiB", 1024.0 * 1024 * 1024}, {"TiB", 1024.0 * 1024 * 1024 * 1024},
      {"KB", 1e3},       {"MB", 1e6},              {"GB", 1e9},                   {"TB", 1e12},
  };
  for (const auto& u : kUnits) {
    if (unit != u.name) continue;
    const double bytes = number * u.factor;
    if (bytes > 1.8e19) return invalid_argument_error("size '{}' is too large", text);
    if (bytes != std::floor(bytes)) return invalid_argument_error("size '{}' is not a whole number of bytes", text);
    return static_cast<uint64_t>(bytes);
  }
  return invalid_argument_error("unknown size unit '{}' in '{}' (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)", unit,
                                trim(text));
}

Result<int64_t> parse_token_count(std::string_view text) {
  LANEWAY_ASSIGN_OR_RETURN(auto parts, split_number(text, "token count"));
  const auto [number, unit] = parts;
  double factor = 0;
  if (unit.empty()) factor = 1;
  else if (unit == "k" || unit == "K") factor = 1024;
  else if (unit == "M") factor = 1024.0 * 1024;
  else return invalid_argument_error("unknown token unit '{}' in '{}' (use k = 1024 or M = 1048576)", unit, trim(text));
  const double tokens = number * factor;
  if (tokens > 9e15) return invalid_argument_error("token count '{}' is too large", text);
  if (tokens != std::floor(tokens)) return invalid_argument_error("token count '{}' is not a whole number", text);
  return static_cast<int64_t>(tokens);
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  text = trim(text);
  if (text.empty()) return invalid_argument_error("expected a duration like 5m, 30s or -1, got ''");
  const bool negative = text.front() == '-';
  std::string_view rest = negative ? text.substr(1) : text;
  if (rest.empty()) return invalid_argument_error("expected a duration like 5m, 30s or -1, got '{}'", text);
  double total_ms = 0;
  bool any_unit = false;
  while (!rest.empty()) {
    size_t i = 0;
    while (i < rest.size() && ((rest[i] >= '0' && rest[i] <= '9') || rest[i] == '.')) ++i;
    if (i == 0) return invalid_argument_error("expected a duration like 5m, 30s or -1, got '{}'", text);
    double value = 0;
    const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + i, value);
    if (ec != std::errc() || ptr != rest.data() + i || !std::isfinite(value)) {
      return invalid_argument_error("'{}' is not a number (in the duration '{}')", rest.substr(0, i), text);
    }
    rest.remove_prefix(i);
    size_t u = 0;
    while (u < rest.size() && ((rest[u] >= 'a' && rest[u] <= 'z') || rest[u] == 'u')) ++u;
    const std::string_view unit = rest.substr(0, u);
    rest.remove_prefix(u);
    double factor = 0;
    if (unit.empty()) {
      if (any_unit || !rest.empty()) return invalid_argument_error("the duration '{}' lacks a unit", text);
      factor = 1000;  // a bare number is seconds
    } else if (unit == "ns") factor = 1e-6;
    else if (unit == "us") factor = 1e-3;
    else if (unit == "ms") factor = 1;
    else if (unit == "s") factor = 1000;
    else if (unit == "m") factor = 60'000;
    else if (unit == "h") factor = 3'600'000;
    else return invalid_argument_error("unknown unit '{}' in the duration '{}' (use ms, s, m or h)", unit, text);
    any_unit = any_unit || !unit.empty();
    total_ms += value * factor;
  }
  if (total_ms > 1e15) return invalid_argument_error("the duration '{}' is too long", text);
  const auto ms = static_cast<int64_t>(std::llround(total_ms));
  return std::chrono::milliseconds(negative ? (ms == 0 ? 0 : -ms) : ms);
}

Result<std::string> resolve_secret(const std::string& value) {
  if (value.rfind("env:", 0) != 0) return value;
  const std::string name = value.substr(4);
  const char* v = std::getenv(name.c_str());
  if (!v) return not_found_error("environment variable {} is not set (the config says {})", name, value);
  return std::string(v);
}

}  // namespace laneway
