// WeightBinder: finds tensors by name and checks their shapes and types
// while an architecture binds its weights. Errors name the tensor.
#pragma once

#include <string>

#include "core/status.h"
#include "gguf/gguf.h"
#include "model/weights.h"

namespace laneway {

// Whether the engine can compute with weights of this type.
bool engine_supports_weight_type(GgmlType type);

class WeightBinder {
 public:
  // Converted vectors are kept in weights.owned_f32.
  WeightBinder(const GgufModel& model, ModelWeights& weights) : model_(model), weights_(weights) {}

  bool has(const std::string& name) const { return model_.find_tensor(name) != nullptr; }
  // A 2-D matrix with rows of n_cols elements; n_rows < 0 accepts any row count.
  Result<WeightView> matrix(const std::string& name, int64_t n_cols, int64_t n_rows) const;
  // A 3-D stack of n_expert matrices [n_cols, n_rows, n_expert], as one view
  // of n_rows * n_expert rows (expert e's rows start at row e * n_rows).
  Result<WeightView> experts(const std::string& name, int64_t n_cols, int64_t n_rows, int64_t n_expert) const;
  // A 1-D vector of n values as an f32 view (one row): the file's bytes when
  // stored as F32, else converted.
  Result<WeightView> vector_f32(const std::string& name, int64_t n) const;

 private:
  const GgufModel& model_;
  ModelWeights& weights_;
};

}  // namespace laneway
