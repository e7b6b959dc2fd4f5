// Backend: the seam between the model's forward pass and the hardware that
// runs it. The CPU backend (backend/cpu) is the reference; a GPU backend
// (Vulkan) implements the same ops and is checked op by op against it.
//
// Activations are f32 rows in host memory, [n_tokens][width], row-major.
// Ops are coarse (one call per layer-op), so the virtual call costs nothing
// next to the work. Placement: a ForwardContext holds one Backend per layer.
//
// Determinism contract: for every op, each output row of a token is
// computed from that token's inputs alone, by the same code, in the same
// order, whatever n_tokens and the thread count: batching never changes a
// result bit.
#pragma once

#include <cstdint>
#include <string_view>

#include "gguf/types.h"
#include "model/weights.h"

namespace laneway {

class KvCache;

// Per-token placement in the KV cache for one batch.
struct TokenSlot {
  int32_t seq = 0;
  int64_t cell = 0;  // cell of this token within its sequence
  int64_t pos = 0;
};

struct AttentionShape {
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;
  float scale = 1.0f;  // usually 1/sqrt(head_dim)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual bool supports_weight_type(GgmlType type) const = 0;

  // out[t] = row ids[t] of `table` as f32. out: [n][table.n_cols].
  virtual void get_rows(const WeightMatrix& table, const int32_t* ids, int64_t n, float* out) = 0;
  // y[t][r] = sum_c w[r][c] * x[t][c]. x: [n_tokens][w.n_cols], y: [n_tokens][w.n_rows].
  virtual void matmul(const WeightMatrix& w, const float* x, int64_t n_tokens, float* y) = 0;
  // y[t] = x[t] / rms(x[t]) * weight. x, y: [n_tokens][n].
  virtual void rms_norm(const float* x, const float* weight, int64_t n_tokens, int64_t n, float eps, float* y) = 0;
  // Rotates the first rope_dim dims of each head. x: [n_tokens][n_heads * head_dim];
  // cos_sin: [n_tokens][rope_dim / 2][2] (cos, sin) per token.
  virtual void rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t rope_dim, bool neox,
                    const float* cos_sin) = 0;
  // Writes each token's K and V rows into its cache cell (converted to the cache types).
  virtual void store_kv(KvCache& kv, int64_t layer, const TokenSlot* slots, int64_t n_tokens, const float* k,
                        const float* v) = 0;
  // out[t] = softmax(q[t] K^T * scale) V over the cells of t's sequence with
  // pos <= t's pos. q, out: [n_tokens][n_head * head_dim].
  virtual void attention(const KvCache& kv, int64_t layer, const TokenSlot* slots, int64_t n_tokens,
                         const AttentionShape& shape, const float* q, float* out) = 0;
  // out = silu(gate) * up, elementwise over n values.
  virtual void swiglu(const float* gate, const float* up, int64_t n, float* out) = 0;
  // x += y, elementwise over n values.
  virtual void add(float* x, const float* y, int64_t n) = 0;
};

}  // namespace laneway
