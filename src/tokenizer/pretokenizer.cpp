#include "tokenizer/pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <span>

#include <fmt/format.h>

#include "tokenizer/unicode.h"

namespace laneway {
namespace {

// --- The published pre-tokenizer regexes -----------------------------------
// Each model's tokenizer.json names its pre-tokenizer; these are its regexes,
// written out as the splits they perform, applied in order.

// GPT-2's byte-level split: contractions, letters, digits, other symbols,
// each optionally after one space; whitespace runs leave their last space to
// the next word.
constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// LLaMA-3 (tiktoken cl100k style): case-insensitive contractions, a letter
// run may take one leading non-letter, digits in groups of at most three,
// newlines kept with the whitespace before them.
constexpr std::string_view kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DBRX and Smaug spell LLaMA-3's case-insensitive contractions out by hand.
constexpr std::string_view kLlama3Explicit =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen2: LLaMA-3's pattern with single digits.
constexpr std::string_view kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DeepSeek LLM: newlines alone; runs of cased letters (the Lu/Ll/Lt
// ranges of the Unicode version the pattern was made with); ASCII and
// full-width punctuation runs; trailing whitespace; CJK/Hangul runs; digit
// runs. Non-ASCII characters are written as \x{..} escapes: several of the
// range ends (U+1F7D, U+1FBE, U+1FD3, U+1FDB, U+2126, U+212A) have
// canonical singleton decompositions, and a Unicode-normalizing editor or
// copy would silently turn them into other characters.
constexpr std::array<std::string_view, 6> kDeepseekLlm = {
    R"([\r\n])",
    R"(\s?[\x{41}-\x{5A}\x{61}-\x{7A}\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF})"
    R"(\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386})"
    R"(\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F})"
    R"(\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA})"
    R"(\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15})"
    R"(\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D})"
    R"(\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC})"
    R"(\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102})"
    R"(\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D})"
    R"(\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184})"
    R"(\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D})"
    R"(\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF})"
    R"(\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F})"
    R"(\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF})"
    R"(\x{1E900}-\x{1E943}]+)",
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)",
    // Published as \s+$. Written so that a start inside a whitespace run
    // fails at once: the leftmost match is the same, but a long run
    // followed by something else no longer costs quadratic time.
    R"((?<!\s)\s++$)",
    R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)",
    R"(\p{N}+)",
};

// DeepSeek Coder: newlines alone, letter runs, punctuation runs, CJK runs,
// single digits.
constexpr std::array<std::string_view, 5> kDeepseekCoder = {
    R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)", R"(\p{N})",
};

// DeepSeek V3: digit groups of up to three, CJK/kana runs, then a
// LLaMA-3-like split that keeps marks with letters.
constexpr std::array<std::string_view, 3> kDeepseekV3 = {
    R"(\p{N}{1,3})",
    R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)",
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
};

// Falcon: runs of punctuation (Unicode P plus the ASCII symbols BERT-style
// punctuation includes) first, then GPT-2's split, then digit runs, then
// groups of three digits.
constexpr std::array<std::string_view, 4> kFalcon = {
    R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, R"(\p{N}+)", R"([0-9][0-9][0-9])",
};

// StarCoder, Refact, Command-R and kin: every digit alone, then GPT-2's split.
constexpr std::array<std::string_view, 2> kDigitsThenGpt2 = {R"(\p{N})", kGpt2};

struct PreTokenizerEntry {
  std::string_view name;
  std::span<const std::string_view> patterns;
  bool ignore_merges;
};

constexpr std::array<std::string_view, 1> kGpt2List = {kGpt2};
constexpr std::array<std::string_view, 1> kLlama3List = {kLlama3};
constexpr std::array<std::string_view, 1> kLlama3ExplicitList = {kLlama3Explicit};
constexpr std::array<std::string_view, 1> kQwen2List = {kQwen2};

