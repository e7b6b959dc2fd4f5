// Tokenizer behaviour on small vocabularies written here (GgufWriter), so
// each rule is checked where the outcome is known by construction: score
// order (SentencePiece), rank order (BPE), byte fallback, special tokens,
// BOS/EOS defaults, errors, streaming, and arbitrary bytes.
#include <chrono>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace laneway {
namespace {

const std::string kSpace = "\xE2\x96\x81";  // ▁

struct VocabSpec {
  std::string model;
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  std::optional<std::string> pre;
  std::vector<std::pair<std::string, uint32_t>> ids;
  std::vector<std::pair<std::string, bool>> flags;

  int32_t add(std::string text, TokenType type = TokenType::normal, float score = 0.0f) {
    tokens.push_back(std::move(text));
    types.push_back(static_cast<int32_t>(type));
    scores.push_back(score);
    return static_cast<int32_t>(tokens.size()) - 1;
  }
};

// Keeps the GGUF bytes alive beside the parsed file.
struct BuiltFile {
  std::vector<uint8_t> bytes;
  std::optional<GgufFile> file;
};

BuiltFile build(const VocabSpec& spec) {
  GgufWriter w;
  if (!spec.model.empty()) w.add_string("tokenizer.ggml.model", spec.model);
  if (spec.pre) w.add_string("tokenizer.ggml.pre", *spec.pre);
  w.add_string_array("tokenizer.ggml.tokens", std::span<const std::string>(spec.tokens));
  if (spec.model == "llama") w.add_array<float>("tokenizer.ggml.scores", std::span<const float>(spec.scores));
  w.add_array<int32_t>("tokenizer.ggml.token_type", std::span<const int32_t>(spec.types));
  if (!spec.merges.empty()) w.add_string_array("tokenizer.ggml.merges", std::span<const std::string>(spec.merges));
  for (const auto& [key, id] : spec.ids) w.add_u32("tokenizer.ggml." + key, id);
  for (const auto& [key, value] : spec.flags) w.add_bool("tokenizer.ggml." + key, value);
  BuiltFile built;
  built.bytes = w.write_bytes();
  auto parsed = GgufFile::parse(built.bytes);
  EXPECT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  if (parsed.is_ok()) built.file.emplace(std::move(parsed).value());
  return built;
}

Tokenizer make(const VocabSpec& spec) {
  BuiltFile f = build(spec);
  auto tok = Tokenizer::from_gguf(*f.file);
  EXPECT_TRUE(tok.is_ok()) << tok.status().to_string();
  return std::move(tok).value();  // the tokenizer copies: the bytes may go
}

// --- SentencePiece -----------------------------------------------------------

struct SpmIds {
  int32_t unk, bos, eos, byte0, space, a, b, c, ab, bc, abc, space_a;
};

VocabSpec spm_spec(SpmIds& ids) {
  VocabSpec s;
  s.model = "llama";
  ids.unk = s.add("<unk>", TokenType::unknown);
  ids.bos = s.add("<s>", TokenType::control);
  ids.eos = s.add("</s>", TokenType::control);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    const int32_t id = s.add(name, TokenType::byte);
    if (b == 0) ids.byte0 = id;
  }
  ids.space = s.add(kSpace, TokenType::normal, -1.0f);
  ids.a = s.add("a", TokenType::normal, -2.0f);
  ids.b = s.add("b", TokenType::normal, -2.0f);
  ids.c = s.add("c", TokenType::normal, -2.0f);
  ids.ab = s.add("ab", TokenType::normal, -0.5f);
  ids.bc = s.add("bc", TokenType::normal, -0.1f);
  ids.abc = s.add("abc", TokenType::normal, -0.2f);
  ids.space_a = s.add(kSpace + "a", TokenType::normal, -1.5f);
  s.ids = {{"unknown_token_id", ids.unk}, {"bos_token_id", ids.bos}, {"eos_token_id", ids.eos}};
  return s;
}

TEST(SpmTokenizer, MergesByScoreNotByPosition) {
  SpmIds ids{};
  const Tokenizer tok = make(spm_spec(ids));
  EXPECT_EQ(tok.kind(), TokenizerKind::spm);
  // ▁ a b c: "bc" (-0.1) beats "ab" (-0.5) and "▁a" (-1.5); then a+bc = "abc".
  EXPECT_EQ(tok.encode("abc", {.add_special = false}), (std::vector<int32_t>{ids.space, ids.abc}));
  // "ab" alone: ▁a (-1.5) loses to ab (-0.5).
  EXPECT_EQ(tok.encode("ab", {.add_special = false}), (std::vector<int32_t>{ids.space, ids.ab}));
  EXPECT_EQ(tok.encode("a", {.add_special = false}), (std::vector<int32_t>{ids.space_a}));
}

