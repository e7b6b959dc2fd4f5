#include "backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "backend/cpu/vec.h"
#include "backend/cpu/weight_tiles.h"
#include "quant/quant.h"

namespace laneway {

CpuBackend::CpuBackend(int n_threads, CpuIsa isa) : pool_(n_threads), kernels_(&cpu_kernels(isa)) {}

CpuBackend::~CpuBackend() = default;

bool CpuBackend::supports_weight_type(GgmlType type) const { return quant_can_dequantize(type); }

std::string CpuBackend::describe() const {
  return fmt::format("cpu {}, {} threads", cpu_isa_name(isa()), pool_.n_threads());
}

void CpuBackend::reserve(int64_t max_width, int64_t max_tokens) {
  scratch_per_thread_ = scratch_floats_per_thread(max_width);
  scratch_.assign(scratch_per_thread_ * static_cast<size_t>(pool_.n_threads()), 0.0f);
  max_tokens_ = max_tokens;
  const auto values = static_cast<size_t>(max_tokens * ((max_width + kQ8Block - 1) / kQ8Block * kQ8Block));
  act_qs_.assign(values, 0);
  act_qu_.assign(values, 0);
  act_d_.assign(values / kQ8Block, 0.0f);
  act_s16_.assign(values / 16, 0);
}

namespace {
// What a setup's ops need of the CPU's scratch: the widest matmul input and
// the attention shape with the most per-thread floats.
struct CpuScratchShape {
  int64_t max_width = 1;
  size_t attention_floats = 0;
  // matmul_id's gather buffers: the widest expert input and output row.
  int64_t moe_in = 0;
  int64_t moe_out = 0;
};

CpuScratchShape scratch_shape(const BackendSetup& setup) {
  CpuScratchShape s;
  for (const Op& op : setup.ops) {
    if (op.kind == OpKind::matmul) {
      s.max_width = std::max(s.max_width, setup.activations[static_cast<size_t>(op.a)].width);
    } else if (op.kind == OpKind::matmul_id) {
      // From the activations (the planner sizes graphs without weights).
      const int64_t in = setup.activations[static_cast<size_t>(op.a)].width / (op.per_slot ? op.n_expert_used : 1);
      const int64_t out = setup.activations[static_cast<size_t>(op.dst)].width / op.n_expert_used;
      s.max_width = std::max(s.max_width, in);
      s.moe_in = std::max(s.moe_in, in);
      s.moe_out = std::max(s.moe_out, out);
    } else if (op.kind == OpKind::attention) {
      s.attention_floats = std::max(s.attention_floats, CpuBackend::attention_floats_per_thread(
                                                            op.attn.head_dim, op.attn.n_head / op.attn.n_head_kv));
    }
  }
  return s;
}

uint64_t activation_buffer_bytes(const BackendSetup& setup) {
  uint64_t total = 0;
  for (const ActivationDesc& a : setup.activations) {
    if (!a.host_output) total += static_cast<uint64_t>(a.width) * static_cast<uint64_t>(setup.max_tokens) * sizeof(float);
  }
  return total;
}
}  // namespace

uint64_t CpuBackend::compute_bytes(const BackendSetup& setup, int n_threads) {
  const CpuScratchShape s = scratch_shape(setup);
  return activation_buffer_bytes(setup) +
         static_cast<uint64_t>(n_threads) * (scratch_floats_per_thread(s.max_width) + s.attention_floats) * sizeof(float) +
         activation_bytes(s.max_width, setup.max_tokens) +
         static_cast<uint64_t>(setup.max_tokens) *
             (static_cast<uint64_t>(s.moe_in + s.moe_out) * sizeof(float) + (s.moe_in > 0 ? sizeof(int64_t) : 0));
}

uint64_t CpuBackend::compute_bytes() const {
  uint64_t total = (scratch_.size() + attn_scratch_.size() + act_d_.size() + moe_in_.size() + moe_out_.size()) *
                       sizeof(float) +
                   act_qs_.size() + act_qu_.size() + act_s16_.size() * sizeof(int16_t) +
                   moe_rows_.size() * sizeof(int64_t);
  for (const auto& a : acts_) total += a.size() * sizeof(float);
  return total;
}

Status CpuBackend::allocate(const BackendSetup& setup) {
  const CpuScratchShape s = scratch_shape(setup);
  reserve(s.max_width, setup.max_tokens);
  attn_scratch_per_thread_ = s.attention_floats;
  attn_scratch_.assign(attn_scratch_per_thread_ * static_cast<size_t>(pool_.n_threads()), 0.0f);
  // matmul_id's gather buffers: one expert's rows in and out, at most a row per token.
  const auto tokens = static_cast<size_t>(setup.max_tokens);
  moe_in_.assign(static_cast<size_t>(s.moe_in) * tokens, 0.0f);
  moe_out_.assign(static_cast<size_t>(s.moe_out) * tokens, 0.0f);
  moe_rows_.assign(s.moe_in > 0 ? tokens : 0, 0);
  acts_.clear();
  act_widths_.clear();
  for (const ActivationDesc& a : setup.activations) {
    acts_.emplace_back(a.host_output ? 0 : static_cast<size_t>(a.width * setup.max_tokens));
    act_widths_.push_back(a.width);
  }
  kv_desc_ = setup.kv;
  kv_ = PageBuffer();
  if (kv_desc_.n_layers() > 0) {
    LANEWAY_ASSIGN_OR_RETURN(k_row_bytes_, ggml_row_bytes(kv_desc_.type_k, static_cast<uint64_t>(kv_desc_.n_embd_k)));
    LANEWAY_ASSIGN_OR_RETURN(v_row_bytes_, ggml_row_bytes(kv_desc_.type_v, static_cast<uint64_t>(kv_desc_.n_embd_v)));
    LANEWAY_ASSIGN_OR_RETURN(const uint64_t bytes, kv_storage_bytes(kv_desc_));
    kv_layer_offset_.clear();
    uint64_t offset = 0;
    for (int32_t l = kv_desc_.layer_begin; l < kv_desc_.layer_end; ++l) {
      kv_layer_offset_.push_back(offset);
      offset += (k_row_bytes_ + v_row_bytes_) * static_cast<uint64_t>(kv_desc_.cells_per_seq(l) * kv_desc_.n_seq);
    }
    // Committed now: a context that does not fit fails here, never mid-generation.
    auto buf = PageBuffer::allocate(bytes, /*commit=*/true);
    if (!buf.is_ok()) {
      return out_of_memory_error("cannot allocate the KV cache: {} bytes ({:.2f} GiB) for {} cells: {}", bytes,
                                 double(bytes) / double(1ull << 30), kv_desc_.n_cells(), buf.status().message());
    }
    kv_ = std::move(buf).value();
    if (setup.lock_kv) LANEWAY_TRY(kv_.lock("the KV cache"));
  }
  return Status::ok();
}

uint8_t* CpuBackend::k_row(int64_t layer, int32_t seq, int64_t cell) {
  const auto per_seq = static_cast<uint64_t>(kv_desc_.cells_per_seq(layer));
  const uint64_t index = static_cast<uint64_t>(seq) * per_seq + static_cast<uint64_t>(cell);
  return kv_.data() + kv_layer_offset_[static_cast<size_t>(layer - kv_desc_.layer_begin)] + index * k_row_bytes_;
}

uint8_t* CpuBackend::v_row(int64_t layer, int32_t seq, int64_t cell) {
  const auto per_seq = static_cast<uint64_t>(kv_desc_.cells_per_seq(layer));
  const uint64_t cells = per_seq * static_cast<uint64_t>(kv_desc_.n_seq);
  const uint64_t index = static_cast<uint64_t>(seq) * per_seq + static_cast<uint64_t>(cell);
  return kv_.data() + kv_layer_offset_[static_cast<size_t>(layer - kv_desc_.layer_begin)] + k_row_bytes_ * cells +
         index * v_row_bytes_;
}

Status CpuBackend::copy_kv_cells(int32_t src_seq, int32_t dst_seq, int64_t n_cells) {
  if (src_seq == dst_seq || n_cells <= 0) return Status::ok();
  for (int32_t layer = kv_desc_.layer_begin; layer < kv_desc_.layer_end; ++layer) {
    const auto n = static_cast<size_t>(kv_desc_.ring(layer) ? kv_desc_.ring_cells : n_cells);  // a ring wholly
    std::memcpy(k_row(layer, dst_seq, 0), k_row(layer, src_seq, 0), n * k_row_bytes_);
    std::memcpy(v_row(layer, dst_seq, 0), v_row(layer, src_seq, 0), n * v_row_bytes_);
  }
  return Status::ok();
}

Status CpuBackend::read_activation(ActId id, int64_t n_rows, float* host) {
  const auto& a = acts_[static_cast<size_t>(id)];
  std::memcpy(host, a.data(), static_cast<size_t>(n_rows * act_widths_[static_cast<size_t>(id)]) * sizeof(float));
  return Status::ok();
}

Status CpuBackend::write_activation(ActId id, int64_t n_rows, const float* host) {
  auto& a = acts_[static_cast<size_t>(id)];
  std::memcpy(a.data(), host, static_cast<size_t>(n_rows * act_widths_[static_cast<size_t>(id)]) * sizeof(float));
  return Status::ok();
}

Status CpuBackend::run(std::span<const Op> ops, const PassInputs& in) {
  for (const Op& op : ops) {
    const int64_t n = op.rows == OpRows::tokens ? in.n_tokens : in.n_outputs;
    if (n == 0) continue;
    float* dst = nullptr;
    int64_t width = 0;
    if (op.dst != kNoAct) {
      width = act_widths_[static_cast<size_t>(op.dst)];
      dst = acts_[static_cast<size_t>(op.dst)].empty() ? in.logits : act(op.dst);
    }
    switch (op.kind) {
      case OpKind::get_rows: get_rows(*op.weight, in.tokens, n, dst); break;
      case OpKind::rms_norm: rms_norm(act(op.a), op.weight->f32(), n, width, op.eps, dst); break;
      case OpKind::matmul: matmul(*op.weight, act(op.a), n, dst); break;
      case OpKind::rope: rope(dst, n, op.n_heads, op.head_dim, op.rope_dim, op.neox, in.rope_cos_sin); break;
      case OpKind::store_kv: store_kv(op.layer, in.slots, n, act(op.a), act(op.b)); break;
      case OpKind::attention: attention(op.layer, in.cells, in.slots, n, op.attn, act(op.a), dst); break;
      case OpKind::swiglu: swiglu(act(op.a), act(op.b), n * width, dst); break;
      case OpKind::add: add(dst, act(op.a), n * width); break;
      case OpKind::add_bias: add_bias(dst, op.weight->f32(), n, width); break;
      case OpKind::scale: scale(dst, n * width, op.value); break;
      case OpKind::softcap: softcap(dst, n * width, op.value); break;
      case OpKind::geglu: geglu(act(op.a), act(op.b), n * width, dst); break;
      case OpKind::moe_route: moe_route(act(op.a), n, op.n_expert, op.n_expert_used, dst); break;
      case OpKind::matmul_id:
        matmul_id(*op.weight, op.n_expert, op.n_expert_used, act(op.a), op.per_slot, act(op.b), n, dst);
        break;
      case OpKind::moe_combine: moe_combine(act(op.a), act(op.b), n, op.n_expert_used, width, dst); break;
      case OpKind::gather_outputs: {
        const float* src = act(op.a);
        for (int64_t i = 0; i < n; ++i) std::copy_n(src + in.output_rows[i] * width, width, dst + i * width);
        break;
      }
    }
  }
  return Status::ok();
}

void CpuBackend::get_rows(const WeightView& table, const int32_t* ids, int64_t n, float* out) {
  for (int64_t t = 0; t < n; ++t) {
    dequantize_row(table.type, table.row(ids[t]), out + t * table.n_cols, table.n_cols);
  }
}

void CpuBackend::matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y) {
  if (!cpu_fast_shape(w.type, w.n_cols)) {
    matmul_generic(w, x, n_tokens, y);
    return;
  }
  // Activation buffers hold max_tokens rows: longer batches go in pieces
  // (every token's result is the same either way).
  for (int64_t t = 0; t < n_tokens; t += max_tokens_) {
    const int64_t n = std::min(max_tokens_, n_tokens - t);
    matmul_fast(w, x + t * w.n_cols, n, y + t * w.n_rows);
  }
}

