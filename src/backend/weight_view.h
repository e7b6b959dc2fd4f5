// WeightView: a weight tensor as the backends read it. The model binds its
// tensors to views (model/weights.h); the backends own how they are laid
// out (the CPU tiles projections at load) and where they live (a GPU
// backend uploads or imports the bytes behind a view).
#pragma once

#include <cstdint>

#include "gguf/types.h"

namespace laneway {

// A matrix of n_rows rows of n_cols elements (GGUF ne[0] = n_cols, ne[1] =
// n_rows), each row_bytes long: row-major as the file lays it out, or tiled
// for the CPU kernels at load (backend/cpu/weight_tiles.h; row() is then
// meaningless). For a projection y = W x, n_cols is the input size and
// n_rows the output. A vector (a norm's weight) is one row.
struct WeightView {
  GgmlType type = GgmlType::f32;
  const uint8_t* data = nullptr;  // host bytes (a file mapping or the CPU's tiles)
  int64_t n_cols = 0;
  int64_t n_rows = 0;
  uint64_t row_bytes = 0;
  bool tiled = false;

  bool present() const { return data != nullptr; }
  uint64_t size_bytes() const { return static_cast<uint64_t>(n_rows) * row_bytes; }
  const uint8_t* row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes; }
  // For f32 vectors (norm weights): the values.
  const float* f32() const { return reinterpret_cast<const float*>(data); }
};

}  // namespace laneway