TEST(SpmTokenizer, AddsBosByDefaultAndFallsBackToBytes) {
  SpmIds ids{};
  const Tokenizer tok = make(spm_spec(ids));
  EXPECT_TRUE(tok.add_bos());  // no add_bos_token key
  EXPECT_FALSE(tok.add_eos());
  // é is not a piece: its two UTF-8 bytes.
  EXPECT_EQ(tok.encode("\xC3\xA9"), (std::vector<int32_t>{ids.bos, ids.space, ids.byte0 + 0xC3, ids.byte0 + 0xA9}));
  EXPECT_EQ(tok.decode(tok.encode("\xC3\xA9 abc")), "\xC3\xA9 abc");
  EXPECT_EQ(tok.token_to_piece(ids.byte0 + 0x41), "A");
  EXPECT_EQ(tok.token_to_piece(ids.space_a), " a");
}

TEST(SpmTokenizer, MetadataFlagsAreHonoured) {
  SpmIds ids{};
  VocabSpec spec = spm_spec(ids);
  spec.flags = {{"add_bos_token", false}, {"add_eos_token", true}, {"add_space_prefix", false}};
  const Tokenizer tok = make(spec);
  EXPECT_EQ(tok.encode("abc"), (std::vector<int32_t>{ids.abc, ids.eos}));
  EXPECT_EQ(tok.decode(tok.encode("abc")), "abc");
}

TEST(SpmTokenizer, SpecialTokenTextIsParsedOnlyWhenAsked) {
  SpmIds ids{};
  const Tokenizer tok = make(spm_spec(ids));
  const auto parsed = tok.encode("a</s>a", {.add_special = false, .parse_special = true});
  // Text after a special token gets its own space prefix.
  EXPECT_EQ(parsed, (std::vector<int32_t>{ids.space_a, ids.eos, ids.space_a}));
  const auto plain = tok.encode("a</s>", {.add_special = false, .parse_special = false});
  EXPECT_EQ(plain, (std::vector<int32_t>{ids.space_a, ids.byte0 + '<', ids.byte0 + '/', ids.byte0 + 's',
                                         ids.byte0 + '>'}));
  EXPECT_EQ(tok.decode(plain), "a</s>");
  EXPECT_EQ(tok.decode(parsed), "a a");  // the second ▁ came from the prefix after </s>
  EXPECT_EQ(tok.decode(parsed, {.render_special = true}), "a</s> a");
  EXPECT_TRUE(tok.is_end_of_generation(ids.eos));
  EXPECT_FALSE(tok.is_end_of_generation(ids.a));
}

TEST(StreamingDetokenizer, NeverEmitsHalfACharacter) {
  SpmIds ids{};
  const Tokenizer tok = make(spm_spec(ids));
  const std::string emoji = "\xF0\x9F\xA6\x99";
  const auto tokens = tok.encode(emoji, {.add_special = true});
  ASSERT_EQ(tokens.size(), 6u);  // BOS ▁ + four bytes
  StreamingDetokenizer stream(tok);
  EXPECT_EQ(stream.push(tokens[0]), "");   // BOS
  EXPECT_EQ(stream.push(tokens[1]), " ");  // continuation text keeps its space
  EXPECT_EQ(stream.push(tokens[2]), "");
  EXPECT_EQ(stream.pending_bytes(), 1u);
  EXPECT_EQ(stream.push(tokens[3]), "");
  EXPECT_EQ(stream.push(tokens[4]), "");
  EXPECT_EQ(stream.push(tokens[5]), emoji);
  EXPECT_EQ(stream.flush(), "");

  // A byte that can never start a character comes out as U+FFFD at once; an
  // unfinished character at the end comes out as U+FFFD on flush.
  EXPECT_EQ(stream.push(ids.byte0 + 0xFF), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.push(ids.byte0 + 0xE4), "");
  EXPECT_EQ(stream.push(ids.a), "\xEF\xBF\xBD" "a");  // the E4 was not continued
  EXPECT_EQ(stream.push(ids.byte0 + 0xE4), "");
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.push(99999), "");  // a bad id is ignored
}