void CpuBackend::matmul_fast(const WeightView& w, const float* x, int64_t n_tokens, float* y) {
  const int64_t n_cols = w.n_cols;
  const int64_t n_rows = w.n_rows;
  if (cpu_uses_q8_activations(w.type)) {
    pool_.parallel_for(n_tokens, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; ++t) {
        kernels_->quantize_acts(x + t * n_cols, n_cols, act_qs_.data() + t * n_cols, act_qu_.data() + t * n_cols,
                                act_d_.data() + t * (n_cols / kQ8Block), act_s16_.data() + t * (n_cols / 16));
      }
    });
  }
  const QuantActs acts{n_cols, act_qs_.data(), act_qu_.data(), act_d_.data(), act_s16_.data()};
  // Tiles of 16 rows (the widest vector's lanes, and the tiled layout's
  // unit); each thread takes a contiguous run of tiles and every token.
  constexpr int64_t kRowsPerTile = kWeightTileRows;
  pool_.parallel_for((n_rows + kRowsPerTile - 1) / kRowsPerTile, [&](int64_t tile_begin, int64_t tile_end, int thread) {
    MatmulRange m;
    m.type = w.type;
    m.w = w.data;
    m.row_bytes = w.row_bytes;
    m.tiled = w.tiled;
    m.r0 = tile_begin * kRowsPerTile;
    m.r1 = std::min(n_rows, tile_end * kRowsPerTile);
    m.t0 = 0;
    m.t1 = n_tokens;
    m.y = y;
    m.y_stride = n_rows;
    if (cpu_uses_q8_activations(w.type)) {
      kernels_->quant_matmul(m, acts, reinterpret_cast<uint8_t*>(thread_scratch(thread)));
    } else {
      kernels_->float_matmul(m, x, n_cols);
    }
  });
}

