// CpuBackend: the reference backend. Runs a graph range op by op on host
// buffers. Generic path for every weight type: dequantize a tile of weight
// rows to f32, then multiply; tiled fast kernels for the common types. Work is split
// across threads by output rows (never by the summed dimension) and
// attention reduces over keys in fixed blocks of cells, so results do not
// depend on batch composition or thread count.
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/kernels.h"
#include "core/page_buffer.h"
#include "core/thread_pool.h"

namespace laneway {

class CpuBackend final : public Backend {
 public:
  // isa picks the kernels. Buffers are sized by allocate() (a context) or
  // reserve() (tests and benchmarks calling the ops directly).
  CpuBackend(int n_threads, CpuIsa isa);
  ~CpuBackend() override;

  // --- Backend ----------------------------------------------------------------
  std::string_view name() const override { return "cpu"; }
  std::string describe() const override;
  bool supports_weight_type(GgmlType type) const override;
  Status allocate(const BackendSetup& setup) override;
  Status run(std::span<const Op> ops, const PassInputs& in) override;
  Status read_activation(ActId act, int64_t n_rows, float* host) override;
  Status write_activation(ActId act, int64_t n_rows, const float* host) override;
  Status copy_kv_cells(int32_t src_seq, int32_t dst_seq, int64_t n_cells) override;
  uint64_t kv_bytes() const override { return kv_.size_bytes(); }
  uint64_t compute_bytes() const override;

  // Bytes allocate() takes for this setup and thread count, besides the KV
  // rows (the planner's figure; the same arithmetic as allocate()).
  static uint64_t compute_bytes(const BackendSetup& setup, int n_threads);

