// ForwardGraph: a model's forward pass written down as data, once per
// context: the activation buffers it uses and the ops in order. An
// architecture builds it (model/arch_<name>.cpp) so that it reads like the
// model's math; ForwardContext cuts it into ranges of consecutive ops that
// share a backend, moves activations only where a range hands over to
// another backend, and each backend runs its range in one go (the CPU op
// by op, a GPU as one recorded submission). `describe()` prints it.
//
// Shapes: every activation is a row-major f32 matrix [rows][width]; an op
// works on the first n rows, n being the chunk's token count, or after the
// output rows were gathered (OpRows::outputs) the count of tokens whose
// logits were asked for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/weight_view.h"

namespace laneway {

using ActId = int16_t;
inline constexpr ActId kNoAct = -1;

// Layer tags of ops outside the blocks.
inline constexpr int32_t kInputLayer = -1;  // the embedding lookup
// The output head carries the layer count as its tag (ForwardGraph::n_layer).

enum class OpRows : uint8_t { tokens, outputs };

struct ActivationDesc {
  std::string name;
  int64_t width = 0;
  // Rows go to the host buffer of PassInputs::logits instead of a backend
  // buffer (the logits: the only activation the caller reads).
  bool host_output = false;
};

struct AttentionShape {
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;
  float scale = 1.0f;    // usually 1/sqrt(head_dim)
  float softcap = 0.0f;  // > 0: each score s becomes softcap * tanh(s / softcap) (gemma2)
  int64_t window = 0;    // > 0: only cells with pos > token's pos - window are seen (sliding window)
};

enum class OpKind : uint8_t {
  get_rows,        // dst[t] = row tokens[t] of weight (as f32)
  rms_norm,        // dst[t] = a[t] / rms(a[t]) * weight (weight: f32 vector of width)
  matmul,          // dst[t][r] = sum_c weight[r][c] * a[t][c]
  rope,            // rotates the first rope_dim dims of each of n_heads heads of dst, in place
  store_kv,        // writes a[t] (K) and b[t] (V) into the token's cache cell of the op's layer
  attention,       // dst[t] = softmax(q[t] K^T * scale) V over t's sequence cells with pos <= t's pos; a = q
  swiglu,          // dst = silu(a) * b, element-wise
  add,             // dst += a, element-wise
  gather_outputs,  // dst[i] = a[output_rows[i]]: the rows whose logits are wanted
  add_bias,        // dst[t] += weight (an f32 vector of dst's width)
  scale,           // dst *= value, element-wise
  softcap,         // dst = value * tanh(dst / value), element-wise
  geglu,           // dst = gelu(a) * b, element-wise (GELU's tanh approximation)
  // Mixture of experts. A route row holds, for each of the n_expert_used
  // experts a token goes to, the expert's index (as a float) and then its
  // weight: [ids..., weights...].
  moe_route,       // dst[t] = route of a[t], the router's n_expert logits: the
                   // top n_expert_used by logit, weights softmax over those
  matmul_id,       // dst[t][j] = W_e a[t] (a[t][j] when per_slot), e the token's j-th expert; weight stacks n_expert matrices (rows of expert e
                   // at e * rows/n_expert); b = the route
  moe_combine,     // dst[t] = sum_j weight_j * a[t][j], j in route order; b = the route
};

const char* op_kind_name(OpKind kind);

struct Op {
  OpKind kind = OpKind::add;
  int32_t layer = kInputLayer;  // block index, kInputLayer, or n_layer for the output head
  OpRows rows = OpRows::tokens;
  ActId dst = kNoAct;
  ActId a = kNoAct;
  ActId b = kNoAct;
  // get_rows' table, matmul's matrix, rms_norm's vector: the model's view,
  // referenced (backends may key their copies by its address), so the
  // model must outlive the graph and every backend that ran it.
  const WeightView* weight = nullptr;
  float eps = 0.0f;                    // rms_norm
  float value = 0.0f;                  // scale, softcap
  int64_t n_expert = 0;                // moe_route, matmul_id
  int64_t n_expert_used = 0;           // moe_route, matmul_id, moe_combine
  bool per_slot = false;               // matmul_id: a holds one input row per slot ([t][j][n_cols])
  int64_t n_heads = 0;                 // rope
  int64_t head_dim = 0;                // rope
  int64_t rope_dim = 0;                // rope
  bool neox = false;                   // rope: pairs (i, i + rope_dim/2) instead of (2i, 2i+1)
  AttentionShape attn;                 // attention
};

class ForwardGraph {
 public:
  explicit ForwardGraph(int32_t n_layer = 0) : n_layer_(n_layer) {}

  // --- building (architectures) ---------------------------------------------
  ActId activation(std::string name, int64_t width);
  // The logits: rows land in PassInputs::logits.
  ActId logits(int64_t n_vocab);
  // Ops added from here on belong to this layer (kInputLayer, a block, n_layer).
  void set_layer(int32_t layer) { layer_ = layer; }

  void get_rows(ActId dst, const WeightView& table);
  void rms_norm(ActId dst, ActId x, const WeightView& weight, float eps);
  void matmul(ActId dst, const WeightView& w, ActId x);
  void rope(ActId x, int64_t n_heads, int64_t head_dim, int64_t rope_dim, bool neox);
  void store_kv(ActId k, ActId v);
  void attention(ActId dst, ActId q, const AttentionShape& shape);
  void swiglu(ActId dst, ActId gate, ActId up);
  void add(ActId x, ActId y);
  void add_bias(ActId x, const WeightView& bias);
  void scale(ActId x, float factor);
  void softcap(ActId x, float cap);
  void geglu(ActId dst, ActId gate, ActId up);
  void moe_route(ActId route, ActId router_logits, int64_t n_expert, int64_t n_expert_used);
  void matmul_id(ActId dst, const WeightView& stacked, ActId x, ActId route, int64_t n_expert, int64_t n_expert_used,
                 bool per_slot);
  void moe_combine(ActId dst, ActId experts, ActId route, int64_t n_expert_used);
  // Ops from this one on work on the gathered output rows.
  void gather_outputs(ActId dst, ActId x);

  // --- reading ----------------------------------------------------------------
  int32_t n_layer() const { return n_layer_; }
  const std::vector<ActivationDesc>& activations() const { return activations_; }
  const std::vector<Op>& ops() const { return ops_; }
  // One line per op: layer, kind, operands with their widths and weights.
  std::string describe() const;

 private:
  Op& push(OpKind kind);

  int32_t n_layer_;
  int32_t layer_ = kInputLayer;
  OpRows rows_ = OpRows::tokens;
  std::vector<ActivationDesc> activations_;
  std::vector<Op> ops_;
};

}  // namespace laneway
