// Token-count and size flags that read like lanes.yaml: `--ctx 128k`,
// `-n 1k`, `--memory-budget 8GiB`. One parser (config/lane_config.h's
// parse_token_count and parse_size_bytes) serves the flags and the file, so
// what one accepts the other does.
//
// Errors are short and name the flag: "--ctx 99999999999: at most 1024M
// tokens", "--ctx 12q: unknown token unit 'q' in '12q' (use k = 1024 or M =
// 1048576)".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace laneway::cli {

// The most tokens any count flag takes (1024M); more is a typo, not a model.
inline constexpr int64_t kMaxTokenCount = int64_t{1} << 30;

// A token count: "4096", "32k", "1M", "1.5k" (k = 1024), within [min, max].
CLI::Option* add_token_count_option(CLI::App* cmd, const std::string& names, int64_t& value,
                                    const std::string& description, int64_t min = 0,
                                    int64_t max = kMaxTokenCount);
CLI::Option* add_token_count_option(CLI::App* cmd, const std::string& names, int32_t& value,
                                    const std::string& description, int64_t min = 0,
                                    int64_t max = kMaxTokenCount);
// A comma-separated list of token counts ("128,512", "1k,4k").
CLI::Option* add_token_counts_option(CLI::App* cmd, const std::string& names, std::vector<int64_t>& values,
                                     const std::string& description, int64_t min = 0,
                                     int64_t max = kMaxTokenCount);
// A size in bytes: "4096", "64MiB", "1.5GiB", "8GB".
CLI::Option* add_size_option(CLI::App* cmd, const std::string& names, uint64_t& value,
                             const std::string& description);

// The same checks as a CLI11 transform, for flags stored as text (checked
// at parse time, converted later).
CLI::Validator token_count_validator(int64_t min = 0, int64_t max = kMaxTokenCount);
CLI::Validator size_validator();

}  // namespace laneway::cli
