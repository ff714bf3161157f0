// MoE routing kernels: Top-P selection (spec moe-methods.md §1.1) and the backward of its raw-probability
// weights (§1.2). Contract: src/backend/backend.ts ("MoE routing"); the reference twins are
// src/backend/reference/routing.ts.
//
// Both work token by token, so any split of the tokens over threads gives bit-identical results. The
// arithmetic follows the reference exactly: softmax with float64 exponentials and sums stored as
// float32, the cumulative mass summed and compared in float32 (a float64 comparison changes k at the
// boundary, §1.1), the backward's dot product in float64 over the experts in index order. Contracting
// a·b + c into one FMA would round differently from the reference, so it is off in this file.
#pragma GCC optimize("fp-contract=off")

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common.h"

namespace moekit {
namespace {

constexpr int64_t kTokensPerChunk = 256;
constexpr int64_t kElemsPerThread = 1 << 15;  // T·E below two threads' worth: waking the pool costs more

// f(t0, t1, scratch) over chunks of tokens; scratch holds E doubles for the chunk's own use.
template <class F>
void for_token_chunks(int64_t T, int64_t E, F&& f) {
  int nth = T * E >= 2 * kElemsPerThread ? pool_threads() : 1;
  parallel_dynamic((T + kTokensPerChunk - 1) / kTokensPerChunk, [&](int64_t ch) {
    std::vector<double> scratch(static_cast<size_t>(E));
    f(ch * kTokensPerChunk, std::min(T, (ch + 1) * kTokensPerChunk), scratch.data());
  }, nth);
}

// One token: P = softmax(z) [E], ord = experts by P descending (ties → lower index), returns k.
int32_t top_p_token(float* P, int32_t* ord, const float* z, int64_t E, float p, bool inclusive, double* e) {
  double max = -INFINITY;
  for (int64_t j = 0; j < E; j++) if (z[j] > max) max = z[j];
  double sum = 0;
  for (int64_t j = 0; j < E; j++) {
    e[j] = std::exp(static_cast<double>(z[j]) - max);
    sum += e[j];
  }
  for (int64_t j = 0; j < E; j++) {
    P[j] = static_cast<float>(e[j] / sum);
    ord[j] = static_cast<int32_t>(j);
  }
  // stable: equal probabilities keep index order, so ties go to the lower index (§0)
  std::stable_sort(ord, ord + E, [P](int32_t a, int32_t b) { return P[a] > P[b]; });
  float cumulative = 0;
  for (int64_t j = 0; j < E; j++) {
    cumulative += P[ord[j]];
    if (inclusive ? cumulative >= p : cumulative > p) return static_cast<int32_t>(j + 1);
  }
  return static_cast<int32_t>(E);  // no crossing (p ≥ 1, rounding): every expert (§1.1 step 3)
}

void top_p_route(float* probs, int32_t* order, int32_t* count, const float* logits, int64_t T, int64_t E, float p,
                 bool inclusive, int32_t min_k, int32_t max_k) {
  for_token_chunks(T, E, [&](int64_t t0, int64_t t1, double* e) {
    for (int64_t t = t0; t < t1; t++) {
      int32_t k = top_p_token(probs + t * E, order + t * E, logits + t * E, E, p, inclusive, e);
      count[t] = std::min(std::max(k, min_k), max_k);
    }
  });
}

// dlogits[t, j] += P_j (g_j − Σ_i g_i P_i), g_e = the weight gradient of token t's pair with expert e.
void top_p_backward(float* dlogits, const float* dweights, const float* probs, const int32_t* order,
                    const int32_t* count, const int64_t* first_pair, int64_t T, int64_t E) {
  for_token_chunks(T, E, [&](int64_t t0, int64_t t1, double* g) {
    for (int64_t t = t0; t < t1; t++) {
      const float* P = probs + t * E;
      std::fill(g, g + E, 0.0);
      for (int64_t r = 0; r < count[t]; r++) g[order[t * E + r]] += dweights[first_pair[t] + r];
      double dot = 0;
      for (int64_t j = 0; j < E; j++) dot += P[j] * g[j];
      float* dz = dlogits + t * E;
      for (int64_t j = 0; j < E; j++) dz[j] = static_cast<float>(dz[j] + P[j] * (g[j] - dot));
    }
  });
}

// ---- N-API ----------------------------------------------------------------------------------------

napi_value topPRoute(napi_env env, napi_callback_info info) {
  Args a(env, info, "topPRoute", 10);  // (probs, order, count, logits, T, E, p, inclusive, minK, maxK)
  int64_t T = a.int_(4), E = a.int_(5);
  double p = a.num(6);
  bool inclusive = a.boolean(7);
  int64_t min_k = a.int_(8), max_k = a.int_(9);
  int64_t TE = 0;
  if (a.ok && __builtin_mul_overflow(T, E, &TE)) a.fail("sizes too large");
  float* probs = a.f32(0, TE);
  int32_t* order = a.i32(1, TE);
  int32_t* count = a.i32(2, T);
  const float* logits = a.f32(3, TE);
  if (a.ok && T > 0 && E == 0) a.fail("E must be >= 1");
  if (a.ok && !(min_k <= max_k && max_k <= E)) {
    a.fail("need minK <= maxK <= E, got minK = " + std::to_string(min_k) + ", maxK = " + std::to_string(max_k) +
           ", E = " + std::to_string(E));
  }
  if (!a.ok) return nullptr;
  top_p_route(probs, order, count, logits, T, E, static_cast<float>(p), inclusive, static_cast<int32_t>(min_k),
              static_cast<int32_t>(max_k));
  return undefined(env);
}

napi_value topPBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "topPBackward", 7);  // (dlogits, dweights, probs, order, count, T, E)
  int64_t T = a.int_(5), E = a.int_(6);
  int64_t TE = 0;
  if (a.ok && __builtin_mul_overflow(T, E, &TE)) a.fail("sizes too large");
  float* dlogits = a.f32(0, TE);
  const float* probs = a.f32(2, TE);
  const int32_t* order = a.i32(3, TE);
  const int32_t* count = a.i32(4, T);
  if (!a.ok) return nullptr;
  // The pairs are token-major: token t's count[t] weights start after those of the tokens before it.
  std::vector<int64_t> first_pair(static_cast<size_t>(T) + 1, 0);
  for (int64_t t = 0; a.ok && t < T; t++) {
    if (count[t] < 0 || count[t] > E) {
      a.fail("count[" + std::to_string(t) + "] = " + std::to_string(count[t]) + " is outside [0, " + std::to_string(E) + "]");
    }
    for (int64_t r = 0; a.ok && r < count[t]; r++) {
      int32_t e = order[t * E + r];
      if (e < 0 || e >= E) {
        a.fail("order[" + std::to_string(t * E + r) + "] = " + std::to_string(e) + " is outside [0, " + std::to_string(E) + ")");
      }
    }
    first_pair[t + 1] = first_pair[t] + count[t];
  }
  const float* dweights = a.f32(1, a.ok ? first_pair[T] : 0);
  if (!a.ok) return nullptr;
  top_p_backward(dlogits, dweights, probs, order, count, first_pair.data(), T, E);
  return undefined(env);
}

}  // namespace

void register_routing(napi_env env, napi_value exports) {
  export_fn(env, exports, "topPRoute", topPRoute);
  export_fn(env, exports, "topPBackward", topPBackward);
}

}  // namespace moekit
