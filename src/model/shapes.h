// Named model shapes (real architectures' hyperparameters) for `laneway
// synth` and `laneway plan --shape`: test and plan realistic sizes without
// downloading anything.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "model/hparams.h"

namespace laneway {

struct ModelShape {
  std::string_view name;
  ModelHparams hparams;
  bool llama3_rope_factors = false;  // ships rope_freqs.weight (Llama 3.1 scaling)
};

std::optional<ModelShape> find_model_shape(std::string_view name);
std::vector<std::string_view> model_shape_names();

}  // namespace laneway
