// KV cache writes and attention for the CPU backend.
//
// Attention for one (token, head) walks the token's sequence cells in
// blocks of kAttentionBlock cells, aligned to the start of the sequence,
// with an online softmax: each block's scores, its max, then a rescale of
// the running sum and accumulator. Cells with a position after the token's
// are skipped outright (not added as zeros), so a token sees the same
// arithmetic whether later tokens are already in the cache or not.
#include <algorithm>
#include <cassert>
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
  // One item per (token, KV head): each K and V row is converted once for
  // all the query heads that share it; every head keeps its own running
  // max, sum and accumulator, so its arithmetic is what it would be alone.
  const int64_t n_items = n_tokens * shape.n_head_kv;
  assert(n_gqa * kAttentionBlock <= 4 * max_width_ && 3 * n_gqa <= max_width_);
  // f16 rows convert with the ISA's kernel; quantized rows dequantize.
  const CpuKernels* kernels = kernels_;
  auto load_head = [&](GgmlType type, const uint8_t* src, float* dst) {
    if (type == GgmlType::f16) kernels->f16_to_f32(src, dst, hd);
    else dequantize_row(type, src, dst, hd);
  };
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();

  pool_.parallel_for(n_items, [&](int64_t begin, int64_t end, int thread) {
    float* k_buf = thread_scratch(thread) + kTileRows * max_width_;
    float* v_buf = k_buf + max_width_;
    float* acc = v_buf + max_width_;       // [n_gqa][hd]
    float* scores = acc + max_width_;      // [n_gqa][kAttentionBlock] (fits 4 widths while head_dim >= 8)
    float* m = scores + 4 * max_width_;    // [n_gqa] running max
    float* l = m + n_gqa;                  // [n_gqa] running sum
    float* block_max = l + n_gqa;          // [n_gqa]
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / shape.n_head_kv;
      const int64_t kvh = item % shape.n_head_kv;
      const TokenSlot& slot = slots[t];
      const float* q0 = q + (t * shape.n_head + kvh * n_gqa) * hd;
      const int64_t* positions = kv.positions(slot.seq);
      const int64_t n_cells = kv.used(slot.seq);

      std::fill(m, m + n_gqa, kNegInf);
      std::fill(l, l + n_gqa, 0.0f);
      std::fill(acc, acc + n_gqa * hd, 0.0f);
      for (int64_t b0 = 0; b0 < n_cells; b0 += kAttentionBlock) {
        const int64_t b1 = std::min(n_cells, b0 + kAttentionBlock);
        std::fill(block_max, block_max + n_gqa, kNegInf);
        bool any = false;
        for (int64_t cell = b0; cell < b1; ++cell) {
          if (positions[cell] > slot.pos) continue;
          any = true;
          load_head(c.type_k, kv.k_row(layer, slot.seq, cell) + kvh * k_head_bytes, k_buf);
          for (int64_t g = 0; g < n_gqa; ++g) {
            const float sc = kernels->dot_f32(q0 + g * hd, k_buf, hd) * shape.scale;
            scores[g * kAttentionBlock + cell - b0] = sc;
            block_max[g] = std::max(block_max[g], sc);
          }
        }
        if (!any) continue;  // nothing visible in this block
        for (int64_t g = 0; g < n_gqa; ++g) {
          if (block_max[g] > m[g]) {
            const float rescale = std::exp(m[g] - block_max[g]);  // exp(-inf) = 0 on the first block
            cpu::scale_f32(rescale, acc + g * hd, hd);
            l[g] *= rescale;
            m[g] = block_max[g];
          }
        }
        for (int64_t cell = b0; cell < b1; ++cell) {
          if (positions[cell] > slot.pos) continue;
          load_head(c.type_v, kv.v_row(layer, slot.seq, cell) + kvh * v_head_bytes, v_buf);
          for (int64_t g = 0; g < n_gqa; ++g) {
            const float p = std::exp(scores[g * kAttentionBlock + cell - b0] - m[g]);
            l[g] += p;
            kernels->axpy_f32(p, v_buf, acc + g * hd, hd);
          }
        }
      }
      for (int64_t g = 0; g < n_gqa; ++g) {
        float* o = out + (t * shape.n_head + kvh * n_gqa + g) * hd;
        const float inv = l[g] > 0.0f ? 1.0f / l[g] : 0.0f;
        for (int64_t i = 0; i < hd; ++i) o[i] = acc[g * hd + i] * inv;
      }
    }
  });
}

}  // namespace laneway
