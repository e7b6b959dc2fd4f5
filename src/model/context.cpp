#include "model/context.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include <fmt/format.h>

#include "backend/cpu/cpu_backend.h"
#include "model/rope.h"
#ifdef LANEWAY_HAVE_VULKAN
#include "backend/vulkan/vulkan_backend.h"
#endif

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

// The graph of a model that is not loaded (the planner): the ops reference
// `w`, weights with no tensors behind them, which only sizing reads.
void build_sizing_graph(const ModelHparams& hp, ModelWeights& w, ForwardGraph& g) {
  w.layers.resize(static_cast<size_t>(hp.n_layer));
  g = ForwardGraph(static_cast<int32_t>(hp.n_layer));
  if (auto arch = find_architecture(hp.architecture); arch.is_ok()) (*arch)->build_graph(hp, w, g);
}

KvCacheConfig kv_config(const ModelHparams& hp, const ContextOptions& o, const ForwardGraph& g) {
  KvCacheConfig kvc;
  kvc.layer_window.assign(static_cast<size_t>(hp.n_layer), 0);
  for (const Op& op : g.ops()) {
    if (op.kind == OpKind::attention && op.layer >= 0 && op.layer < hp.n_layer) {
      kvc.layer_window[static_cast<size_t>(op.layer)] = op.attn.window;
    }
  }
  kvc.n_batch = o.n_batch;
  kvc.full_windows = o.swa_full;
  kvc.n_layer = hp.n_layer;
  kvc.n_embd_k = hp.n_embd_kv();
  kvc.n_embd_v = hp.n_embd_kv();
  kvc.head_dim = hp.head_dim;
  kvc.n_ctx = o.n_ctx;
  kvc.n_seq = o.n_seq;
  kvc.type_k = o.type_k;
  kvc.type_v = o.type_v;
  return kvc;
}

// Positions the rings of sliding-window layers tag, over all sequences (0: no rings).
uint64_t ring_positions(const ModelHparams& hp, const ContextOptions& o, const ForwardGraph& g) {
  return static_cast<uint64_t>(kv_config(hp, o, g).ring_cells()) * static_cast<uint64_t>(o.n_seq);
}

// Whether an op runs on the GPU: blocks from first_gpu_layer on; the
// embedding goes with the first block and the output head with the last.
bool on_gpu(const Op& op, int64_t first_gpu_layer, int64_t n_layer) {
  const int64_t block = std::clamp<int64_t>(op.layer, 0, n_layer - 1);
  return block >= first_gpu_layer;
}

// Activations an op reads (in-place ops read their destination).
template <typename F>
void for_each_read(const Op& op, F&& f) {
  if (op.a != kNoAct) f(op.a);
  if (op.b != kNoAct) f(op.b);
  const bool in_place = op.kind == OpKind::rope || op.kind == OpKind::add || op.kind == OpKind::add_bias ||
                        op.kind == OpKind::scale || op.kind == OpKind::softcap;
  if (in_place) f(op.dst);
}

// The setup a backend allocates for the ops [begin, end) of the graph.
BackendSetup backend_setup(const ForwardGraph& g, size_t begin, size_t end, int64_t max_tokens, KvStorageDesc kv) {
  BackendSetup s;
  s.max_tokens = max_tokens;
  s.ops = std::span<const Op>(g.ops()).subspan(begin, end - begin);
  s.kv = kv;
  s.activations = g.activations();
  std::vector<bool> used(s.activations.size(), false);
  for (const Op& op : s.ops) {
    if (op.dst != kNoAct) used[static_cast<size_t>(op.dst)] = true;
    for_each_read(op, [&](ActId id) { used[static_cast<size_t>(id)] = true; });
  }
  for (size_t i = 0; i < used.size(); ++i) {
    if (!used[i]) s.activations[i].width = 0;
  }
  return s;
}

