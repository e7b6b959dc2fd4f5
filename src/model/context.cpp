#include "model/context.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "backend/cpu/cpu_backend.h"

namespace laneway {

void ForwardBatch::clear() {
  tokens.clear();
  positions.clear();
  seq_ids.clear();
  want_logits.clear();
}

void ForwardBatch::add(int32_t token, int64_t pos, int32_t seq, bool logits) {
  tokens.push_back(token);
  positions.push_back(pos);
  seq_ids.push_back(seq);
  want_logits.push_back(logits ? 1 : 0);
}

namespace {
// 0 threads means every hardware thread.
int resolve_n_threads(int n) { return n > 0 ? n : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }
}  // namespace

Result<std::unique_ptr<ForwardContext>> ForwardContext::create(const Model& model, const ContextOptions& options) {
  const ModelHparams& hp = model.hparams();
  auto ctx = std::unique_ptr<ForwardContext>(new ForwardContext(model, options));
  ContextOptions& o = ctx->options_;
  if (o.n_ctx <= 0) o.n_ctx = hp.n_ctx_train > 0 ? hp.n_ctx_train : 2048;
  if (o.n_seq < 1) return invalid_argument_error("need at least one sequence, got {}", o.n_seq);
  if (o.n_batch < 1) return invalid_argument_error("batch size must be at least 1, got {}", o.n_batch);
  o.n_threads = resolve_n_threads(o.n_threads);

  KvCacheConfig kvc;
  kvc.n_layer = hp.n_layer;
  kvc.n_embd_k = hp.n_embd_kv();
  kvc.n_embd_v = hp.n_embd_kv();
  kvc.head_dim = hp.head_dim;
  kvc.n_ctx = o.n_ctx;
  kvc.n_seq = o.n_seq;
  kvc.type_k = o.type_k;
  kvc.type_v = o.type_v;
  LANEWAY_ASSIGN_OR_RETURN(ctx->kv_, KvCache::create(kvc));

  const int64_t max_width = std::max({hp.n_embd, hp.n_embd_q(), hp.n_ff});
  LANEWAY_ASSIGN_OR_RETURN(CpuIsa isa, select_cpu_isa());
  ctx->backends_.push_back(std::make_unique<CpuBackend>(o.n_threads, max_width, o.n_batch, isa));
  ctx->layer_backends_.assign(static_cast<size_t>(hp.n_layer), ctx->backends_.front().get());

  const auto b = static_cast<size_t>(o.n_batch);
  Scratch& s = ctx->scratch_;
  s.x.resize(b * static_cast<size_t>(hp.n_embd));
  s.h.resize(b * static_cast<size_t>(hp.n_embd));
  s.q.resize(b * static_cast<size_t>(hp.n_embd_q()));
  s.k.resize(b * static_cast<size_t>(hp.n_embd_kv()));
  s.v.resize(b * static_cast<size_t>(hp.n_embd_kv()));
  s.attn.resize(b * static_cast<size_t>(hp.n_embd_q()));
  s.gate.resize(b * static_cast<size_t>(hp.n_ff));
  s.up.resize(b * static_cast<size_t>(hp.n_ff));
  s.out_rows.resize(b * static_cast<size_t>(hp.n_embd));
  s.rope_cos_sin.resize(b * static_cast<size_t>(hp.rope_dim));
  s.out_index.reserve(b);

  // Rotation frequencies, in double so that positions in the millions keep
  // their angles accurate (float32 angles drift by tenths of a radian there).
  const int64_t half = hp.rope_dim / 2;
  ctx->rope_inv_freq_.resize(static_cast<size_t>(half));
  const float* factors = model.weights().rope_freqs;
  for (int64_t i = 0; i < half; ++i) {
    double f = std::pow(hp.rope_freq_base, -2.0 * static_cast<double>(i) / static_cast<double>(hp.rope_dim));
    if (factors != nullptr) f /= static_cast<double>(factors[i]);
    ctx->rope_inv_freq_[static_cast<size_t>(i)] = f * hp.rope_freq_scale;
  }
  return ctx;
}

ForwardContext::~ForwardContext() = default;

uint64_t ForwardContext::compute_bytes(const ModelHparams& hp, const ContextOptions& o, int64_t n_outputs) {
  const auto b = static_cast<uint64_t>(o.n_batch);
  // x, h, out_rows: n_embd; q, attn: n_embd_q; k, v: n_embd_kv; gate, up: n_ff; rope table: rope_dim.
  const uint64_t per_token = 3 * static_cast<uint64_t>(hp.n_embd) + 2 * static_cast<uint64_t>(hp.n_embd_q()) +
                             2 * static_cast<uint64_t>(hp.n_embd_kv()) + 2 * static_cast<uint64_t>(hp.n_ff) +
                             static_cast<uint64_t>(hp.rope_dim);
  const uint64_t activations = b * per_token * sizeof(float) + b * (sizeof(TokenSlot) + sizeof(int32_t));
  const int n_threads = resolve_n_threads(o.n_threads);
  const int64_t max_width = std::max({hp.n_embd, hp.n_embd_q(), hp.n_ff});
  const uint64_t backend =
      static_cast<uint64_t>(n_threads) *
          (CpuBackend::scratch_floats_per_thread(max_width) +
           CpuBackend::attention_floats_per_thread(hp.head_dim, hp.n_gqa())) *
          sizeof(float) +
      CpuBackend::activation_bytes(max_width, o.n_batch);
  const uint64_t positions = static_cast<uint64_t>(o.n_ctx) * sizeof(int64_t);
  const uint64_t logits = static_cast<uint64_t>(n_outputs) * static_cast<uint64_t>(hp.n_vocab) * sizeof(float);
  return activations + backend + positions + logits;
}

void ForwardContext::compute_rope(const TokenSlot* slots, int64_t n_tokens) {
  const int64_t half = static_cast<int64_t>(rope_inv_freq_.size());
  float* out = scratch_.rope_cos_sin.data();
  for (int64_t t = 0; t < n_tokens; ++t) {
    const double pos = static_cast<double>(slots[t].pos);
    for (int64_t i = 0; i < half; ++i) {
      const double theta = pos * rope_inv_freq_[static_cast<size_t>(i)];
      out[(t * half + i) * 2] = static_cast<float>(std::cos(theta));
      out[(t * half + i) * 2 + 1] = static_cast<float>(std::sin(theta));
    }
  }
}

std::span<const float> ForwardContext::logits(int64_t i) const {
  const auto n_vocab = static_cast<size_t>(model_.hparams().n_vocab);
  return {logits_.data() + static_cast<size_t>(i) * n_vocab, n_vocab};
}

Status ForwardContext::decode(const ForwardBatch& batch) {
  const ModelHparams& hp = model_.hparams();
  const int64_t n = batch.size();
  if (n == 0) return invalid_argument_error("empty batch");
  if (batch.positions.size() != static_cast<size_t>(n) || batch.seq_ids.size() != static_cast<size_t>(n) ||
      batch.want_logits.size() != static_cast<size_t>(n)) {
    return invalid_argument_error("batch arrays have different lengths");
  }
  // Validate everything before touching the cache.
  std::vector<int64_t> need(static_cast<size_t>(options_.n_seq), 0);
  std::vector<int64_t> last_pos(static_cast<size_t>(options_.n_seq), -1);
  for (int32_t s = 0; s < options_.n_seq; ++s) {
    const int64_t used = kv_.used(s);
    if (used > 0) last_pos[static_cast<size_t>(s)] = kv_.pos(s, used - 1);
  }
  int64_t n_out = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t tok = batch.tokens[static_cast<size_t>(i)];
    const int32_t seq = batch.seq_ids[static_cast<size_t>(i)];
    const int64_t pos = batch.positions[static_cast<size_t>(i)];
    if (tok < 0 || tok >= hp.n_vocab) {
      return invalid_argument_error("token id {} at batch index {} is outside the vocabulary (0..{})", tok, i,
                                    hp.n_vocab - 1);
    }
    if (seq < 0 || seq >= options_.n_seq) {
      return invalid_argument_error("sequence id {} at batch index {} is out of range (0..{})", seq, i,
                                    options_.n_seq - 1);
    }
    auto& last = last_pos[static_cast<size_t>(seq)];
    if (pos <= last) {
      return invalid_argument_error("position {} of sequence {} at batch index {} does not follow position {}", pos,
                                    seq, i, last);
    }
    last = pos;
    if (++need[static_cast<size_t>(seq)] + kv_.used(seq) > kv_.cells_per_seq()) {
      return resource_exhausted_error("sequence {} needs more than its {} cells of context", seq,
                                      kv_.cells_per_seq());
    }
    if (batch.want_logits[static_cast<size_t>(i)]) ++n_out;
  }

