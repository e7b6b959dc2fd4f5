// One sequence (seq 0) of a loaded engine, for `laneway run` and its chat:
// evaluates a prompt after what the KV cache already holds and samples a
// reply, streaming its text.
//
// A chat re-renders the whole conversation each turn; the session keeps the
// tokens its KV cache holds and evaluates only what differs (the longest
// common prefix stays), so a turn costs its own tokens.
//
// Not thread-safe: one owner, on the thread that owns the engine.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/context.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace laneway::cli {

struct GenerateStats {
  int64_t prompt_tokens = 0;     // evaluated this call (cached ones not counted)
  int64_t generated_tokens = 0;  // sampled, the end-of-generation token included
  double prompt_seconds = 0;
  double generation_seconds = 0;
  bool context_full = false;     // stopped at the end of the context
};

class SequenceSession {
 public:
  SequenceSession(ForwardContext& ctx, const Tokenizer& tokenizer) : ctx_(ctx), tokenizer_(tokenizer) {}

  // Makes the cache hold `tokens` (non-empty, at most the context), then
  // samples up to n_predict tokens. on_text gets each complete piece of text
  // as it is sampled; it stops at an end-of-generation token, a stop string
  // (not printed) or the context's end. The sampler is given the tokens not
  // kept from an earlier call and every sampled one (its penalties' window).
  Result<GenerateStats> generate(const std::vector<int32_t>& tokens, Sampler& sampler, int64_t n_predict,
                                 const std::vector<std::string>& stops,
                                 const std::function<void(std::string_view)>& on_text);
  // Forgets the cached tokens (`/clear`).
  void clear();

 private:
  ForwardContext& ctx_;
  const Tokenizer& tokenizer_;
  std::vector<int32_t> cached_;  // what the KV cache of seq 0 holds, positions 0..n-1
};

}  // namespace laneway::cli