Result<std::unique_ptr<Backend>> make_gpu_backend(const Model& model) {
#ifdef LANEWAY_HAVE_VULKAN
  auto vk = VulkanBackend::create(model.device());
  if (!vk.is_ok()) {
    return vk.status().with_context(fmt::format("--gpu-layers {} --device {}",
                                                model.hparams().n_layer - model.first_gpu_layer(), model.device()));
  }
  return std::unique_ptr<Backend>(std::move(vk).value());
#else
  return unsupported_error(
      "--gpu-layers {}: this build has no GPU backend (built with -DLANEWAY_VULKAN=OFF); use --gpu-layers 0 "
      "(device \"{}\")",
      model.hparams().n_layer - model.first_gpu_layer(), model.device());
#endif
}
}  // namespace

Result<std::unique_ptr<ForwardContext>> ForwardContext::create(const Model& model, const ContextOptions& options) {
  const ModelHparams& hp = model.hparams();
  auto ctx = std::unique_ptr<ForwardContext>(new ForwardContext(model, options));
  ContextOptions& o = ctx->options_;
  if (o.n_ctx <= 0) o.n_ctx = hp.n_ctx_train > 0 ? hp.n_ctx_train : 2048;
  if (o.n_seq < 1) return invalid_argument_error("need at least one sequence, got {}", o.n_seq);
  if (o.n_batch < 1) return invalid_argument_error("batch size must be at least 1, got {}", o.n_batch);
  o.n_threads = resolve_n_threads(o.n_threads);
  ctx->graph_ = ForwardGraph(static_cast<int32_t>(hp.n_layer));
  model.arch().build_graph(hp, model.weights(), ctx->graph_);
  LANEWAY_ASSIGN_OR_RETURN(ctx->cells_, KvCells::create(kv_config(hp, o, ctx->graph_)));
  LANEWAY_TRY(ctx->place(hp));

  const auto b = static_cast<size_t>(o.n_batch);
  ctx->rope_cos_sin_.resize(b * static_cast<size_t>(hp.rope_dim));
  ctx->output_rows_.resize(b);

  const WeightView& factors = model.weights().rope_freqs;
  ctx->rope_ = rope_frequencies(
      hp, factors.present() ? std::span<const float>(factors.f32(), static_cast<size_t>(hp.rope_dim / 2))
                            : std::span<const float>());
  return ctx;
}

