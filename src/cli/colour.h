// Colour in terminal output where it helps (doctor's verdicts, errors):
// only when the stream is a terminal, never in pipes or files, and never
// with NO_COLOR set (https://no-color.org).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace laneway::cli {

enum class Colour { red, yellow, green, bold };

// Whether text written to `stream` (stdout or stderr) may be coloured.
bool colour_enabled(std::FILE* stream);
// `text` wrapped in the colour's escape codes when `on`, else as it is.
std::string paint(std::string_view text, Colour colour, bool on);

}  // namespace laneway::cli
