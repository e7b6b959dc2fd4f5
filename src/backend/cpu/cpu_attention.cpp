// KV cache writes and attention for the CPU backend.
//
// Attention for one (token, head) walks the token's sequence cells in
// blocks of kAttentionBlock cells, aligned to the start of the sequence,
// with an online softmax: each block's scores, its max, then a rescale of
// the running sum and accumulator. Cells with a position after the token's
// are skipped outright (not added as zeros), so a token sees the same
// arithmetic whether later tokens are already in the cache or not.
#include <algorithm>
#include <cmath>
#include <limits>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/vec.h"
#include "kv/kv_cache.h"
#include "quant/quant.h"

namespace laneway {

void CpuBackend::store_kv(KvCache& kv, int64_t layer, const TokenSlot* slots, int64_t n_tokens, const float* k,
                          const float* v) {
  const KvCacheConfig& c = kv.config();
  pool_.parallel_for(n_tokens, [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      const TokenSlot& s = slots[t];
      quantize_row(c.type_k, k + t * c.n_embd_k, kv.k_row(layer, s.seq, s.cell), c.n_embd_k);
      quantize_row(c.type_v, v + t * c.n_embd_v, kv.v_row(layer, s.seq, s.cell), c.n_embd_v);
    }
  });
}

void CpuBackend::attention(const KvCache& kv, int64_t layer, const TokenSlot* slots, int64_t n_tokens,
                           const AttentionShape& shape, const float* q, float* out) {
  const KvCacheConfig& c = kv.config();
  const int64_t hd = shape.head_dim;
  const int64_t n_gqa = shape.n_head / shape.n_head_kv;
  const uint64_t k_head_bytes = *ggml_row_bytes(c.type_k, static_cast<uint64_t>(hd));
  const uint64_t v_head_bytes = *ggml_row_bytes(c.type_v, static_cast<uint64_t>(hd));
  const int64_t n_items = n_tokens * shape.n_head;
  // f16 rows convert with the ISA's kernel; quantized rows dequantize.
  const CpuKernels* kernels = kernels_;
  auto load_head = [&](GgmlType type, const uint8_t* src, float* dst) {
    if (type == GgmlType::f16) kernels->f16_to_f32(src, dst, hd);
    else dequantize_row(type, src, dst, hd);
  };

  pool_.parallel_for(n_items, [&](int64_t begin, int64_t end, int thread) {
    float* k_buf = thread_scratch(thread) + kTileRows * max_width_;
    float* v_buf = k_buf + max_width_;
    float* acc = v_buf + max_width_;
    float* scores = acc + max_width_;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / shape.n_head;
      const int64_t h = item % shape.n_head;
      const int64_t kvh = h / n_gqa;
      const TokenSlot& slot = slots[t];
      const float* qh = q + (t * shape.n_head + h) * hd;
      const int64_t* positions = kv.positions(slot.seq);
      const int64_t n_cells = kv.used(slot.seq);

      float m = -std::numeric_limits<float>::infinity();
      float l = 0.0f;
      std::fill(acc, acc + hd, 0.0f);
      for (int64_t b0 = 0; b0 < n_cells; b0 += kAttentionBlock) {
        const int64_t b1 = std::min(n_cells, b0 + kAttentionBlock);
        float block_max = -std::numeric_limits<float>::infinity();
        for (int64_t cell = b0; cell < b1; ++cell) {
          if (positions[cell] > slot.pos) continue;
          load_head(c.type_k, kv.k_row(layer, slot.seq, cell) + kvh * k_head_bytes, k_buf);
          const float s = cpu::dot_f32(qh, k_buf, hd) * shape.scale;
          scores[cell - b0] = s;
          block_max = std::max(block_max, s);
        }
        if (block_max == -std::numeric_limits<float>::infinity()) continue;  // nothing visible in this block
        if (block_max > m) {
          const float rescale = std::exp(m - block_max);  // exp(-inf) = 0 on the first block
          cpu::scale_f32(rescale, acc, hd);
          l *= rescale;
          m = block_max;
        }
        for (int64_t cell = b0; cell < b1; ++cell) {
          if (positions[cell] > slot.pos) continue;
          const float p = std::exp(scores[cell - b0] - m);
          l += p;
          load_head(c.type_v, kv.v_row(layer, slot.seq, cell) + kvh * v_head_bytes, v_buf);
          cpu::axpy_f32(p, v_buf, acc, hd);
        }
      }
      float* o = out + (t * shape.n_head + h) * hd;
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
      for (int64_t i = 0; i < hd; ++i) o[i] = acc[i] * inv;
    }
  });
}

}  // namespace laneway