constexpr PreTokenizerEntry kPreTokenizers[] = {
    {"default", kGpt2List, false},
    {"gpt-2", kGpt2List, false},
    {"phi-2", kGpt2List, false},
    {"roberta-bpe", kGpt2List, false},
    {"mpt", kGpt2List, false},
    {"olmo", kGpt2List, false},
    {"llama3", kLlama3List, true},
    {"llama-v3", kLlama3List, true},
    {"llama-bpe", kLlama3List, true},
    {"falcon3", kLlama3List, true},
    {"dbrx", kLlama3ExplicitList, false},
    {"smaug-bpe", kLlama3ExplicitList, false},
    {"qwen2", kQwen2List, false},
    {"deepseek-r1-qwen", kQwen2List, false},
    {"stablelm2", kQwen2List, false},
    {"deepseek-llm", kDeepseekLlm, false},
    {"deepseek-coder", kDeepseekCoder, false},
    {"deepseek-v3", kDeepseekV3, false},
    {"falcon", kFalcon, false},
    {"starcoder", kDigitsThenGpt2, false},
    {"refact", kDigitsThenGpt2, false},
    {"command-r", kDigitsThenGpt2, false},
    {"smollm", kDigitsThenGpt2, false},
    {"codeshell", kDigitsThenGpt2, false},
    {"exaone", kDigitsThenGpt2, false},
};

struct CodeDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};
struct JitStackDeleter {
  void operator()(pcre2_jit_stack* s) const { pcre2_jit_stack_free(s); }
};
struct MatchContextDeleter {
  void operator()(pcre2_match_context* c) const { pcre2_match_context_free(c); }
};

// --- Unicode versions -------------------------------------------------------
// \p{N}, \p{L} and the other major categories in the regexes mean what the
// tokenizers' own tables say (Python's `regex` module, llama.cpp: Unicode 15
// and later), but PCRE2 answers from the tables of its release (10.42 in
// Debian 12: Unicode 14), where newer characters are unassigned: the Kawi and
// Nag Mundari digits and the Kaktovik numerals would not be numbers, CJK
// Extension H not letters. utf8proc is as new as the tokenizers' tables, so
// each \p{X} gets, as explicit ranges, the code points utf8proc puts in X
// and PCRE2 does not.

// "\x{A}-\x{B}\x{C}...": the code points of major category `cat` that PCRE2's \p{cat} misses.
std::string missing_from_pcre2(char cat) {
  const std::string probe = fmt::format("\\p{{{}}}", cat);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  std::unique_ptr<pcre2_code, CodeDeleter> code(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(probe.data()), probe.size(),
                                                              PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED, &error_code,
                                                              &error_offset, nullptr));
  if (!code) return "";
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> data(pcre2_match_data_create_from_pattern(code.get(), nullptr));
  std::string out;
  std::string ch;
  int64_t run_start = -1, run_end = -1;
  auto flush = [&] {
    if (run_start < 0) return;
    out += run_start == run_end ? fmt::format("\\x{{{:X}}}", run_start)
                                : fmt::format("\\x{{{:X}}}-\\x{{{:X}}}", run_start, run_end);
    run_start = -1;
  };
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (unicode::major_category(cp) != cat) continue;
    ch.clear();
    unicode::utf8_append(ch, cp);
    const bool pcre2_has = pcre2_match(code.get(), reinterpret_cast<PCRE2_SPTR>(ch.data()), ch.size(), 0, 0,
                                       data.get(), nullptr) > 0;
    if (pcre2_has) continue;
    if (run_start >= 0 && int64_t(cp) == run_end + 1) {
      run_end = cp;
    } else {
      flush();
      run_start = run_end = cp;
    }
  }
  flush();
  return out;
}

const std::string& pcre2_missing(char cat) {
  static const std::array<std::string, 5> kMissing = {missing_from_pcre2('L'), missing_from_pcre2('M'),
                                                      missing_from_pcre2('N'), missing_from_pcre2('P'),
                                                      missing_from_pcre2('S')};
  static const std::string kNone;
  static constexpr std::string_view kCats = "LMNPS";
  const size_t i = kCats.find(cat);
  return i == std::string_view::npos ? kNone : kMissing[i];
}

}  // namespace

std::string widen_unicode_properties(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size();) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      // \p{X} of a major category: in a class the ranges join it, outside it
      // becomes a class of its own (a quantifier after it still applies).
      if (pattern[i + 1] == 'p' && i + 4 < pattern.size() && pattern[i + 2] == '{' && pattern[i + 4] == '}') {
        const std::string_view property = pattern.substr(i, 5);
        const std::string& extra = pcre2_missing(pattern[i + 3]);
        if (extra.empty()) out += property;
        else if (in_class) out += std::string(property) + extra;
        else out += "[" + std::string(property) + extra + "]";
        i += 5;
        continue;
      }
      out += pattern.substr(i, 2);  // any other escape, \] and \[ included
      i += 2;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      ++i;
      if (i < pattern.size() && pattern[i] == '^') out += pattern[i++];
      if (i < pattern.size() && pattern[i] == ']') out += pattern[i++];  // a leading ] is literal
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
    ++i;
  }
  return out;
}


