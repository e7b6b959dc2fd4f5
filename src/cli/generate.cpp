#include "cli/generate.h"

#include <algorithm>
#include <chrono>

namespace laneway::cli {
namespace {

// The length of the longest suffix of `text` that is a prefix of a stop
// string: text that must wait before it is printed.
size_t held_for_stops(std::string_view text, const std::vector<std::string>& stops) {
  size_t held = 0;
  for (const std::string& stop : stops) {
    for (size_t n = std::min(stop.size() - 1, text.size()); n > held; --n) {
      if (text.substr(text.size() - n) == std::string_view(stop).substr(0, n)) {
        held = n;
        break;
      }
    }
  }
  return held;
}

}  // namespace

void SequenceSession::clear() {
  ctx_.kv().clear(0);
  cached_.clear();
}

Result<GenerateStats> SequenceSession::generate(const std::vector<int32_t>& tokens, Sampler& sampler,
                                                int64_t n_predict, const std::vector<std::string>& stops,
                                                const std::function<void(std::string_view)>& on_text) {
  using clock = std::chrono::steady_clock;
  GenerateStats stats;
  if (tokens.empty()) return invalid_argument_error("the prompt is empty");
  const int64_t n_ctx = ctx_.context_tokens();
  if (static_cast<int64_t>(tokens.size()) > n_ctx) {
    return invalid_argument_error("the prompt is {} tokens, longer than the context of {} tokens (raise --ctx)",
                                  tokens.size(), n_ctx);
  }
  // Keep the common prefix, less one token: the last prompt token is always
  // evaluated again, for its logits. The cache is the truth (a failed
  // decode with sliding-window rings clears it); a ring that cannot rewind
  // that far means reading the prompt again.
  cached_.resize(std::min(cached_.size(), static_cast<size_t>(ctx_.kv().used(0))));
  size_t keep = 0;
  while (keep < cached_.size() && keep + 1 < tokens.size() && cached_[keep] == tokens[keep]) ++keep;
  if (!ctx_.kv().can_truncate(0, static_cast<int64_t>(cached_.size() - keep))) keep = 0;
  ctx_.kv().truncate(0, static_cast<int64_t>(cached_.size() - keep));
  cached_.resize(keep);

  // The sampler saw the kept tokens already (a chat's earlier turns); its
  // RNG is not reseeded, so each turn draws on.
  for (size_t i = keep; i < tokens.size(); ++i) sampler.accept(tokens[i]);

  const auto t0 = clock::now();
  ForwardBatch batch;
  for (size_t i = keep; i < tokens.size(); ++i) batch.add(tokens[i], static_cast<int64_t>(i), 0, i + 1 == tokens.size());
  LANEWAY_TRY(ctx_.decode(batch));
  cached_ = tokens;
  stats.prompt_tokens = static_cast<int64_t>(tokens.size() - keep);
  const auto t1 = clock::now();

  StreamingDetokenizer detok(tokenizer_);
  std::string pending;  // text held back while it may begin a stop string
  bool stopped = false;
  auto emit = [&](const std::string& text) {
    pending += text;
    for (const std::string& stop : stops) {
      if (const size_t at = pending.find(stop); at != std::string::npos) {
        if (at > 0) on_text(std::string_view(pending).substr(0, at));
        pending.clear();
        stopped = true;
        return;
      }
    }
    const size_t ready = pending.size() - held_for_stops(pending, stops);
    if (ready > 0) on_text(std::string_view(pending).substr(0, ready));
    pending.erase(0, ready);
  };
  int64_t pos = static_cast<int64_t>(tokens.size());
  while (stats.generated_tokens < n_predict && !stopped) {
    if (pos >= n_ctx) {
      stats.context_full = true;
      break;
    }
    LANEWAY_ASSIGN_OR_RETURN(const int32_t next, sampler.sample(ctx_.logits(0)));
    sampler.accept(next);
    ++stats.generated_tokens;
    if (tokenizer_.is_end_of_generation(next)) break;
    emit(detok.push(next));
    batch.clear();
    batch.add(next, pos++, 0, true);
    LANEWAY_TRY(ctx_.decode(batch));
    cached_.push_back(next);
  }
  if (!stopped) emit(detok.flush());
  if (!stopped && !pending.empty()) on_text(pending);
  stats.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();
  stats.generation_seconds = std::chrono::duration<double>(clock::now() - t1).count();
  return stats;
}

}  // namespace laneway::cli
