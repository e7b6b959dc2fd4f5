#version 450
#extension GL_GOOGLE_include_directive : enable
// Mixture-of-experts ops (-D MOE_ROUTE, MOE_GROUP, MOE_COMBINE). A route row
// holds, for each of the n_used experts a token goes to, the expert's index
// (as a float), then its weight: [ids..., weights...].
//   route:   one invocation per token: the n_used largest router logits,
//            largest first (the lower index first on ties), weights a softmax
//            over those (as CpuBackend::moe_route, in the same order).
//   group:   one invocation per expert: the (token, slot) pairs routed to it,
//            in token order, for matmul.comp's MATMUL_ID variant. groups
//            holds the counts [n_expert], then per expert a list of pair
//            indices t * n_used + j [n_expert][list_stride].
//   combine: dst[t] = sum_j weight_j * a[t][j], j in route order.
#if defined(MOE_COMBINE)
layout(local_size_x = 256) in;
#else
layout(local_size_x = 64) in;
#endif
#if defined(MOE_ROUTE)
layout(binding = 0, std430) writeonly buffer DstBuf { float dst[]; };
layout(binding = 1, std430) readonly buffer LogitBuf { float logits[]; };
layout(push_constant) uniform PC {
  uint n_tokens;
  uint n_expert;
  uint n_used;
  uint logits_stride;
  uint dst_stride;
} pc;
#elif defined(MOE_GROUP)
layout(binding = 0, std430) readonly buffer RouteBuf { float route[]; };
layout(binding = 1, std430) writeonly buffer GroupBuf { uint groups[]; };
layout(push_constant) uniform PC {
  uint n_tokens;
  uint n_expert;
  uint n_used;
  uint route_stride;
  uint list_stride;  // pairs per expert list (a token goes to an expert at most once)
} pc;
#elif defined(MOE_COMBINE)
layout(binding = 0, std430) writeonly buffer DstBuf { float dst[]; };
layout(binding = 1, std430) readonly buffer ABuf { float a[]; };
layout(binding = 2, std430) readonly buffer RouteBuf { float route[]; };
layout(push_constant) uniform PC {
  uint n_tokens;
  uint width;
  uint n_used;
  uint dst_stride;
  uint a_stride;
  uint route_stride;
} pc;
#else
#error "no moe op defined"
#endif
#include "common.glsl"

#if defined(MOE_ROUTE)
void main() {
  const uint t = flat_group_id() * 64u + gl_LocalInvocationID.x;
  if (t >= pc.n_tokens) return;
  const uint lo = t * pc.logits_stride;
  const uint d = t * pc.dst_stride;
  // Selection by rank: slot j takes the best expert ranked after slot j-1's
  // (ranked by logit descending, then index ascending). No per-expert state.
  float prev_l = 0.0;
  uint prev_e = 0u;
  float top = 0.0;
  precise float sum = 0.0;
  for (uint j = 0u; j < pc.n_used; ++j) {
    bool found = false;
    uint best_e = 0u;
    float best_l = 0.0;
    for (uint e = 0u; e < pc.n_expert; ++e) {
      const float l = logits[lo + e];
      const bool after = j == 0u || l < prev_l || (l == prev_l && e > prev_e);
      if (after && (!found || l > best_l)) {
        found = true;
        best_e = e;
        best_l = l;
      }
    }
    if (j == 0u) top = best_l;
    const float w = exp(best_l - top);
    dst[d + j] = float(best_e);
    dst[d + pc.n_used + j] = w;
    sum += w;
    prev_l = best_l;
    prev_e = best_e;
  }
  // Weights again from the logits (the same exp as above): dst is write-only.
  prev_l = 0.0;
  prev_e = 0u;
  for (uint j = 0u; j < pc.n_used; ++j) {
    bool found = false;
    uint best_e = 0u;
    float best_l = 0.0;
    for (uint e = 0u; e < pc.n_expert; ++e) {
      const float l = logits[lo + e];
      const bool after = j == 0u || l < prev_l || (l == prev_l && e > prev_e);
      if (after && (!found || l > best_l)) {
        found = true;
        best_e = e;
        best_l = l;
      }
    }
    dst[d + pc.n_used + j] = exp(best_l - top) / sum;
    prev_l = best_l;
    prev_e = best_e;
  }
}
#elif defined(MOE_GROUP)
void main() {
  const uint e = flat_group_id() * 64u + gl_LocalInvocationID.x;
  if (e >= pc.n_expert) return;
  uint count = 0u;
  const uint list = pc.n_expert + e * pc.list_stride;
  for (uint t = 0u; t < pc.n_tokens; ++t) {
    for (uint j = 0u; j < pc.n_used; ++j) {
      const float id = route[t * pc.route_stride + j];
      if (id == float(e) && count < pc.list_stride) {
        groups[list + count] = t * pc.n_used + j;
        ++count;
      }
    }
  }
  groups[e] = count;
}
#elif defined(MOE_COMBINE)
void main() {
  const uint n = pc.n_tokens * pc.width;
  for (uint g = flat_group_id() * 256u + gl_LocalInvocationID.x; g < n; g += total_groups() * 256u) {
    const uint t = g / pc.width;
    const uint i = g % pc.width;
    const uint w = t * pc.route_stride + pc.n_used;
    const uint at = t * pc.a_stride + i;
    precise float o = route[w] * a[at];
    for (uint j = 1u; j < pc.n_used; ++j) o += route[w + j] * a[at + j * pc.width];
    dst[t * pc.dst_stride + i] = o;
  }
}
#endif