  // --- the ops on host rows (the reference other backends are tested against) --
  // Sizes the scratch for rows up to max_width wide and max_tokens per op.
  void reserve(int64_t max_width, int64_t max_tokens);
  // out[t] = row ids[t] of `table` as f32. out: [n][table.n_cols].
  void get_rows(const WeightView& table, const int32_t* ids, int64_t n, float* out);
  // y[t][r] = sum_c w[r][c] * x[t][c]. x: [n_tokens][w.n_cols], y: [n_tokens][w.n_rows].
  void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y);
  // y[t] = x[t] / rms(x[t]) * weight. x, y: [n_tokens][n].
  void rms_norm(const float* x, const float* weight, int64_t n_tokens, int64_t n, float eps, float* y);
  // Rotates the first rope_dim dims of each head. x: [n_tokens][n_heads * head_dim];
  // cos_sin: [n_tokens][rope_dim / 2][2] (cos, sin) per token.
  void rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rope_dim, bool neox,
            const float* cos_sin);
  // Writes each token's K and V rows into its cell of `layer` (converted to the cache types).
  void store_kv(int64_t layer, const TokenSlot* slots, int64_t n_tokens, const float* k, const float* v);
  // out[t] = softmax(q[t] K^T * scale) V over the cells of t's sequence with
  // pos <= t's pos (and within the shape's window; scores soft-capped when
  // the shape says so). q, out: [n_tokens][n_head * head_dim].
  void attention(int64_t layer, const KvCellsView& cells, const TokenSlot* slots, int64_t n_tokens,
                 const AttentionShape& shape, const float* q, float* out);
  // out = silu(gate) * up, elementwise over n values.
  void swiglu(const float* gate, const float* up, int64_t n, float* out);
  // x += y, elementwise over n values.
  void add(float* x, const float* y, int64_t n);
  // x[t] += bias for each of n_tokens rows of width values.
  void add_bias(float* x, const float* bias, int64_t n_tokens, int64_t width);
  // x *= factor, elementwise over n values.
  void scale(float* x, int64_t n, float factor);
  // x = cap * tanh(x / cap), elementwise over n values.
  void softcap(float* x, int64_t n, float cap);
  // out = gelu(gate) * up (tanh approximation), elementwise over n values.
  void geglu(const float* gate, const float* up, int64_t n, float* out);
  // Routes of n_tokens tokens (graph.h's moe_route): logits [n_tokens][n_expert],
  // route [n_tokens][2 * n_used].
  void moe_route(const float* logits, int64_t n_tokens, int64_t n_expert, int64_t n_used, float* route);
  // graph.h's matmul_id: stacked holds n_expert matrices; x is [n_tokens][n_cols],
  // or [n_tokens][n_used][n_cols] when per_slot; y is [n_tokens][n_used][stacked.n_rows
  // / n_expert]. Tokens are grouped by expert, so each expert's rows are read once per call.
  void matmul_id(const WeightView& stacked, int64_t n_expert, int64_t n_used, const float* x, bool per_slot,
                 const float* route, int64_t n_tokens, float* y);
  // out[t] = sum over j in order of weight_j * a[t][j]; a: [n_tokens][n_used][width].
  void moe_combine(const float* a, const float* route, int64_t n_tokens, int64_t n_used, int64_t width, float* out);

  ThreadPool& pool() { return pool_; }
  CpuIsa isa() const { return kernels_->isa; }
  // Bytes of quantized activations (QuantActs planes) kept for up to max_tokens rows.
  static uint64_t activation_bytes(int64_t max_width, int64_t max_tokens) {
    const auto w = static_cast<uint64_t>((max_width + kQ8Block - 1) / kQ8Block * kQ8Block);
    return static_cast<uint64_t>(max_tokens) * (2 * w + w / kQ8Block * sizeof(float) + w / 16 * sizeof(int16_t));
  }
  // Scratch each thread needs for rows up to max_width wide (floats; the
  // quantized matmul's transposed tile shares it).
  static size_t scratch_floats_per_thread(int64_t max_width) {
    const auto generic = static_cast<size_t>(kTileRows * max_width);
    const auto quant = static_cast<size_t>((quant_matmul_scratch_bytes(max_width) + 3) / 4);
    return std::max(generic, quant);
  }

  // Attention's buffers per thread: a block's K and V rows, then per query
  // head sharing a KV head its accumulator, block of scores, max, sum and
  // block max.
  static size_t attention_floats_per_thread(int64_t head_dim, int64_t n_gqa) {
    return static_cast<size_t>(2 * kAttentionBlock * head_dim + n_gqa * (head_dim + kAttentionBlock + 3));
  }

  // Weight rows dequantized together before multiplying (a tile).
  static constexpr int64_t kTileRows = 4;
  // Element-wise ops on fewer elements than this stay on the calling thread.
  static constexpr int64_t kParallelElements = 2048;
  // Keys per attention reduction block.
  static constexpr int64_t kAttentionBlock = 32;

 private:
  float* thread_scratch(int thread) { return scratch_.data() + static_cast<size_t>(thread) * scratch_per_thread_; }
  void matmul_generic(const WeightView& w, const float* x, int64_t n_tokens, float* y);
  void matmul_fast(const WeightView& w, const float* x, int64_t n_tokens, float* y);
  float* act(ActId id) { return acts_[static_cast<size_t>(id)].data(); }
  uint8_t* k_row(int64_t layer, int32_t seq, int64_t cell);
  uint8_t* v_row(int64_t layer, int32_t seq, int64_t cell);

  ThreadPool pool_;
  const CpuKernels* kernels_;
  size_t scratch_per_thread_ = 0;
  std::vector<float> scratch_;
  // Attention's per-thread buffers (sized by the head shape, on first use).
  std::vector<float> attn_scratch_;
  size_t attn_scratch_per_thread_ = 0;
  // Quantized activations: QuantActs planes for up to max_tokens rows.
  std::vector<int8_t> act_qs_;
  std::vector<uint8_t> act_qu_;
  std::vector<float> act_d_;
  std::vector<int16_t> act_s16_;
  int64_t max_tokens_ = 0;
  // matmul_id: one expert's gathered inputs and outputs, and which (token, slot) each row is.
  std::vector<float> moe_in_;
  std::vector<float> moe_out_;
  std::vector<int64_t> moe_rows_;
  std::vector<int64_t> moe_order_;  // moe_route's ranking of one token's experts
  // The graph's activation buffers ([max_tokens][width] each; empty where unused).
  std::vector<std::vector<float>> acts_;
  std::vector<int64_t> act_widths_;
  // KV rows of layers [kv_desc_.layer_begin, layer_end): per layer all K rows, then all V rows
  // (cells_per_seq of the layer for each sequence: a ring layer's are fewer).
  KvStorageDesc kv_desc_;
  PageBuffer kv_;
  uint64_t k_row_bytes_ = 0;
  uint64_t v_row_bytes_ = 0;
  std::vector<uint64_t> kv_layer_offset_;  // [layer - layer_begin]: where its K rows start in kv_
};

}  // namespace laneway
