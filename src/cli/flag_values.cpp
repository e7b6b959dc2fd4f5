#include "cli/flag_values.h"

#include <fmt/format.h>

#include "cli/units.h"
#include "config/lane_config.h"

namespace laneway::cli {

// CLI11 prefixes a transform's message with the flag's name ("--ctx: ...").
CLI::Validator token_count_validator(int64_t min, int64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        auto n = parse_token_count(text);
        // A number too long to be a count is answered in a few words.
        if (!n.is_ok()) {
          return text.size() > 24 ? fmt::format("'{}...' is not a token count", text.substr(0, 16))
                                  : n.status().message();
        }
        if (*n < min) return fmt::format("{} is below the least allowed, {}", text, format_tokens(min));
        if (*n > max) return fmt::format("{} is more than the most allowed, {} tokens", text.size() > 24 ? text.substr(0, 16) + "..." : text, format_tokens(max));
        text = std::to_string(*n);
        return "";
      },
      "TOKENS");
}

CLI::Validator size_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto n = parse_size_bytes(text);
        if (!n.is_ok()) {
          return text.size() > 24 ? fmt::format("'{}...' is not a size (e.g. 512MiB, 8GiB)", text.substr(0, 16))
                                  : n.status().message();
        }
        text = std::to_string(*n);
        return "";
      },
      "SIZE");
}

CLI::Option* add_token_count_option(CLI::App* cmd, const std::string& names, int64_t& value,
                                    const std::string& description, int64_t min, int64_t max) {
  return cmd->add_option(names, value, description)->transform(token_count_validator(min, max));
}

CLI::Option* add_token_count_option(CLI::App* cmd, const std::string& names, int32_t& value,
                                    const std::string& description, int64_t min, int64_t max) {
  return cmd->add_option(names, value, description)
      ->transform(token_count_validator(min, std::min<int64_t>(max, INT32_MAX)));
}

CLI::Option* add_token_counts_option(CLI::App* cmd, const std::string& names, std::vector<int64_t>& values,
                                     const std::string& description, int64_t min, int64_t max) {
  return cmd->add_option(names, values, description)->delimiter(',')->transform(token_count_validator(min, max));
}

CLI::Option* add_size_option(CLI::App* cmd, const std::string& names, uint64_t& value,
                             const std::string& description) {
  return cmd->add_option(names, value, description)->transform(size_validator());
}

}  // namespace laneway::cli
