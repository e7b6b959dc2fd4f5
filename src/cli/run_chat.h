// `laneway run -m FILE` on a terminal with no prompt: a chat, as `ollama run`
// opens one. Each line typed is a user message; the conversation is rendered
// with the model's chat template (ChatML when the file has none, as `serve`
// does: server/chat_prompt.h) and the reply streams as it is sampled.
//   /bye (or end of input)  leave        /clear  forget the conversation
//   /?                      these commands
#pragma once

#include <cstdint>

#include "cli/generate.h"
#include "core/status.h"
#include "model/model.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace laneway::cli {

// Reads standard input line by line until /bye or its end; replies of at
// most n_predict tokens go to stdout.
Status run_chat(const Model& model, const Tokenizer& tokenizer, SequenceSession& session, Sampler& sampler,
                int64_t n_predict);

}  // namespace laneway::cli
