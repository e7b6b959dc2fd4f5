// Dispatch-grid and push-constant helpers shared by the op recorders
// (vulkan_ops.cpp, vulkan_ops_moe.cpp).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

namespace laneway::vulkan_grid {

// Grids wider than the 65535 groups every device allows in x go 2-D;
// the shaders flatten (x, y) back (common.glsl).
struct Groups {
  uint32_t x = 1;
  uint32_t y = 1;
};
inline Groups groups_for(uint64_t n) {
  constexpr uint64_t kMaxX = 65535;
  if (n <= kMaxX) return {static_cast<uint32_t>(std::max<uint64_t>(n, 1)), 1};
  return {static_cast<uint32_t>(kMaxX), static_cast<uint32_t>((n + kMaxX - 1) / kMaxX)};
}

// Element-wise and rope shaders loop over their elements (grid stride), so
// their grid is capped.
inline Groups capped_groups(uint64_t n_items, uint64_t per_group) {
  return groups_for(std::min<uint64_t>((n_items + per_group - 1) / per_group, 65535));
}

// matmul.comp's work-group: kMatmulRowsPerGroup weight rows (64 invocations
// of 4 rows) by kMatmulTokenBlock tokens (or pairs, for matmul_id).
inline constexpr uint64_t kMatmulRowsPerGroup = 256;
inline constexpr int64_t kMatmulTokenBlock = 32;
// The x/y grid over n_rows weight rows, and the token blocks of n tokens.
inline Groups matmul_row_groups(int64_t n_rows) {
  return groups_for((static_cast<uint64_t>(n_rows) + kMatmulRowsPerGroup - 1) / kMatmulRowsPerGroup);
}
inline int64_t matmul_token_blocks(int64_t n) { return (n + kMatmulTokenBlock - 1) / kMatmulTokenBlock; }

inline uint32_t u32(int64_t v) { return static_cast<uint32_t>(v); }
inline uint32_t f32_bits(float v) { return std::bit_cast<uint32_t>(v); }

}  // namespace laneway::vulkan_grid