  auto& slots = scratch_.slots;
  slots.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int32_t seq = batch.seq_ids[static_cast<size_t>(i)];
    const int64_t pos = batch.positions[static_cast<size_t>(i)];
    auto cell = kv_.append(seq, pos);  // cannot fail: capacity checked above
    slots[static_cast<size_t>(i)] = {seq, *cell, pos};
  }
  const size_t logits_size = static_cast<size_t>(n_out) * static_cast<size_t>(hp.n_vocab);
  if (logits_.size() < logits_size) logits_.resize(logits_size);
  n_outputs_ = n_out;

  int64_t out_offset = 0;
  for (int64_t begin = 0; begin < n; begin += options_.n_batch) {
    const int64_t end = std::min<int64_t>(n, begin + options_.n_batch);
    ForwardChunk chunk;
    chunk.tokens = batch.tokens.data() + begin;
    chunk.want_logits = batch.want_logits.data() + begin;
    chunk.slots = slots.data() + begin;
    chunk.n_tokens = end - begin;
    chunk.logits = logits_.data() + static_cast<size_t>(out_offset) * static_cast<size_t>(hp.n_vocab);
    Status st = model_.arch().forward(*this, chunk);
    if (!st.is_ok()) {
      for (int32_t s = 0; s < options_.n_seq; ++s) kv_.truncate(s, need[static_cast<size_t>(s)]);
      n_outputs_ = 0;
      return st;
    }
    for (int64_t i = begin; i < end; ++i) out_offset += batch.want_logits[static_cast<size_t>(i)];
  }
  return Status::ok();
}

}  // namespace laneway
