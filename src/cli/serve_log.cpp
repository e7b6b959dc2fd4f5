#include "cli/serve_log.h"

#include <cstdlib>
#include <memory>

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace laneway::cli {

void add_log_flags(CLI::App* cmd, LogFlags& f) {
  cmd->add_option("--log-format", f.format, "Log lines as text or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--log-level", f.level, "Least level logged: trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  cmd->add_flag("-v,--verbose", f.verbose, "Log at debug level (--log-level debug)");
}

Result<server::ServerLog> make_server_log(const LogFlags& f) {
  const bool json = f.format == "json";
  spdlog::sink_ptr sink;
  const char* no_color = std::getenv("NO_COLOR");
  if (json) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    auto color = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(
        no_color != nullptr && *no_color != '\0' ? spdlog::color_mode::never : spdlog::color_mode::automatic);
    sink = color;
  }
  // JSON lines carry their own time and level; text lines get them here.
  sink->set_pattern(json ? "%v" : "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  // One logging thread of its own (no spdlog globals), 8192 lines queued. An
  // async logger holds only a weak pointer to its pool, so the handle given
  // out owns both (the pool is declared first: it goes last).
  struct Owned {
    std::shared_ptr<spdlog::details::thread_pool> pool;
    std::shared_ptr<spdlog::async_logger> logger;
  };
  auto owned = std::make_shared<Owned>();
  owned->pool = std::make_shared<spdlog::details::thread_pool>(8192, 1);
  owned->logger = std::make_shared<spdlog::async_logger>("laneway", sink, owned->pool,
                                                         spdlog::async_overflow_policy::overrun_oldest);
  owned->logger->set_level(spdlog::level::from_str(f.verbose ? "debug" : f.level));
  owned->logger->flush_on(spdlog::level::trace);
  std::shared_ptr<spdlog::logger> held(owned, owned->logger.get());
  return server::ServerLog(held, json ? server::LogFormat::json : server::LogFormat::text);
}

}  // namespace laneway::cli
