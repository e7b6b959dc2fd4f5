// synth: random-weight GGUF files of real model shapes, so anyone can test
// and benchmark realistic sizes without downloads (`laneway synth`).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "model/shapes.h"

namespace laneway {

struct SynthOptions {
  ModelShape shape;
  // A ggml type ("Q4_0", "F16", ...) or a llama.cpp-style mix ("Q4_K_M", "Q5_K_M").
  std::string type = "Q4_0";
  // Copy tokenizer.* metadata from this GGUF; empty = a built-in SentencePiece-style
  // vocabulary of the shape's size.
  std::string tokenizer_path;
  // Overrides of the shape (0 = the shape's value), for test models.
  int64_t n_ctx = 0;     // context_length written to the file
  int64_t n_layer = 0;
  int64_t n_embd = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t n_ff = 0;
  int64_t n_vocab = 0;   // built-in tokenizer size
  int64_t n_expert = -1;       // experts per block (0 = a dense feed-forward); -1 = the shape's
  int64_t n_expert_used = 0;   // experts per token
  uint64_t seed = 1;
  int n_threads = 0;     // 0 = all hardware threads
};

Status synth_model(const SynthOptions& options, const std::string& out_path);

}  // namespace laneway
