#include "model/weight_binding.h"

#include "quant/quant.h"

namespace laneway {

bool engine_supports_weight_type(GgmlType type) {
  // Every type the engine runs goes through the generic dequantize path;
  // Q8_K is an activation format, never a weight type in real files.
  return quant_can_dequantize(type) && type != GgmlType::q8_k;
}

Result<WeightView> WeightBinder::matrix(const std::string& name, int64_t n_cols, int64_t n_rows) const {
  const GgufTensorInfo* t = model_.find_tensor(name);
  if (t == nullptr) return not_found_error("tensor {} is missing", name);
  if (t->n_dims != 2 || static_cast<int64_t>(t->ne[0]) != n_cols ||
      (n_rows >= 0 && static_cast<int64_t>(t->ne[1]) != n_rows)) {
    return corrupt_error("tensor {} has shape {}, expected [{}, {}]", name, t->shape_string(), n_cols,
                         n_rows >= 0 ? std::to_string(n_rows) : std::string("any"));
  }
  if (!engine_supports_weight_type(t->type)) {
    return unsupported_error("tensor {} has type {}, which the engine cannot compute with yet", name,
                             ggml_type_name(t->type));
  }
  WeightView m;
  m.type = t->type;
  m.data = model_.tensor_data(*t).data();
  m.n_cols = n_cols;
  m.n_rows = static_cast<int64_t>(t->ne[1]);
  m.row_bytes = *ggml_row_bytes(t->type, t->ne[0]);
  return m;
}

Result<WeightView> WeightBinder::experts(const std::string& name, int64_t n_cols, int64_t n_rows,
                                         int64_t n_expert) const {
  const GgufTensorInfo* t = model_.find_tensor(name);
  if (t == nullptr) return not_found_error("tensor {} is missing", name);
  if (t->n_dims != 3 || static_cast<int64_t>(t->ne[0]) != n_cols || static_cast<int64_t>(t->ne[1]) != n_rows ||
      static_cast<int64_t>(t->ne[2]) != n_expert) {
    return corrupt_error("tensor {} has shape {}, expected [{}, {}, {}]", name, t->shape_string(), n_cols, n_rows,
                         n_expert);
  }
  if (!engine_supports_weight_type(t->type)) {
    return unsupported_error("tensor {} has type {}, which the engine cannot compute with yet", name,
                             ggml_type_name(t->type));
  }
  WeightView m;
  m.type = t->type;
  m.data = model_.tensor_data(*t).data();
  m.n_cols = n_cols;
  m.n_rows = n_rows * n_expert;
  m.row_bytes = *ggml_row_bytes(t->type, t->ne[0]);
  return m;
}

Result<WeightView> WeightBinder::vector_f32(const std::string& name, int64_t n) const {
  const GgufTensorInfo* t = model_.find_tensor(name);
  if (t == nullptr) return not_found_error("tensor {} is missing", name);
  if (static_cast<int64_t>(t->n_elements()) != n || t->n_rows() != 1) {
    return corrupt_error("tensor {} has shape {}, expected [{}]", name, t->shape_string(), n);
  }
  WeightView v{GgmlType::f32, model_.tensor_data(*t).data(), n, 1, static_cast<uint64_t>(n) * sizeof(float)};
  if (t->type == GgmlType::f32 && reinterpret_cast<uintptr_t>(v.data) % alignof(float) == 0) return v;
  if (!engine_supports_weight_type(t->type)) {
    return unsupported_error("tensor {} has type {}, which the engine cannot read", name, ggml_type_name(t->type));
  }
  std::vector<float> values(static_cast<size_t>(n));
  dequantize_row(t->type, v.data, values.data(), n);
  weights_.owned_f32.push_back(std::move(values));
  v.data = reinterpret_cast<const uint8_t*>(weights_.owned_f32.back().data());
  return v;
}

}  // namespace laneway
