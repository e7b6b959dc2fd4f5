#include "model/arch.h"

#include <string>

namespace laneway {

namespace {
const std::vector<const Architecture*>& registry() {
  static const std::vector<const Architecture*> archs = {&llama_architecture(), &qwen2_architecture(),
                                                         &granite_architecture(), &gemma2_architecture()};
  return archs;
}
}  // namespace

std::vector<std::string_view> supported_architectures() {
  std::vector<std::string_view> names;
  for (const auto* a : registry()) names.push_back(a->name());
  return names;
}

Result<const Architecture*> find_architecture(std::string_view name) {
  for (const auto* a : registry()) {
    if (a->name() == name) return a;
  }
  std::string known;
  for (auto n : supported_architectures()) known += (known.empty() ? "" : ", ") + std::string(n);
  return unsupported_error("architecture \"{}\" is not supported yet (Laneway runs: {})", name, known);
}

}  // namespace laneway
