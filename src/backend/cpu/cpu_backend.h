// CpuBackend: the reference backend. Generic path for every weight type:
// dequantize a tile of weight rows to f32, then multiply. Work is split
// across threads by output rows (never by the summed dimension) and
// attention reduces over keys in fixed blocks of cells, so results do not
// depend on batch composition or thread count.
#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/kernels.h"
#include "core/thread_pool.h"

namespace laneway {

class CpuBackend final : public Backend {
 public:
  // max_width: the widest activation row; max_tokens: the most tokens per
  // op (buffers are sized once, here). isa picks the kernels.
  CpuBackend(int n_threads, int64_t max_width, int64_t max_tokens, CpuIsa isa);
  ~CpuBackend() override;

  std::string_view name() const override { return "cpu"; }
  bool supports_weight_type(GgmlType type) const override;

  void get_rows(const WeightMatrix& table, const int32_t* ids, int64_t n, float* out) override;
  void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y) override;
  void rms_norm(const float* x, const float* weight, int64_t n_tokens, int64_t n, float eps, float* y) override;
  void rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rope_dim, bool neox,
            const float* cos_sin) override;
  void store_kv(KvCache& kv, int64_t layer, const TokenSlot* slots, int64_t n_tokens, const float* k,
                const float* v) override;
  void attention(const KvCache& kv, int64_t layer, const TokenSlot* slots, int64_t n_tokens,
                 const AttentionShape& shape, const float* q, float* out) override;
  void swiglu(const float* gate, const float* up, int64_t n, float* out) override;
  void add(float* x, const float* y, int64_t n) override;

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
  void matmul_generic(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y);
  void matmul_fast(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y);

  ThreadPool pool_;
  int64_t max_width_;
  size_t scratch_per_thread_;
  std::vector<float> scratch_;
  // Attention's per-thread buffers (sized by the head shape, on first use).
  std::vector<float> attn_scratch_;
  size_t attn_scratch_per_thread_ = 0;
  const CpuKernels* kernels_;
  // Quantized activations: QuantActs planes for up to max_tokens rows.
  std::vector<int8_t> act_qs_;
  std::vector<uint8_t> act_qu_;
  std::vector<float> act_d_;
  std::vector<int16_t> act_s16_;
  int64_t max_tokens_;
};

}  // namespace laneway
