// What `laneway serve` writes to its log, through spdlog: a summary of each
// lane at start and one access line per request. Lines are text for people
// ("2025-01-02T10:00:00.123 info access POST /v1/chat/completions lane=x
// status=200 ...") or one JSON object each (--log-format json) with the same
// fields, for log shippers.
//
// The logger belongs to whoever creates the server (the CLI, or a test); a
// default-constructed ServerLog writes nothing. Thread-safety: spdlog's
// loggers are; write() may run on any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

namespace laneway::server {

enum class LogFormat { text, json };

class ServerLog {
 public:
  ServerLog() = default;
  ServerLog(std::shared_ptr<spdlog::logger> logger, LogFormat format) : logger_(std::move(logger)), format_(format) {}

  bool enabled(spdlog::level::level_enum level) const { return logger_ && logger_->should_log(level); }
  bool json() const { return format_ == LogFormat::json; }
  // One line: `event` names its kind ("lane", "access"); `fields` are
  // written as key=value after `text` (text format) or as the object's keys.
  void write(spdlog::level::level_enum level, std::string_view event, const std::string& text,
             const nlohmann::ordered_json& fields) const;

 private:
  std::shared_ptr<spdlog::logger> logger_;
  LogFormat format_ = LogFormat::text;
};

// One request as the access log records it.
struct AccessRecord {
  std::string method;
  std::string path;     // without the query (it may carry a key)
  std::string route;    // the metrics label (route_table.h)
  std::string lane;     // "" = none
  int status = 0;
  int64_t prompt_tokens = -1;     // -1: not a generation
  int64_t generated_tokens = -1;
  double time_to_first_token_ms = -1;
  double total_ms = 0;
};
void log_access(const ServerLog& log, const AccessRecord& record);

}  // namespace laneway::server
