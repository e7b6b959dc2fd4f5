#include "cli/colour.h"

#include <cstdlib>
#include <unistd.h>

namespace laneway::cli {

bool colour_enabled(std::FILE* stream) {
  const char* no_colour = std::getenv("NO_COLOR");
  if (no_colour != nullptr && *no_colour != '\0') return false;
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::string_view(term) == "dumb") return false;
  return isatty(fileno(stream)) != 0;
}

std::string paint(std::string_view text, Colour colour, bool on) {
  if (!on) return std::string(text);
  const char* code = colour == Colour::red ? "\033[31m" : colour == Colour::yellow ? "\033[33m"
                     : colour == Colour::green ? "\033[32m" : "\033[1m";
  return code + std::string(text) + "\033[0m";
}

}  // namespace laneway::cli
