#include "cli/run_chat.h"

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "server/chat_prompt.h"

namespace laneway::cli {
namespace {

constexpr const char* kChatHelp =
    "  /bye    leave (Ctrl-D too)\n"
    "  /clear  forget the conversation\n"
    "  /?      this list\n";

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

}  // namespace

Status run_chat(const Model& model, const Tokenizer& tokenizer, SequenceSession& session, Sampler& sampler,
                int64_t n_predict) {
  LANEWAY_ASSIGN_OR_RETURN(auto prompt, server::ChatPrompt::for_model(model, tokenizer));
  std::fprintf(stderr, "chatting with %s%s; /bye to leave, /clear to forget, /? for help\n",
               model.hparams().name.empty() ? "the model" : model.hparams().name.c_str(),
               prompt->uses_fallback() ? " (no chat template in the file: using ChatML)" : "");
  std::vector<server::ChatMessage> messages;
  std::string line;
  for (;;) {
    std::fputs(">>> ", stdout);
    std::fflush(stdout);
    if (!std::getline(std::cin, line)) {
      std::fputc('\n', stdout);
      break;
    }
    const std::string text = trim(line);
    if (text.empty()) continue;
    if (text == "/bye" || text == "/exit") break;
    if (text == "/clear") {
      messages.clear();
      session.clear();
      std::fputs("(conversation cleared)\n", stdout);
      continue;
    }
    if (text == "/?" || text == "/help") {
      std::fputs(kChatHelp, stdout);
      continue;
    }
    if (text[0] == '/') {
      std::printf("unknown command %s; the commands are:\n%s", text.c_str(), kChatHelp);
      continue;
    }
    messages.push_back({"user", text});
    LANEWAY_ASSIGN_OR_RETURN(std::string rendered, prompt->render(messages));
    EncodeOptions eo;
    eo.add_special = prompt->needs_bos(rendered);
    eo.parse_special = true;
    const std::vector<int32_t> tokens = tokenizer.encode(rendered, eo);
    std::string reply;
    auto result = session.generate(tokens, sampler, n_predict, prompt->implied_stops(), [&](std::string_view piece) {
      reply += piece;
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    });
    if (!result.is_ok()) {
      // A conversation longer than the context: say so and let the user go on after /clear.
      std::fprintf(stderr, "\nlaneway run: %s\n", result.status().to_string().c_str());
      messages.pop_back();
      continue;
    }
    std::fputs("\n\n", stdout);
    if (result->context_full) std::fputs("(the context is full: /clear to start again)\n", stderr);
    messages.push_back({"assistant", reply});
  }
  return Status::ok();
}

}  // namespace laneway::cli