Status ForwardContext::place(const ModelHparams& hp) {
  const int64_t first_gpu = model_.first_gpu_layer();
  const std::vector<Op>& ops = graph_.ops();
  // Consecutive ops on the same device form a range, each with its own
  // backend (at most two: the CPU's blocks first, then the GPU's).
  std::vector<bool> range_on_gpu;
  for (size_t i = 0; i < ops.size(); ++i) {
    const bool gpu = on_gpu(ops[i], first_gpu, hp.n_layer);
    if (ranges_.empty() || range_on_gpu.back() != gpu) {
      ranges_.push_back({i, i, {}});
      range_on_gpu.push_back(gpu);
    }
    ranges_.back().op_end = i + 1;
  }
  // Weights the CPU reads (a tied output head on the GPU may be the CPU's
  // embedding table): their file pages stay when the GPU has its copy.
  std::vector<const uint8_t*> cpu_weights;
  for (const Op& op : ops) {
    if (op.weight != nullptr && !on_gpu(op, first_gpu, hp.n_layer)) cpu_weights.push_back(op.weight->data);
  }
  const KvCacheConfig& kvc = cells_.config();
  for (size_t r = 0; r < ranges_.size(); ++r) {
    Range& range = ranges_[r];
    if (range_on_gpu[r]) {
      LANEWAY_ASSIGN_OR_RETURN(auto gpu, options_.make_gpu_backend ? options_.make_gpu_backend() : make_gpu_backend(model_));
      backends_.push_back(std::move(gpu));
    } else {
      LANEWAY_ASSIGN_OR_RETURN(CpuIsa isa, select_cpu_isa());
      backends_.push_back(std::make_unique<CpuBackend>(options_.n_threads, isa));
    }
    const int32_t layer_begin = range_on_gpu[r] ? static_cast<int32_t>(first_gpu) : 0;
    const int32_t layer_end = range_on_gpu[r] ? static_cast<int32_t>(hp.n_layer) : static_cast<int32_t>(first_gpu);
    BackendSetup setup = backend_setup(graph_, range.op_begin, range.op_end, options_.n_batch,
                                       kv_storage_desc(kvc, layer_begin, layer_end));
    setup.lock_kv = options_.mlock;
    setup.weight_uploaded = [&](const WeightView& w) {
      if (std::find(cpu_weights.begin(), cpu_weights.end(), w.data) == cpu_weights.end()) model_.release_file_pages(w);
      if (options_.weight_uploaded) options_.weight_uploaded(w.size_bytes());
    };
    for (const Op& op : setup.ops) {
      if (op.weight != nullptr && op.weight->present() && !backends_.back()->supports_weight_type(op.weight->type)) {
        return unsupported_error("the {} backend cannot compute with {} weights", backends_.back()->name(),
                                 ggml_type_name(op.weight->type));
      }
    }
    LANEWAY_TRY(backends_.back()->allocate(setup));
  }
  options_.weight_uploaded = nullptr;  // a load's progress: not kept past the creation (it may point at the caller's state)

  // Hand-overs: what a range reads before writing it, last written by another range.
  std::vector<int> writer(graph_.activations().size(), -1);
  std::vector<OpRows> writer_rows(graph_.activations().size(), OpRows::tokens);
  size_t stage_floats = 0;
  for (size_t r = 0; r < ranges_.size(); ++r) {
    Range& range = ranges_[r];
    std::vector<bool> written_here(writer.size(), false);
    for (size_t i = range.op_begin; i < range.op_end; ++i) {
      const Op& op = ops[i];
      for_each_read(op, [&](ActId id) {
        const auto a = static_cast<size_t>(id);
        if (written_here[a] || writer[a] < 0) return;
        for (const Transfer& t : range.inputs) {
          if (t.act == id) return;
        }
        range.inputs.push_back({id, writer_rows[a], static_cast<size_t>(writer[a])});
        stage_floats = std::max(stage_floats, static_cast<size_t>(graph_.activations()[a].width * options_.n_batch));
      });
      if (op.dst != kNoAct) {
        const auto a = static_cast<size_t>(op.dst);
        written_here[a] = true;
        writer[a] = static_cast<int>(r);
        writer_rows[a] = op.rows;
      }
    }
  }
  stage_.resize(stage_floats);
  return Status::ok();
}

ForwardContext::~ForwardContext() = default;

uint64_t ForwardContext::compute_bytes(const ModelHparams& hp, const ContextOptions& o, int64_t n_outputs) {
  ModelWeights w;
  ForwardGraph g;
  build_sizing_graph(hp, w, g);
  const BackendSetup setup = backend_setup(g, 0, g.ops().size(), o.n_batch, {});
  const uint64_t backend = CpuBackend::compute_bytes(setup, resolve_n_threads(o.n_threads));
  const auto b = static_cast<uint64_t>(o.n_batch);
  // The context's host buffers: rope table, slots, output rows, cell positions, logits.
  const uint64_t inputs = b * (static_cast<uint64_t>(hp.rope_dim) * sizeof(float) + sizeof(TokenSlot) + sizeof(int32_t));
  const uint64_t positions = (static_cast<uint64_t>(o.n_ctx) + ring_positions(hp, o, g)) * sizeof(int64_t);
  const uint64_t logits = static_cast<uint64_t>(n_outputs) * static_cast<uint64_t>(hp.n_vocab) * sizeof(float);
  return backend + inputs + positions + logits;
}