TEST(StreamingDetokenizer, CanDropTheSpacePrefixOfAWholeText) {
  SpmIds ids{};
  const Tokenizer tok = make(spm_spec(ids));
  StreamingDetokenizer stream(tok, {.render_special = false, .remove_space_prefix = true});
  std::string out;
  for (int32_t id : tok.encode("a abc")) out += stream.push(id);
  out += stream.flush();
  EXPECT_EQ(out, "a abc");
}

// --- Byte-level BPE ----------------------------------------------------------

struct BpeIds {
  int32_t he, lo, ll, hell, hello, eot, tool;
};

int32_t byte_token(unsigned char b) { return b; }  // the spec puts byte b at id b

std::string byte_level(std::string_view s) {
  std::string out;
  for (unsigned char b : s) unicode::utf8_append(out, unicode::byte_level_code_points()[b]);
  return out;
}

VocabSpec bpe_spec(BpeIds& ids, std::optional<std::string> pre = "gpt-2") {
  VocabSpec s;
  s.model = "gpt2";
  s.pre = std::move(pre);
  for (int b = 0; b < 256; ++b) s.add(byte_level(std::string(1, static_cast<char>(b))));
  ids.he = s.add("he");
  ids.lo = s.add("lo");
  ids.ll = s.add("ll");
  ids.hell = s.add("hell");
  ids.hello = s.add("hello");
  ids.eot = s.add("<|endoftext|>", TokenType::control);
  ids.tool = s.add("<tool>", TokenType::user_defined);
  // Rank order: "l o" comes before "l l", so "hello" cannot become hell+o.
  s.merges = {"h e", "l o", "l l", "he ll", "hell o"};
  s.ids = {{"bos_token_id", static_cast<uint32_t>(ids.eot)}, {"eos_token_id", static_cast<uint32_t>(ids.eot)}};
  return s;
}

TEST(BpeTokenizer, MergesInRankOrder) {
  BpeIds ids{};
  const Tokenizer tok = make(bpe_spec(ids));
  EXPECT_EQ(tok.kind(), TokenizerKind::bpe);
  EXPECT_TRUE(tok.warnings().empty());
  EXPECT_FALSE(tok.add_bos());  // BPE: no BOS unless the metadata says so
  EXPECT_EQ(tok.encode("hello"), (std::vector<int32_t>{ids.he, byte_token('l'), ids.lo}));
  EXPECT_EQ(tok.encode("hell"), (std::vector<int32_t>{ids.hell}));
  EXPECT_EQ(tok.encode(" hell"), (std::vector<int32_t>{byte_token(' '), ids.hell}));
  EXPECT_EQ(tok.decode(tok.encode(" hello, world\n")), " hello, world\n");
}

TEST(BpeTokenizer, UserDefinedTokensAlwaysMatchControlTokensOnlyWhenAsked) {
  BpeIds ids{};
  const Tokenizer tok = make(bpe_spec(ids));
  EXPECT_EQ(tok.encode("he<tool>he"), (std::vector<int32_t>{ids.he, ids.tool, ids.he}));
  const auto plain = tok.encode("<|endoftext|>");
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(tok.decode(plain), "<|endoftext|>");
  EXPECT_EQ(tok.encode("he<|endoftext|>", {.add_special = false, .parse_special = true}),
            (std::vector<int32_t>{ids.he, ids.eot}));
  EXPECT_TRUE(tok.is_end_of_generation(ids.eot));
  EXPECT_EQ(tok.token_to_piece(ids.tool), "<tool>");
  EXPECT_EQ(tok.token_to_piece(byte_token(' ')), " ");
}

