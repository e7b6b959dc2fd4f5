// The compute shaders, compiled to SPIR-V at build time (glslc) and
// embedded in the binary by embed_spirv.cmake (vulkan_spirv_data.cpp is
// generated). Names are the shader file's stem plus its variant, e.g.
// "matmul_q4_0".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace laneway {

struct SpirvBlob {
  std::string_view name;
  const uint32_t* words;
  size_t n_words;
};

std::span<const SpirvBlob> embedded_spirv();
// nullptr when no shader of that name was built.
const SpirvBlob* find_spirv(std::string_view name);

}  // namespace laneway
