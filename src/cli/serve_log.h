// serve's log (server/server_log.h) as the flags ask: --log-format text|json,
// --log-level LEVEL or -v (debug), to stderr. Text lines are coloured by
// level on a terminal (not in pipes, not with NO_COLOR).
//
// The logger is asynchronous and drops the oldest lines when its queue is
// full: a log reader that stalls (a full pipe) never stalls a request.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "server/server_log.h"

namespace laneway::cli {

struct LogFlags {
  std::string format = "text";  // text | json
  std::string level = "info";   // trace, debug, info, warn, error, off
  bool verbose = false;         // -v: debug
};

void add_log_flags(CLI::App* cmd, LogFlags& flags);
Result<server::ServerLog> make_server_log(const LogFlags& flags);

}  // namespace laneway::cli