void CpuBackend::matmul_generic(const WeightView& w, const float* x, int64_t n_tokens, float* y) {
  const int64_t n_cols = w.n_cols;
  const int64_t n_rows = w.n_rows;
  const int64_t n_tiles = (n_rows + kTileRows - 1) / kTileRows;
  pool_.parallel_for(n_tiles, [&](int64_t tile_begin, int64_t tile_end, int thread) {
    float* tile = thread_scratch(thread);
    for (int64_t tile_i = tile_begin; tile_i < tile_end; ++tile_i) {
      const int64_t r0 = tile_i * kTileRows;
      const int64_t nr = std::min(kTileRows, n_rows - r0);
      const float* rows[kTileRows];
      for (int64_t r = 0; r < nr; ++r) {
        if (w.type == GgmlType::f32) {
          rows[r] = reinterpret_cast<const float*>(w.row(r0 + r));
        } else {
          dequantize_row(w.type, w.row(r0 + r), tile + r * n_cols, n_cols);
          rows[r] = tile + r * n_cols;
        }
      }
      for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xt = x + t * n_cols;
        float* yt = y + t * n_rows;
        for (int64_t r = 0; r < nr; ++r) yt[r0 + r] = cpu::dot_f32(rows[r], xt, n_cols);
      }
    }
  });
}

