// KV cache writes and attention for the CPU backend.
//
// Attention for one (token, head) walks the token's sequence cells in
// blocks of kAttentionBlock cells, aligned to the start of the sequence,
// with an online softmax: each block's scores, its max, then a rescale of
// the running sum and accumulator. Cells with a position after the token's,
// or before its sliding window, are skipped outright (not added as zeros),
// so a token sees the same arithmetic whether later tokens are already in
// the cache or not. A layer that keeps a ring (backend.h) walks the blocks
// of positions its window covers, oldest first, each a block of ring cells.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/vec.h"
#include "quant/quant.h"

namespace laneway {

void CpuBackend::store_kv(int64_t layer, const TokenSlot* slots, int64_t n_tokens, const float* k, const float* v) {
  const KvStorageDesc& c = kv_desc_;
  const bool ring = c.ring(layer);
  pool_.parallel_for(n_tokens, [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      const TokenSlot& s = slots[t];
      const int64_t cell = ring ? s.ring_cell : s.cell;
      quantize_row(c.type_k, k + t * c.n_embd_k, k_row(layer, s.seq, cell), c.n_embd_k);
      quantize_row(c.type_v, v + t * c.n_embd_v, v_row(layer, s.seq, cell), c.n_embd_v);
    }
  });
}

void CpuBackend::attention(int64_t layer, const KvCellsView& cells, const TokenSlot* slots, int64_t n_tokens,
                           const AttentionShape& shape, const float* q, float* out) {
  const KvStorageDesc& c = kv_desc_;
  const int64_t hd = shape.head_dim;
  const int64_t n_gqa = shape.n_head / shape.n_head_kv;
  const uint64_t k_head_bytes = *ggml_row_bytes(c.type_k, static_cast<uint64_t>(hd));
  const uint64_t v_head_bytes = *ggml_row_bytes(c.type_v, static_cast<uint64_t>(hd));
  // One item per (token, KV head): each K and V row is converted once for
  // all the query heads that share it; every head keeps its own running
  // max, sum and accumulator, so its arithmetic is what it would be alone.
  const int64_t n_items = n_tokens * shape.n_head_kv;
  const size_t per_thread = attention_floats_per_thread(hd, n_gqa);
  if (attn_scratch_per_thread_ < per_thread) {  // allocate() sized it; ops called directly grow it once
    attn_scratch_per_thread_ = per_thread;
    attn_scratch_.assign(per_thread * static_cast<size_t>(pool_.n_threads()), 0.0f);
  }
  // f16 rows convert with the ISA's kernel; quantized rows dequantize.
  const CpuKernels* kernels = kernels_;
  auto load_head = [&](GgmlType type, const uint8_t* src, float* dst) {
    if (type == GgmlType::f16) kernels->f16_to_f32(src, dst, hd);
    else dequantize_row(type, src, dst, hd);
  };
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const int64_t window = shape.window;
  const bool ring = c.ring(layer);
  const int64_t ring_cells = c.ring_cells;
  assert(!ring || (window > 0 && cells.ring_positions != nullptr && cells.ring_cells == ring_cells &&
                   ring_cells % kAttentionBlock == 0));

  pool_.parallel_for(n_items, [&](int64_t begin, int64_t end, int thread) {
    float* k_buf = attn_scratch_.data() + static_cast<size_t>(thread) * attn_scratch_per_thread_;
    float* v_buf = k_buf + kAttentionBlock * hd;  // [kAttentionBlock][hd]
    float* acc = v_buf + kAttentionBlock * hd;    // [n_gqa][hd]
    float* scores = acc + n_gqa * hd;             // [n_gqa][kAttentionBlock], then probabilities
    float* m = scores + n_gqa * kAttentionBlock;  // [n_gqa] running max
    float* l = m + n_gqa;                         // [n_gqa] running sum
    float* block_max = l + n_gqa;                 // [n_gqa]
    int64_t visible[kAttentionBlock];
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / shape.n_head_kv;
      const int64_t kvh = item % shape.n_head_kv;
      const TokenSlot& slot = slots[t];
      const float* q0 = q + (t * shape.n_head + kvh * n_gqa) * hd;
      const int64_t* positions = ring ? cells.ring_positions + static_cast<int64_t>(slot.seq) * ring_cells
                                      : cells.positions + static_cast<int64_t>(slot.seq) * cells.context_tokens;
      const int64_t n_cells = ring ? ring_cells : cells.used[slot.seq];
      // Blocks [first_block, end_block): of cells, or with a ring of the
      // positions from the window's start to the token's (cells pos % ring).
      const int64_t first_block = ring ? std::max<int64_t>(0, slot.pos - window + 1) / kAttentionBlock : 0;
      const int64_t end_block = ring ? slot.pos / kAttentionBlock + 1 : (n_cells + kAttentionBlock - 1) / kAttentionBlock;

      std::fill(m, m + n_gqa, kNegInf);
      std::fill(l, l + n_gqa, 0.0f);
      std::fill(acc, acc + n_gqa * hd, 0.0f);
      for (int64_t block = first_block; block < end_block; ++block) {
        const int64_t b0 = ring ? block * kAttentionBlock % ring_cells : block * kAttentionBlock;
        const int64_t b1 = std::min(n_cells, b0 + kAttentionBlock);
        int64_t n_vis = 0;
        for (int64_t cell = b0; cell < b1; ++cell) {
          if (positions[cell] <= slot.pos && (window == 0 || positions[cell] > slot.pos - window)) {
            visible[n_vis++] = cell;
          }
        }
        if (n_vis == 0) continue;  // nothing visible in this block
        for (int64_t j = 0; j < n_vis; ++j) {
          load_head(c.type_k, k_row(layer, slot.seq, visible[j]) + kvh * k_head_bytes, k_buf + j * hd);
        }
        kernels->attn_scores(q0, n_gqa, k_buf, n_vis, hd, shape.scale, scores, kAttentionBlock);
        if (shape.softcap > 0.0f) {
          const float inv = 1.0f / shape.softcap;
          for (int64_t g = 0; g < n_gqa; ++g) {
            float* sg = scores + g * kAttentionBlock;
            for (int64_t j = 0; j < n_vis; ++j) sg[j] = shape.softcap * std::tanh(sg[j] * inv);
          }
        }
        for (int64_t g = 0; g < n_gqa; ++g) {
          const float* sg = scores + g * kAttentionBlock;
          block_max[g] = *std::max_element(sg, sg + n_vis);
          if (block_max[g] > m[g]) {
            const float rescale = cpu::exp_f32(m[g] - block_max[g]);  // exp(-inf) = 0 on the first block
            cpu::scale_f32(rescale, acc + g * hd, hd);
            l[g] *= rescale;
            m[g] = block_max[g];
          }
        }
        for (int64_t g = 0; g < n_gqa; ++g) {
          float* sg = scores + g * kAttentionBlock;
          kernels->exp_shifted(sg, n_vis, m[g]);
          for (int64_t j = 0; j < n_vis; ++j) l[g] += sg[j];
        }
        for (int64_t j = 0; j < n_vis; ++j) {
          load_head(c.type_v, v_row(layer, slot.seq, visible[j]) + kvh * v_head_bytes, v_buf + j * hd);
        }
        kernels->attn_accumulate(scores, kAttentionBlock, n_gqa, v_buf, n_vis, hd, acc);
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