KvCacheConfig ForwardContext::kv_cache_config(const ModelHparams& hp, const ContextOptions& o) {
  ModelWeights w;
  ForwardGraph g;
  build_sizing_graph(hp, w, g);
  return kv_config(hp, o, g);
}

uint64_t ForwardContext::device_compute_bytes(const ModelHparams& hp, const ContextOptions& o) {
  ModelWeights w;
  ForwardGraph g;
  build_sizing_graph(hp, w, g);
  const auto b = static_cast<uint64_t>(o.n_batch);
  uint64_t total = 0;
  for (const ActivationDesc& a : g.activations()) total += static_cast<uint64_t>(a.width) * b * sizeof(float);
  // tokens, slots (4 x int32), rope table, output rows; a position per cell
  // and per ring cell, a count per sequence.
  total += b * (4 + 16 + static_cast<uint64_t>(hp.rope_dim) * sizeof(float) + 4);
  total += (static_cast<uint64_t>(o.n_ctx) + ring_positions(hp, o, g)) * 4 + static_cast<uint64_t>(o.n_seq) * 4;
  return total;
}

uint64_t ForwardContext::kv_bytes() const {
  uint64_t total = 0;
  for (const auto& b : backends_) total += b->kv_bytes();
  return total;
}

Status ForwardContext::copy_sequence(int32_t src, int32_t dst) {
  if (src < 0 || src >= options_.n_seq || dst < 0 || dst >= options_.n_seq) {
    return invalid_argument_error("sequences {} and {} must be in 0..{}", src, dst, options_.n_seq - 1);
  }
  for (const auto& b : backends_) LANEWAY_TRY(b->copy_kv_cells(src, dst, cells_.used(src)));
  cells_.copy(src, dst);
  return Status::ok();
}

std::string ForwardContext::describe_devices() const {
  std::string out;
  for (const auto& b : backends_) out += (out.empty() ? "" : " + ") + b->describe();
  return out;
}

std::string ForwardContext::describe_placement() const {
  std::string out;
  for (size_t i = 0; i < ranges_.size(); ++i) {
    const Range& r = ranges_[i];
    const Op& first = graph_.ops()[r.op_begin];
    const Op& last = graph_.ops()[r.op_end - 1];
    out += fmt::format("{}: ops {}..{} (layers {}..{})", backends_[i]->name(), r.op_begin, r.op_end - 1,
                       first.layer, last.layer);
    for (const Transfer& t : r.inputs) out += " <- " + graph_.activations()[static_cast<size_t>(t.act)].name;
    out += "\n";
  }
  return out;
}

