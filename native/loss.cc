// Softmax over the last axis, and the fused log-softmax + cross-entropy over the vocabulary.
// Contract: src/backend/backend.ts (forward overwrites, softmaxBackward accumulates,
// crossEntropyBackward overwrites and may run in place over the logits).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "common.h"
#include "simd.h"

namespace moekit {
namespace {

using namespace simd;

constexpr int64_t kPerThread = 1 << 13;  // elements (an exp each)

int threads_for(int64_t work) { return work >= 2 * kPerThread ? -1 : 1; }

// Rows are handed out in chunks of about kPerThread elements to whichever thread is free
// (parallel_dynamic); each row is computed the same way on any thread.
int64_t rows_per_chunk(int64_t cols) { return std::max<int64_t>(1, kPerThread / std::max<int64_t>(1, cols)); }

// ---- softmax --------------------------------------------------------------------------------------

// out[rows,cols] = softmax(x[rows,cols]) per row (out may alias x)
void softmax_forward(float* out, const float* x, int64_t rows, int64_t cols) {
  const int64_t rc = rows_per_chunk(cols);
  parallel_dynamic((rows + rc - 1) / rc, [&](int64_t c) {
    for (int64_t r = c * rc; r < std::min(rows, (c + 1) * rc); r++) {
      const float* xr = x + r * cols;
      float* o = out + r * cols;
      float sum = exp_shift_store(o, xr, cols, reduce_max(xr, cols));
      vf inv = set1(1.0f / sum);
      vec_loop(0, cols, [&](int64_t i, int n) {
        store_n(o + i, mul(load_n(o + i, n), inv), n);
      });
    }
  }, threads_for(rows * cols));
}

// y = softmax(x): ∂y_j/∂x_i = y_j(δ_ij − y_i), so dx_i += y_i·(dout_i − Σ_j dout_j·y_j)
void softmax_backward(float* dx, const float* dout, const float* out, int64_t rows, int64_t cols) {
  const int64_t rc = rows_per_chunk(cols);
  parallel_dynamic((rows + rc - 1) / rc, [&](int64_t c) {
    for (int64_t r = c * rc; r < std::min(rows, (c + 1) * rc); r++) {
      const float* d = dout + r * cols;
      const float* y = out + r * cols;
      float* g = dx + r * cols;
      vf s = set1(dot(d, y, cols));
      vec_loop(0, cols, [&](int64_t i, int n) {
        store_n(g + i, fmadd(load_n(y + i, n), sub(load_n(d + i, n), s), load_n(g + i, n)), n);
      });
    }
  }, threads_for(rows * cols));
}

// ---- cross-entropy --------------------------------------------------------------------------------

// losses[T] = lse[t] − logits[t, targets[t]] (0 where targets[t] < 0), lse[T] = logsumexp(logits[t, :])
void cross_entropy_forward(float* losses, float* lse, const float* logits, const int32_t* targets, int64_t T,
                           int64_t V) {
  const int64_t rc = rows_per_chunk(V);
  parallel_dynamic((T + rc - 1) / rc, [&](int64_t c) {
    for (int64_t t = c * rc; t < std::min(T, (c + 1) * rc); t++) {
      const float* x = logits + t * V;
      float m = reduce_max(x, V);
      float l = m + std::log(exp_shift_sum(x, V, m));
      lse[t] = l;
      losses[t] = targets[t] < 0 ? 0.0f : l - x[targets[t]];
    }
  }, threads_for(T * V));
}

// loss = lse − x_y, ∂lse/∂x_i = softmax(x)_i = e^(x_i − lse), so
//   dlogits_i = (e^(x_i − lse) − [i = y])·dloss   (one pass; in place is safe: element i is read
// before it is written, and the target's −dloss is applied after the pass)
void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int32_t* targets,
                            const float* dlosses, int64_t T, int64_t V) {
  const int64_t rc = rows_per_chunk(V);
  parallel_dynamic((T + rc - 1) / rc, [&](int64_t c) {
    for (int64_t t = c * rc; t < std::min(T, (c + 1) * rc); t++) {
      float* g = dlogits + t * V;
      if (targets[t] < 0) {
        std::memset(g, 0, V * sizeof(float));
        continue;
      }
      const float* x = logits + t * V;
      vf l = set1(lse[t]), d = set1(dlosses[t]);
      vec_loop(0, V, [&](int64_t i, int n) {
        store_n(g + i, mul(simd::exp(sub(load_n(x + i, n), l)), d), n);
      });
      g[targets[t]] -= dlosses[t];
    }
  }, threads_for(T * V));
}

// Targets are checked before any output is written.
bool check_targets(Args& a, const int32_t* targets, int64_t T, int64_t V) {
  for (int64_t t = 0; t < T; t++) {
    if (targets[t] >= V) {
      a.fail("targets[" + std::to_string(t) + "] = " + std::to_string(targets[t]) + " is >= V = " + std::to_string(V));
      return false;
    }
  }
  return true;
}

// ---- N-API ----------------------------------------------------------------------------------------

napi_value softmaxForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "softmaxForward", 4);  // (out, x, rows, cols)
  int64_t rows = a.int_(2), cols = a.int_(3);
  float* out = a.f32(0, rows * cols);
  const float* x = a.f32(1, rows * cols);
  if (a.ok && cols == 0 && rows > 0) a.fail("cols must be >= 1");
  if (!a.ok) return nullptr;
  softmax_forward(out, x, rows, cols);
  return undefined(env);
}

napi_value softmaxBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "softmaxBackward", 5);  // (dx, dout, out, rows, cols)
  int64_t rows = a.int_(3), cols = a.int_(4);
  float* dx = a.f32(0, rows * cols);
  const float* dout = a.f32(1, rows * cols);
  const float* out = a.f32(2, rows * cols);
  if (!a.ok) return nullptr;
  softmax_backward(dx, dout, out, rows, cols);
  return undefined(env);
}

napi_value crossEntropyForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "crossEntropyForward", 6);  // (losses, lse, logits, targets, T, V)
  int64_t T = a.int_(4), V = a.int_(5);
  float* losses = a.f32(0, T);
  float* lse = a.f32(1, T);
  const float* logits = a.f32(2, T * V);
  const int32_t* targets = a.i32(3, T);
  if (a.ok && V == 0 && T > 0) a.fail("V must be >= 1");
  if (!a.ok || !check_targets(a, targets, T, V)) return nullptr;
  cross_entropy_forward(losses, lse, logits, targets, T, V);
  return undefined(env);
}

napi_value crossEntropyBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "crossEntropyBackward", 7);  // (dlogits, logits, lse, targets, dlosses, T, V)
  int64_t T = a.int_(5), V = a.int_(6);
  float* dlogits = a.f32(0, T * V);
  const float* logits = a.f32(1, T * V);
  const float* lse = a.f32(2, T);
  const int32_t* targets = a.i32(3, T);
  const float* dlosses = a.f32(4, T);
  if (!a.ok || !check_targets(a, targets, T, V)) return nullptr;
  cross_entropy_backward(dlogits, logits, lse, targets, dlosses, T, V);
  return undefined(env);
}

}  // namespace

void register_loss(napi_env env, napi_value exports) {
  export_fn(env, exports, "softmaxForward", softmaxForward);
  export_fn(env, exports, "softmaxBackward", softmaxBackward);
  export_fn(env, exports, "crossEntropyForward", crossEntropyForward);
  export_fn(env, exports, "crossEntropyBackward", crossEntropyBackward);
}

}  // namespace moekit