// Special tokens are cut out leftmost, then longest, with the lowest id
// between equal texts; thousands that share a prefix (Gemma's <unusedN>)
// cost a walk of the longest, not a scan of them all.
TEST(BpeTokenizer, SpecialTokensLeftmostLongestAmongThousands) {
  BpeIds ids{};
  VocabSpec spec = bpe_spec(ids);
  std::vector<int32_t> unused;
  for (int i = 0; i < 3000; ++i) unused.push_back(spec.add("<unused" + std::to_string(i) + ">", TokenType::control));
  const int32_t lt = spec.add("<", TokenType::user_defined);
  const int32_t tool_call = spec.add("<tool><tool>", TokenType::user_defined);
  const int32_t twin = spec.add("<unused7>", TokenType::control);  // the same text, a higher id
  const Tokenizer tok = make(spec);
  const EncodeOptions parse{.add_special = false, .parse_special = true};
  EXPECT_EQ(tok.encode("<unused2999><unused7>he<unused12", parse),
            (std::vector<int32_t>{unused[2999], unused[7], ids.he, lt, byte_token('u'), byte_token('n'),
                                  byte_token('u'), byte_token('s'), byte_token('e'), byte_token('d'), byte_token('1'),
                                  byte_token('2')}));
  EXPECT_NE(twin, unused[7]);
  EXPECT_EQ(tok.encode("<tool><tool><tool>", parse), (std::vector<int32_t>{tool_call, ids.tool}));
  // Without parse_special only the user-defined ones are cut out.
  EXPECT_EQ(tok.encode("<unused5><tool>")[0], lt);
  EXPECT_EQ(tok.encode("<unused5><tool>").back(), ids.tool);
}

// The end-of-turn markers of the families issue 18 runs end a generation
// even when the metadata names only EOS: qwen2's <|im_end|> beside its
// <|endoftext|>, gemma's <end_of_turn>, Llama 3's <|eot_id|>.
TEST(BpeTokenizer, FamiliesEndOfTurnMarkersEndGeneration) {
  BpeIds ids{};
  VocabSpec spec = bpe_spec(ids);
  const int32_t im_end = spec.add("<|im_end|>", TokenType::control);
  const int32_t end_of_turn = spec.add("<end_of_turn>", TokenType::control);
  const int32_t eot_id = spec.add("<|eot_id|>", TokenType::control);
  const int32_t im_start = spec.add("<|im_start|>", TokenType::control);
  const Tokenizer tok = make(spec);
  EXPECT_TRUE(tok.is_end_of_generation(im_end));
  EXPECT_TRUE(tok.is_end_of_generation(end_of_turn));
  EXPECT_TRUE(tok.is_end_of_generation(eot_id));
  EXPECT_FALSE(tok.is_end_of_generation(im_start));
  EXPECT_FALSE(tok.is_end_of_generation(ids.hello));
}

TEST(BpeTokenizer, AddBosTokenKeyTurnsBosOn) {
  BpeIds ids{};
  VocabSpec spec = bpe_spec(ids);
  spec.flags = {{"add_bos_token", true}};
  const Tokenizer tok = make(spec);
  EXPECT_EQ(tok.encode("he"), (std::vector<int32_t>{ids.eot, ids.he}));
  EXPECT_EQ(tok.decode(tok.encode("he")), "he");
}

TEST(BpeTokenizer, MissingPreWarnsAndUsesGpt2) {
  BpeIds ids{};
  const Tokenizer tok = make(bpe_spec(ids, std::nullopt));
  ASSERT_EQ(tok.warnings().size(), 1u);
  EXPECT_NE(tok.warnings()[0].find("tokenizer.ggml.pre is missing"), std::string::npos);
  EXPECT_EQ(tok.encode("hello"), (std::vector<int32_t>{ids.he, byte_token('l'), ids.lo}));
}

TEST(BpeTokenizer, UnknownPreIsAnErrorNamingIt) {
  BpeIds ids{};
  BuiltFile f = build(bpe_spec(ids, "martian-7b"));
  auto tok = Tokenizer::from_gguf(*f.file);
  ASSERT_FALSE(tok.is_ok());
  EXPECT_EQ(tok.status().code(), StatusCode::unsupported);
  EXPECT_NE(tok.status().message().find("martian-7b"), std::string::npos);
}

TEST(BpeTokenizer, Llama3IgnoreMergesEmitsWholeTokens) {
  BpeIds ids{};
  VocabSpec spec = bpe_spec(ids, "llama-bpe");
  const Tokenizer tok = make(spec);
  // "hello" is a token: emitted whole although the merges would not reach it.
  EXPECT_EQ(tok.encode("hello"), (std::vector<int32_t>{ids.hello}));
}

// --- Errors ------------------------------------------------------------------

TEST(Tokenizer, MissingOrUnknownModelIsAnError) {
  VocabSpec spec;
  spec.add("a");
  BuiltFile none = build(spec);
  auto missing = Tokenizer::from_gguf(*none.file);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::not_found);

  spec.model = "t9";
  BuiltFile t9 = build(spec);
  auto unknown = Tokenizer::from_gguf(*t9.file);
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::unsupported);
  EXPECT_NE(unknown.status().message().find("t9"), std::string::npos);
}

