// libFuzzer target: any byte string through the GGUF reader. It must return
// a Status or a file whose every view stays inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = laneway::GgufFile::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
  if (!f.is_ok()) return 0;
  size_t touched = 0;
  for (const auto& kv : f->metadata()) {
    touched += kv.value.to_display_string(4).size();
    touched += kv.value.encoded().size();
    if (auto s = kv.value.as_string_array()) touched += s->to_vector().size();
  }
  for (const auto& t : f->tensors()) {
    auto d = f->tensor_data(t);
    if (d.data() < data || d.data() + d.size() > data + size) std::abort();
    if (!d.empty()) touched += d[0] + d[d.size() - 1];
  }
  (void)f->get_u32("general.alignment");
  return touched == 0xFFFFFFFF ? 1 : 0;
}
