#include "server/server_log.h"

#include <chrono>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace laneway::server {
namespace {

std::string field_text(const nlohmann::ordered_json& v) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    return s.find_first_of(" \"=") == std::string::npos && !s.empty() ? s : v.dump();
  }
  if (v.is_number_float()) return fmt::format("{:.1f}", v.get<double>());
  return v.dump();
}

// UTC, milliseconds: "2025-01-02T10:00:00.123Z".
std::string iso_time_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(now)), ms);
}

}  // namespace

void ServerLog::write(spdlog::level::level_enum level, std::string_view event, const std::string& text,
                      const nlohmann::ordered_json& fields) const {
  if (!enabled(level)) return;
  if (format_ == LogFormat::json) {
    nlohmann::ordered_json line = {{"time", iso_time_now()},
                                   {"level", std::string(spdlog::level::to_string_view(level).data())},
                                   {"event", event}};
    if (!text.empty()) line["msg"] = text;
    for (const auto& [key, value] : fields.items()) line[key] = value;
    logger_->log(level, "{}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  std::string out = fmt::format("{} {}", event, text);
  for (const auto& [key, value] : fields.items()) out += fmt::format(" {}={}", key, field_text(value));
  logger_->log(level, "{}", out);
}

void log_access(const ServerLog& log, const AccessRecord& r) {
  if (!log.enabled(spdlog::level::info)) return;
  // Text lines start "POST /v1/chat/completions"; JSON ones carry both as fields.
  nlohmann::ordered_json f = nlohmann::ordered_json::object();
  if (log.json()) f = {{"method", r.method}, {"path", r.path}};
  f["route"] = r.route;
  f["lane"] = r.lane.empty() ? "-" : r.lane;
  f["status"] = r.status;
  if (r.prompt_tokens >= 0) f["prompt_tokens"] = r.prompt_tokens;
  if (r.generated_tokens >= 0) f["generated_tokens"] = r.generated_tokens;
  if (r.time_to_first_token_ms >= 0) f["ttft_ms"] = r.time_to_first_token_ms;
  f["total_ms"] = r.total_ms;
  log.write(spdlog::level::info, "access", fmt::format("{} {}", r.method, r.path), f);
}

}  // namespace laneway::server