TEST(Tokenizer, MismatchedArraysAreCorrupt) {
  SpmIds ids{};
  VocabSpec spec = spm_spec(ids);
  spec.scores.pop_back();
  BuiltFile f = build(spec);
  auto tok = Tokenizer::from_gguf(*f.file);
  ASSERT_FALSE(tok.is_ok());
  EXPECT_EQ(tok.status().code(), StatusCode::corrupt);
}

// --- WordPiece ---------------------------------------------------------------

TEST(WordPieceTokenizer, BertUncasedNormalizationAndGreedyMatch) {
  VocabSpec s;
  s.model = "bert";
  s.pre = "bert-bge";
  const int32_t pad = s.add("[PAD]", TokenType::control);
  const int32_t unk = s.add("[UNK]", TokenType::control);
  const int32_t cls = s.add("[CLS]", TokenType::control);
  const int32_t sep = s.add("[SEP]", TokenType::control);
  const int32_t hello = s.add(kSpace + "hello");
  const int32_t comma = s.add(kSpace + ",");
  const int32_t world = s.add(kSpace + "world");
  const int32_t un = s.add(kSpace + "un");
  const int32_t aff = s.add("aff");
  const int32_t able = s.add("able");
  const int32_t cafe = s.add(kSpace + "cafe");
  const int32_t zhong = s.add(kSpace + "\xE4\xB8\xAD");
  s.ids = {{"padding_token_id", pad}, {"unknown_token_id", unk}, {"cls_token_id", cls}, {"seperator_token_id", sep}};
  const Tokenizer tok = make(s);
  EXPECT_EQ(tok.kind(), TokenizerKind::wordpiece);
  EXPECT_EQ(tok.bos_id(), cls);
  EXPECT_EQ(tok.eos_id(), sep);
  // Lower-cased, accents stripped, punctuation split off, CJK split per
  // character, unknown words (and "!") become [UNK], invalid bytes dropped.
  EXPECT_EQ(tok.encode("Hello,WORLD! Unaffable\xFF CAF\xC3\x89 \xE4\xB8\xAD\xE6\x96\x87"),
            (std::vector<int32_t>{cls, hello, comma, world, unk, un, aff, able, cafe, zhong, unk, sep}));
  EXPECT_EQ(tok.decode(tok.encode("hello, world")), "hello , world");
}

TEST(WordPieceTokenizer, ClassicHashHashVocabularies) {
  VocabSpec s;
  s.model = "bert";
  const int32_t unk = s.add("[UNK]", TokenType::control);
  const int32_t un = s.add("un");
  const int32_t aff = s.add("##aff");
  const int32_t able = s.add("##able");
  s.ids = {{"unknown_token_id", static_cast<uint32_t>(unk)}};
  const Tokenizer tok = make(s);
  EXPECT_EQ(tok.encode("unaffable", {.add_special = false}), (std::vector<int32_t>{un, aff, able}));
  EXPECT_EQ(tok.encode("affable", {.add_special = false}), (std::vector<int32_t>{unk}));
  EXPECT_EQ(tok.decode(tok.encode("unaffable un", {.add_special = false})), "unaffable un");
}

// --- Arbitrary bytes -----------------------------------------------------------

TEST(Tokenizer, ArbitraryBytesNeverCrashAndRoundTripWhereBytesAreTokens) {
  SpmIds spm_ids{};
  BpeIds bpe_ids{};
  const Tokenizer spm = make(spm_spec(spm_ids));
  const Tokenizer bpe = make(bpe_spec(bpe_ids));
  std::mt19937 rng(42);
  for (int round = 0; round < 500; ++round) {
    std::string text(rng() % 64, '\0');
    for (char& ch : text) ch = static_cast<char>(rng() % 256);
    for (const Tokenizer* tok : {&spm, &bpe}) {
      for (bool parse_special : {false, true}) {
        const auto ids = tok->encode(text, {.add_special = true, .parse_special = parse_special});
        for (int32_t id : ids) ASSERT_TRUE(tok->valid_id(id));
        if (!parse_special) {
          EXPECT_EQ(tok->decode(ids), text);
        }
        StreamingDetokenizer stream(*tok);
        std::string streamed;
        for (int32_t id : ids) streamed += stream.push(id);
        streamed += stream.flush();
        EXPECT_EQ(unicode::utf8_sanitize(streamed), streamed);  // always valid UTF-8
      }
    }
  }
}

}  // namespace
}  // namespace laneway
