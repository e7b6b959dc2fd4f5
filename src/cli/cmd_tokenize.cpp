// laneway tokenize -m FILE [--no-bos] [--parse-special] [--pieces] [--file F | TEXT]
// laneway detokenize -m FILE [--render-special] [-n] IDS...
//
// Token ids go to stdout space-separated on one line; --pieces prints one
// "id<TAB>piece" line per token instead, the piece escaped (\n, \t, \\,
// \xNN for bytes that are not printable UTF-8).
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace laneway::cli {
namespace {

std::string escape_piece(std::string_view piece) {
  std::string out;
  for (size_t pos = 0; pos < piece.size();) {
    const unicode::Utf8Char c = unicode::utf8_decode(piece, pos);
    const auto byte = static_cast<unsigned char>(piece[pos]);
    if (!c.valid || c.cp < 0x20 || c.cp == 0x7F) {
      if (byte == '\n') out += "\\n";
      else if (byte == '\t') out += "\\t";
      else if (byte == '\r') out += "\\r";
      else out += fmt::format("\\x{:02X}", byte);
    } else if (byte == '\\') {
      out += "\\\\";
    } else {
      out.append(piece.substr(pos, c.len));
    }
    pos += c.len;
  }
  return out;
}

// Opens the model and builds its tokenizer (which copies what it needs, so
// the file is closed on return); prints the error and sets the exit code on
// failure.
std::optional<Tokenizer> load_tokenizer(const std::string& command, const std::string& path, int& exit_code) {
  auto model = GgufModel::open(path);
  if (!model.is_ok()) {
    std::fprintf(stderr, "laneway %s: %s\n", command.c_str(), model.status().to_string().c_str());
    exit_code = kExitBadInput;
    return std::nullopt;
  }
  auto tok = Tokenizer::from_gguf(model->meta());
  if (!tok.is_ok()) {
    std::fprintf(stderr, "laneway %s: %s: %s\n", command.c_str(), path.c_str(), tok.status().to_string().c_str());
    exit_code = kExitBadInput;
    return std::nullopt;
  }
  for (const std::string& w : tok->warnings()) std::fprintf(stderr, "laneway %s: warning: %s\n", command.c_str(), w.c_str());
  return std::move(tok).value();
}

struct TokenizeArgs {
  std::string model;
  std::string text;
  std::string file;
  bool no_bos = false;
  bool parse_special = false;
  bool pieces = false;
};

struct DetokenizeArgs {
  std::string model;
  std::vector<std::string> ids;
  bool render_special = false;
  bool no_newline = false;
};

void run_tokenize(const TokenizeArgs& args, CLI::App* cmd, int& exit_code) {
  const bool has_text = cmd->count("text") > 0;
  const bool has_file = !args.file.empty();
  if (has_text == has_file) {
    std::fprintf(stderr, "laneway tokenize: give either TEXT or --file F (use --file - for standard input)\n");
    exit_code = kExitUsage;
    return;
  }
  std::string text = args.text;
  if (has_file) {
    if (args.file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      std::ifstream in(args.file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "laneway tokenize: cannot read %s\n", args.file.c_str());
        exit_code = kExitBadInput;
        return;
      }
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  auto tok = load_tokenizer("tokenize", args.model, exit_code);
  if (!tok) return;
  const auto ids = tok->encode(text, {.add_special = !args.no_bos, .parse_special = args.parse_special});
  std::string out;
  if (args.pieces) {
    for (int32_t id : ids) out += fmt::format("{}\t{}\n", id, escape_piece(tok->token_to_piece(id)));
  } else {
    for (size_t i = 0; i < ids.size(); ++i) out += fmt::format("{}{}", i ? " " : "", ids[i]);
    out += '\n';
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

void run_detokenize(const DetokenizeArgs& args, int& exit_code) {
  std::vector<int64_t> ids;
  for (const std::string& arg : args.ids) {
    size_t pos = 0;
    while (pos < arg.size()) {
      if (arg[pos] == ' ' || arg[pos] == ',' || arg[pos] == '\t' || arg[pos] == '\n') { ++pos; continue; }
      size_t end = pos;
      if (arg[end] == '-') ++end;
      while (end < arg.size() && arg[end] >= '0' && arg[end] <= '9') ++end;
      const bool digits = end > pos + (arg[pos] == '-' ? 1 : 0);
      if (!digits || end - pos > 12 || (end < arg.size() && arg[end] != ' ' && arg[end] != ',' &&
                                        arg[end] != '\t' && arg[end] != '\n')) {
        std::fprintf(stderr, "laneway detokenize: '%s' is not a list of token ids\n", arg.c_str());
        exit_code = kExitUsage;
        return;
      }
      ids.push_back(std::stoll(arg.substr(pos, end - pos)));
      pos = end;
    }
  }
  auto tok = load_tokenizer("detokenize", args.model, exit_code);
  if (!tok) return;
  std::vector<int32_t> valid;
  for (int64_t id : ids) {
    if (id < 0 || id >= tok->vocab_size()) {
      std::fprintf(stderr, "laneway detokenize: token id %lld is outside the vocabulary (0..%d)\n",
                   static_cast<long long>(id), tok->vocab_size() - 1);
      exit_code = kExitBadInput;
      return;
    }
    valid.push_back(static_cast<int32_t>(id));
  }
  std::string text = tok->decode(valid, {.render_special = args.render_special, .remove_space_prefix = true});
  if (!args.no_newline) text += '\n';
  std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace

void register_tokenize(CLI::App& app, int& exit_code) {
  auto targs = std::make_shared<TokenizeArgs>();
  auto* tcmd = app.add_subcommand("tokenize", "Print the token ids of a text (the model's own tokenizer)");
  tcmd->add_option("-m,--model", targs->model, "GGUF file whose tokenizer to use")->required();
  tcmd->add_option("text", targs->text, "Text to tokenize");
  tcmd->add_option("--file", targs->file, "Read the text from this file ('-' for standard input)");
  tcmd->add_flag("--no-bos", targs->no_bos, "Add no BOS/EOS (CLS/SEP) tokens");
  tcmd->add_flag("--parse-special", targs->parse_special,
                 "Turn special-token text such as <|im_start|> into its token");
  tcmd->add_flag("--pieces", targs->pieces, "Print one 'id<TAB>piece' line per token");
  tcmd->callback([targs, tcmd, &exit_code] { run_tokenize(*targs, tcmd, exit_code); });

  auto dargs = std::make_shared<DetokenizeArgs>();
  auto* dcmd = app.add_subcommand("detokenize", "Print the text of token ids");
  dcmd->add_option("-m,--model", dargs->model, "GGUF file whose tokenizer to use")->required();
  dcmd->add_option("ids", dargs->ids, "Token ids (separated by spaces or commas)")->required();
  dcmd->add_flag("--render-special", dargs->render_special, "Write control tokens such as </s> as text");
  dcmd->add_flag("--no-newline", dargs->no_newline, "Do not end the output with a newline");
  dcmd->callback([dargs, &exit_code] { run_detokenize(*dargs, exit_code); });
}

}  // namespace laneway::cli