// The element-wise ops below split tokens (or elements) across threads;
// each value's arithmetic is the same whichever thread computes it.

void CpuBackend::rms_norm(const float* x, const float* weight, int64_t n_tokens, int64_t n, float eps, float* y) {
  auto norm = [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      const float* xt = x + t * n;
      float* yt = y + t * n;
      double sum = 0.0;
      for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(xt[i]) * static_cast<double>(xt[i]);
      const float scale = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(n)) + eps);
      for (int64_t i = 0; i < n; ++i) yt[i] = xt[i] * scale * weight[i];
    }
  };
  if (n_tokens == 1) return norm(0, 1, 0);
  pool_.parallel_for(n_tokens, norm);
}

void CpuBackend::rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rope_dim, bool neox,
                      const float* cos_sin) {
  const int64_t half = rope_dim / 2;
  auto rotate = [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      const float* cs = cos_sin + t * half * 2;
      for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + (t * n_heads + h) * head_dim;
        for (int64_t i = 0; i < half; ++i) {
          const float c = cs[2 * i];
          const float s = cs[2 * i + 1];
          const int64_t a = neox ? i : 2 * i;
          const int64_t b = neox ? i + half : 2 * i + 1;
          const float x0 = v[a];
          const float x1 = v[b];
          v[a] = x0 * c - x1 * s;
          v[b] = x0 * s + x1 * c;
        }
      }
    }
  };
  if (n_tokens == 1) return rotate(0, 1, 0);
  pool_.parallel_for(n_tokens, rotate);
}

void CpuBackend::swiglu(const float* gate, const float* up, int64_t n, float* out) {
  auto apply = [&](int64_t begin, int64_t end, int) {
    kernels_->swiglu(gate + begin, up + begin, end - begin, out + begin);
  };
  if (n < kParallelElements) return apply(0, n, 0);
  pool_.parallel_for(n, apply);
}

void CpuBackend::add(float* x, const float* y, int64_t n) {
  auto apply = [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) x[i] += y[i];
  };
  if (n < 8 * kParallelElements) return apply(0, n, 0);
  pool_.parallel_for(n, apply);
}

void CpuBackend::add_bias(float* x, const float* bias, int64_t n_tokens, int64_t width) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    float* xt = x + t * width;
    for (int64_t i = 0; i < width; ++i) xt[i] += bias[i];
  }
}