struct PreTokenizer::Regex {
  std::unique_ptr<pcre2_code, CodeDeleter> code;
};

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

std::vector<std::string_view> PreTokenizer::known_names() {
  std::vector<std::string_view> names;
  for (const auto& e : kPreTokenizers) names.push_back(e.name);
  return names;
}

std::vector<std::string> PreTokenizer::patterns_of(std::string_view pre) {
  for (const auto& e : kPreTokenizers) {
    if (e.name == pre) return {e.patterns.begin(), e.patterns.end()};
  }
  return {};
}

Result<PreTokenizer> PreTokenizer::for_name(std::string_view pre) {
  for (const auto& e : kPreTokenizers) {
    if (e.name == pre) {
      std::vector<std::string> patterns(e.patterns.begin(), e.patterns.end());
      return from_patterns(patterns, e.ignore_merges);
    }
  }
  return unsupported_error("tokenizer.ggml.pre '{}' is not a pre-tokenizer Laneway knows", pre);
}

Result<PreTokenizer> PreTokenizer::from_patterns(const std::vector<std::string>& patterns, bool ignore_merges) {
  PreTokenizer p;
  p.ignore_merges_ = ignore_merges;
  for (const std::string& written : patterns) {
    const std::string pattern = widen_unicode_properties(written);
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code, &error_offset,
                                     nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error_code, message, sizeof message);
      return internal_error("pre-tokenizer regex does not compile at offset {}: {} (pattern {})", error_offset,
                            reinterpret_cast<const char*>(message), pattern);
    }
    // JIT is an optimization: when it is unavailable pcre2_match interprets.
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    auto regex = std::make_unique<Regex>();
    regex->code.reset(code);
    p.regexes_.push_back(std::move(regex));
  }
  return p;
}

namespace {

// Per-call matching state: match data for one regex, and a large JIT stack
// made only when a match overflows the default one (long whitespace runs
// under lookahead patterns can).
struct Matcher {
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> data;
  std::unique_ptr<pcre2_jit_stack, JitStackDeleter> big_stack;
  std::unique_ptr<pcre2_match_context, MatchContextDeleter> big_context;

  int match(const pcre2_code* code, std::string_view subject, size_t start) {
    const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
    int rc = pcre2_match(code, s, subject.size(), start, 0, data.get(), big_context.get());
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !big_stack) {
      big_stack.reset(pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr));
      big_context.reset(pcre2_match_context_create(nullptr));
      if (big_stack && big_context) {
        pcre2_jit_stack_assign(big_context.get(), nullptr, big_stack.get());
        rc = pcre2_match(code, s, subject.size(), start, 0, data.get(), big_context.get());
      }
    }
    return rc;
  }
};

// Cuts `piece` into matches of `code` and the stretches between them.
void split_piece(const pcre2_code* code, Matcher& m, std::string_view piece, std::vector<std::string_view>& out) {
  size_t pos = 0;
  size_t gap_start = 0;
  while (pos < piece.size()) {
    const int rc = m.match(code, piece, pos);
    // No match, or an error (match limits): the rest is one piece.
    if (rc <= 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(m.data.get());
    const size_t begin = ov[0];
    const size_t end = ov[1];
    if (begin < pos || end < begin || end > piece.size()) break;  // cannot happen; never loop
    if (end == begin) {
      // An empty match cuts nothing; search again one character further.
      if (begin >= piece.size()) break;
      pos = begin + unicode::utf8_char_length(piece, begin);
      continue;
    }
    if (begin > gap_start) out.push_back(piece.substr(gap_start, begin - gap_start));
    out.push_back(piece.substr(begin, end - begin));
    gap_start = pos = end;
  }
  if (gap_start < piece.size()) out.push_back(piece.substr(gap_start));
}

}  // namespace

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& pieces) const {
  if (text.empty()) return;
  const size_t first = pieces.size();
  pieces.push_back(text);
  std::vector<std::string_view> next;
  for (const auto& regex : regexes_) {
    Matcher m;
    m.data.reset(pcre2_match_data_create_from_pattern(regex->code.get(), nullptr));
    if (!m.data) continue;  // out of memory: leave the pieces as they are
    next.clear();
    for (size_t i = first; i < pieces.size(); ++i) split_piece(regex->code.get(), m, pieces[i], next);
    pieces.resize(first);
    pieces.insert(pieces.end(), next.begin(), next.end());
  }
}

}  // namespace laneway
