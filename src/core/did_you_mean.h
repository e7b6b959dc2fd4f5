// "Did you mean ...?": the nearest of a set of names to what someone typed,
// for mistyped commands (`laneway runn`) and config keys (`contxt:`).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace laneway {

// The name within two edits (insert, delete, replace, swap of neighbours) of
// `typed`, the nearest first found; "" when none is that close.
std::string nearest_name(std::string_view typed, const std::vector<std::string>& names);

}  // namespace laneway