void CpuBackend::scale(float* x, int64_t n, float factor) {
  for (int64_t i = 0; i < n; ++i) x[i] *= factor;
}

void CpuBackend::softcap(float* x, int64_t n, float cap) {
  const float inv = 1.0f / cap;
  for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] * inv);
}

void CpuBackend::geglu(const float* gate, const float* up, int64_t n, float* out) {
  auto apply = [&](int64_t begin, int64_t end, int) {
    constexpr float kSqrt2OverPi = 0.79788456080286535588f;
    constexpr float kCubic = 0.044715f;
    for (int64_t i = begin; i < end; ++i) {
      const float g = gate[i];
      out[i] = 0.5f * g * (1.0f + std::tanh(kSqrt2OverPi * g * (1.0f + kCubic * g * g))) * up[i];
    }
  };
  if (n < kParallelElements) return apply(0, n, 0);
  pool_.parallel_for(n, apply);
}

void CpuBackend::moe_route(const float* logits, int64_t n_tokens, int64_t n_expert, int64_t n_used, float* route) {
  std::vector<int64_t>& order = moe_order_;  // kept between calls: no allocation per layer and step
  order.resize(static_cast<size_t>(n_expert));
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* l = logits + t * n_expert;
    float* r = route + t * 2 * n_used;
    for (int64_t e = 0; e < n_expert; ++e) order[static_cast<size_t>(e)] = e;
    // The n_used largest logits, largest first (the lower index first on ties).
    std::partial_sort(order.begin(), order.begin() + n_used, order.end(),
                      [&](int64_t a, int64_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
    const float top = l[order[0]];
    float sum = 0.0f;
    for (int64_t j = 0; j < n_used; ++j) {
      const int64_t e = order[static_cast<size_t>(j)];
      r[j] = static_cast<float>(e);
      r[n_used + j] = std::exp(l[e] - top);
      sum += r[n_used + j];
    }
    for (int64_t j = 0; j < n_used; ++j) r[n_used + j] /= sum;
  }
}

void CpuBackend::matmul_id(const WeightView& stacked, int64_t n_expert, int64_t n_used, const float* x,
                           bool per_slot, const float* route, int64_t n_tokens, float* y) {
  const int64_t n_cols = stacked.n_cols;
  const int64_t rows = stacked.n_rows / n_expert;
  // Called directly (tests), the gather buffers grow once.
  const auto need = static_cast<size_t>(n_tokens);
  if (moe_rows_.size() < need) moe_rows_.resize(need);
  if (moe_in_.size() < need * static_cast<size_t>(n_cols)) moe_in_.resize(need * static_cast<size_t>(n_cols));
  if (moe_out_.size() < need * static_cast<size_t>(rows)) moe_out_.resize(need * static_cast<size_t>(rows));
  for (int64_t e = 0; e < n_expert; ++e) {
    // The (token, slot) pairs routed to e: at most one slot per token.
    int64_t n = 0;
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* r = route + t * 2 * n_used;
      for (int64_t j = 0; j < n_used; ++j) {
        if (static_cast<int64_t>(r[j]) == e) moe_rows_[static_cast<size_t>(n++)] = t * n_used + j;
      }
    }
    if (n == 0) continue;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t pair = moe_rows_[static_cast<size_t>(i)];
      const float* src = x + (per_slot ? pair : pair / n_used) * n_cols;
      std::copy_n(src, n_cols, moe_in_.data() + i * n_cols);
    }
    WeightView expert = stacked;
    expert.data = stacked.data + static_cast<uint64_t>(e * rows) * stacked.row_bytes;
    expert.n_rows = rows;
    matmul(expert, moe_in_.data(), n, moe_out_.data());
    for (int64_t i = 0; i < n; ++i) {
      std::copy_n(moe_out_.data() + i * rows, rows, y + moe_rows_[static_cast<size_t>(i)] * rows);
    }
  }
}

void CpuBackend::moe_combine(const float* a, const float* route, int64_t n_tokens, int64_t n_used, int64_t width,
                             float* out) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* w = route + t * 2 * n_used + n_used;
    float* o = out + t * width;
    const float* at = a + t * n_used * width;
    for (int64_t i = 0; i < width; ++i) o[i] = w[0] * at[i];
    for (int64_t j = 1; j < n_used; ++j) {
      for (int64_t i = 0; i < width; ++i) o[i] += w[j] * at[j * width + i];
    }
  }
}

}  // namespace laneway