void ForwardContext::compute_rope(const TokenSlot* slots, int64_t n_tokens) {
  const auto pair_floats = static_cast<int64_t>(rope_.inv_freq.size()) * 2;
  for (int64_t t = 0; t < n_tokens; ++t) rope_cos_sin(rope_, slots[t].pos, rope_cos_sin_.data() + t * pair_floats);
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
  std::vector<int64_t> chunk_of(static_cast<size_t>(options_.n_seq), -1), chunk_first(chunk_of.size(), 0);
  for (int32_t s = 0; s < options_.n_seq; ++s) {
    const int64_t used = cells_.used(s);
    if (used > 0) last_pos[static_cast<size_t>(s)] = cells_.pos(s, used - 1);
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
    if (cells_.ring_cells() > 0) {
      // A ring holds a window and a chunk of consecutive positions: a
      // sequence's positions in one chunk may not spread wider than that.
      const int64_t chunk = i / options_.n_batch;
      if (chunk_of[static_cast<size_t>(seq)] != chunk) {
        chunk_of[static_cast<size_t>(seq)] = chunk;
        chunk_first[static_cast<size_t>(seq)] = pos;
      }
      if (pos - chunk_first[static_cast<size_t>(seq)] > cells_.ring_cells() - cells_.max_window()) {
        return invalid_argument_error(
            "positions {} to {} of sequence {} in one pass of {} tokens spread wider than its sliding-window "
            "ring of {} cells allows (feed them in order, or use --swa-full)",
            chunk_first[static_cast<size_t>(seq)], pos, seq, options_.n_batch, cells_.ring_cells());
      }
    }
    if (++need[static_cast<size_t>(seq)] + cells_.used(seq) > cells_.context_tokens()) {
      return resource_exhausted_error("sequence {} needs more than its {} cells of context", seq,
                                      cells_.context_tokens());
    }
    if (batch.want_logits[static_cast<size_t>(i)]) ++n_out;
  }

  slots_.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int32_t seq = batch.seq_ids[static_cast<size_t>(i)];
    const int64_t pos = batch.positions[static_cast<size_t>(i)];
    auto cell = cells_.append(seq, pos);  // cannot fail: capacity checked above
    slots_[static_cast<size_t>(i)] = {seq, *cell, pos};
  }
  const size_t logits_size = static_cast<size_t>(n_out) * static_cast<size_t>(hp.n_vocab);
  if (logits_.size() < logits_size) logits_.resize(logits_size);
  n_outputs_ = n_out;

  int64_t out_offset = 0;
  for (int64_t begin = 0; begin < n; begin += options_.n_batch) {
    const int64_t end = std::min<int64_t>(n, begin + options_.n_batch);
    PassInputs in;
    in.tokens = batch.tokens.data() + begin;
    in.slots = slots_.data() + begin;
    in.n_tokens = end - begin;
    for (int64_t i = begin; i < end; ++i) {
      if (batch.want_logits[static_cast<size_t>(i)]) output_rows_[static_cast<size_t>(in.n_outputs++)] = static_cast<int32_t>(i - begin);
    }
    in.output_rows = output_rows_.data();
    if (cells_.ring_cells() > 0) {  // tagged per chunk: a ring holds a window and one chunk
      for (int64_t i = begin; i < end; ++i) {
        TokenSlot& slot = slots_[static_cast<size_t>(i)];
        slot.ring_cell = cells_.place_in_ring(slot.seq, slot.pos);
      }
    }
    compute_rope(in.slots, in.n_tokens);
    in.rope_cos_sin = rope_cos_sin_.data();
    in.rope_pairs = hp.rope_dim / 2;
    in.cells = cells_.view();
    in.logits = logits_.data() + static_cast<size_t>(out_offset) * static_cast<size_t>(hp.n_vocab);
    Status st = run_chunk(in);
    if (!st.is_ok()) {
      n_outputs_ = 0;
      if (cells_.ring_cells() == 0) {
        for (int32_t s = 0; s < options_.n_seq; ++s) cells_.truncate(s, need[static_cast<size_t>(s)]);
        return st;
      }
      // The chunks written so far overwrote ring cells that the window of
      // the old end still needed: the batch's sequences start again.
      for (int32_t s = 0; s < options_.n_seq; ++s) {
        if (need[static_cast<size_t>(s)] > 0) cells_.clear(s);
      }
      return st.with_context("the KV cache of the batch's sequences was cleared (sliding-window rings)");
    }
    out_offset += in.n_outputs;
  }
  return Status::ok();
}

Status ForwardContext::run_chunk(const PassInputs& in) {
  for (size_t i = 0; i < ranges_.size(); ++i) {
    const Range& r = ranges_[i];
    Backend& be = *backends_[i];
    for (const Transfer& t : r.inputs) {
      const int64_t rows = t.rows == OpRows::tokens ? in.n_tokens : in.n_outputs;
      LANEWAY_TRY(backends_[t.from]->read_activation(t.act, rows, stage_.data()));
      LANEWAY_TRY(be.write_activation(t.act, rows, stage_.data()));
    }
    LANEWAY_TRY(be.run(std::span<const Op>(graph_.ops()).subspan(r.op_begin, r.op_end - r.op_begin), in));
  }
  return Status::ok();
}

}  // namespace laneway
