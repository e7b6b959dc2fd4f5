// laneway template (-m FILE | --template-file F) --messages JSON
//                  [--add-generation-prompt] [--bos S --eos S] [--tools JSON] [--now YYYY-MM-DD]
//
// Prints the prompt a chat template renders, byte for byte, with no newline
// added. --messages (and --tools) take JSON text, or @path to read a file
// (@- for standard input); --messages may also be an object with "messages"
// and "tools". With -m the template is the GGUF's tokenizer.chat_template
// and BOS/EOS default to the model's own token strings; a model without a
// template gets the ChatML default, with a note on stderr. strftime_now sees
// --now, or today's UTC date.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>

#include "chat/json_value.h"
#include "chat/template.h"
#include "cli/commands.h"
#include "gguf/gguf.h"

namespace laneway::cli {
namespace {

struct TemplateArgs {
  std::string model;
  std::string template_file;
  std::string messages;
  std::string tools;
  bool add_generation_prompt = false;
  std::optional<std::string> bos;
  std::optional<std::string> eos;
  std::string now;
};

Result<std::string> read_text_arg(const std::string& arg) {
  if (arg.empty() || arg[0] != '@') return arg;
  const std::string path = arg.substr(1);
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot read {}", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Result<std::string> read_file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot read {}", path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The string of token `id_key` (e.g. tokenizer.ggml.bos_token_id); empty
// when the model does not say.
std::string token_text(const GgufFile& f, std::string_view id_key) {
  auto id = f.get_u32(id_key);
  if (!id.is_ok()) return {};
  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!tokens.is_ok() || *id >= tokens->size()) return {};
  return std::string(tokens->to_vector()[*id]);
}

chat::ChatDate today_utc() {
  const auto days = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  const std::chrono::year_month_day ymd{days};
  return chat::ChatDate{static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
                        static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

int fail(const std::string& message) {
  std::fprintf(stderr, "laneway template: %s\n", message.c_str());
  return kExitBadInput;
}

int run_template(const TemplateArgs& args) {
  if (args.model.empty() == args.template_file.empty()) {
    std::fprintf(stderr, "laneway template: give exactly one of -m FILE or --template-file F\n");
    return kExitUsage;
  }
  std::string source;
  std::string bos = args.bos.value_or("");
  std::string eos = args.eos.value_or("");
  if (!args.template_file.empty()) {
    auto text = read_file_text(args.template_file);
    if (!text.is_ok()) return fail(text.status().message());
    source = std::move(text).value();
  } else {
    auto file = GgufFile::open(args.model);
    if (!file.is_ok()) return fail(args.model + ": " + file.status().to_string());
    auto tmpl = file->get_string("tokenizer.chat_template");
    if (tmpl.is_ok()) {
      source = std::string(*tmpl);
    } else {
      std::fprintf(stderr, "laneway template: note: %s has no tokenizer.chat_template; using the ChatML default\n",
                   args.model.c_str());
      source = std::string(chat::default_chat_template());
    }
    if (!args.bos) bos = token_text(*file, "tokenizer.ggml.bos_token_id");
    if (!args.eos) eos = token_text(*file, "tokenizer.ggml.eos_token_id");
  }

  chat::ChatInputs in;
  in.add_generation_prompt = args.add_generation_prompt;
  in.bos_token = std::move(bos);
  in.eos_token = std::move(eos);
  auto messages_text = read_text_arg(args.messages);
  if (!messages_text.is_ok()) return fail(messages_text.status().message());
  auto messages = chat::value_from_json_text(*messages_text);
  if (!messages.is_ok()) return fail("--messages: " + messages.status().message());
  if (messages->is_dict()) {
    // {"messages": [...], "tools": [...]} as in an OpenAI request body.
    const chat::Value* m = messages->as_dict().find(std::string_view("messages"));
    if (m == nullptr) return fail("--messages: an object must have a \"messages\" list");
    if (const chat::Value* t = messages->as_dict().find(std::string_view("tools"))) in.tools = *t;
    in.messages = *m;
  } else {
    in.messages = *messages;
  }
  if (!in.messages.is_list()) return fail("--messages: expected a JSON list of messages");
  if (!args.tools.empty()) {
    auto tools_text = read_text_arg(args.tools);
    if (!tools_text.is_ok()) return fail(tools_text.status().message());
    auto tools = chat::value_from_json_text(*tools_text);
    if (!tools.is_ok()) return fail("--tools: " + tools.status().message());
    in.tools = *tools;
  }
  if (!args.now.empty()) {
    auto date = chat::parse_chat_date(args.now);
    if (!date.is_ok()) return fail("--now: " + date.status().message());
    in.now = *date;
  } else {
    in.now = today_utc();
  }

  auto tmpl = chat::ChatTemplate::parse(source);
  if (!tmpl.is_ok()) return fail(tmpl.status().to_string());
  auto out = chat::render_chat(*tmpl, in);
  if (!out.is_ok()) return fail(out.status().to_string());
  std::fwrite(out->data(), 1, out->size(), stdout);
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace

void register_template(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<TemplateArgs>();
  auto* cmd = app.add_subcommand("template", "Render a chat template for a conversation (prints the exact prompt)");
  cmd->add_option("-m,--model", args->model, "GGUF file whose tokenizer.chat_template to render");
  cmd->add_option("--template-file", args->template_file, "Jinja template file to render");
  cmd->add_option("--messages", args->messages, "Messages as JSON text, or @path (@- for standard input)")->required();
  cmd->add_option("--tools", args->tools, "Tools as JSON text, or @path");
  cmd->add_flag("--add-generation-prompt", args->add_generation_prompt, "End with the assistant turn's header");
  cmd->add_option("--bos", args->bos, "bos_token (default: the model's BOS token text, or empty)");
  cmd->add_option("--eos", args->eos, "eos_token (default: the model's EOS token text, or empty)");
  cmd->add_option("--now", args->now, "Date strftime_now sees, YYYY-MM-DD (default: today, UTC)");
  cmd->callback([args, &exit_code] { exit_code = run_template(*args); });
}

}  // namespace laneway::cli
