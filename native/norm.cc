// RMSNorm: out = x · rstd · w, rstd = 1/sqrt(mean(x²) + eps).
// Contract: src/backend/backend.ts (forward overwrites, backward accumulates).
#include <cmath>
#include <vector>

#include "common.h"
#include "simd.h"

namespace moekit {
namespace {

using namespace simd;

constexpr int64_t kPerThread = 1 << 15;  // elements; below twice this one thread is faster

// out[T,D], rstd[T] <- x[T,D], w[D]
void rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int64_t T, int64_t D, float eps) {
  parallel([&](int ith, int nth) {
    int64_t t0, t1;
    split_range(T, ith, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) {
      const float* xr = x + t * D;
      float* o = out + t * D;
      float r = 1.0f / std::sqrt(dot(xr, xr, D) / static_cast<float>(D) + eps);
      rstd[t] = r;
      vf vr = set1(r);
      vec_loop(0, D, [&](int64_t i, int n) {
        store_n(o + i, mul(mul(load_n(xr + i, n), vr), load_n(w + i, n)), n);
      });
    }
  }, T * D >= 2 * kPerThread ? -1 : 1);
}

// out_i = w_i·x_i·r with r = (Σ_j x_j²/D + eps)^(-1/2), so ∂r/∂x_j = −r³·x_j/D and
//   dx_j += r·w_j·dout_j − (r³/D)·x_j·Σ_i dout_i·w_i·x_i
//   dw_i += Σ_t dout_ti·x_ti·r_t
// Each thread sums dw over its rows into its own buffer; the buffers are added to dw in thread order.
void rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x, const float* w, const float* rstd,
                      int64_t T, int64_t D) {
  int nth_want = T * D >= 2 * kPerThread ? pool_threads() : 1;
  std::vector<float> part(static_cast<size_t>(nth_want) * D, 0.0f);
  parallel([&](int ith, int nth) {
    int64_t t0, t1;
    split_range(T, ith, nth, &t0, &t1);
    float* dwp = part.data() + ith * D;
    for (int64_t t = t0; t < t1; t++) {
      const float* xr = x + t * D;
      const float* dr = dout + t * D;
      float* dxr = dx + t * D;
      float r = rstd[t];
      vf c = zero();  // Σ dout·w·x
      vec_loop(0, D, [&](int64_t i, int n) {
        c = fmadd(mul(load_n(dr + i, n), load_n(w + i, n)), load_n(xr + i, n), c);
      });
      vf vr = set1(r), k = set1(-r * r * r * hsum(c) / static_cast<float>(D));
      vec_loop(0, D, [&](int64_t i, int n) {
        vf d = load_n(dr + i, n), xv = load_n(xr + i, n);
        vf g = fmadd(k, xv, mul(vr, mul(load_n(w + i, n), d)));
        store_n(dxr + i, add(load_n(dxr + i, n), g), n);
        store_n(dwp + i, fmadd(mul(d, xv), vr, load_n(dwp + i, n)), n);
      });
    }
  }, nth_want);
  for (int th = 0; th < nth_want; th++) {
    const float* p = part.data() + th * D;
    for (int64_t i = 0; i < D; i++) dw[i] += p[i];
  }
}

napi_value rmsnormForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "rmsnormForward", 7);  // (out, rstd, x, w, T, D, eps)
  int64_t T = a.int_(4), D = a.int_(5);
  double eps = a.num(6);
  float* out = a.f32(0, T * D);
  float* rstd = a.f32(1, T);
  const float* x = a.f32(2, T * D);
  const float* w = a.f32(3, D);
  if (a.ok && D == 0) a.fail("D must be >= 1");
  if (!a.ok) return nullptr;
  rmsnorm_forward(out, rstd, x, w, T, D, static_cast<float>(eps));
  return undefined(env);
}

napi_value rmsnormBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "rmsnormBackward", 8);  // (dx, dw, dout, x, w, rstd, T, D)
  int64_t T = a.int_(6), D = a.int_(7);
  float* dx = a.f32(0, T * D);
  float* dw = a.f32(1, D);
  const float* dout = a.f32(2, T * D);
  const float* x = a.f32(3, T * D);
  const float* w = a.f32(4, D);
  const float* rstd = a.f32(5, T);
  if (!a.ok) return nullptr;
  rmsnorm_backward(dx, dw, dout, x, w, rstd, T, D);
  return undefined(env);
}

}  // namespace

void register_norm(napi_env env, napi_value exports) {
  export_fn(env, exports, "rmsnormForward", rmsnormForward);
  export_fn(env, exports, "rmsnormBackward", rmsnormBackward);
}

}  // namespace moekit
