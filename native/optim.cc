// Optimizer and gradient utilities: fused AdamW step, Σx² in float64.
// Contract: src/backend/backend.ts.
#include <cmath>
#include <vector>

#include "common.h"
#include "simd.h"

namespace moekit {
namespace {

using namespace simd;

constexpr int64_t kPerThread = 1 << 15;  // elements

// One pass over param, grad, m, v (n each), step counts from 1:
//   g = grad·gradScale;  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//   p −= lr·(m/(1−β1^step) / (sqrt(v/(1−β2^step)) + eps) + wd·p)
// The scalar constants are formed in float64 (1 − β2 in float32 would be off by 1e-5 relative).
void adamw(float* param, const float* grad, float* m, float* v, int64_t n, double lr, double beta1, double beta2,
           double eps, double wd, int64_t step, double grad_scale) {
  auto f = [](double x) { return set1(static_cast<float>(x)); };
  const vf b1 = f(beta1), b2 = f(beta2), a1 = f(1.0 - beta1), a2 = f(1.0 - beta2);
  const vf vc1 = f(1.0 / (1.0 - std::pow(beta1, static_cast<double>(step))));
  const vf vc2 = f(1.0 / (1.0 - std::pow(beta2, static_cast<double>(step))));
  const vf veps = f(eps), vwd = f(wd), vlr = f(lr), gs = f(grad_scale);
  parallel([&](int ith, int nth) {
    int64_t i0, i1;
    split_range(n, ith, nth, &i0, &i1);
    vec_loop(i0, i1, [&](int64_t i, int r) {
      vf g = mul(load_n(grad + i, r), gs);
      vf mi = fmadd(b1, load_n(m + i, r), mul(a1, g));
      vf vi = fmadd(b2, load_n(v + i, r), mul(a2, mul(g, g)));
      vf p = load_n(param + i, r);
      vf upd = fmadd(vwd, p, div(mul(mi, vc1), add(simd::sqrt(mul(vi, vc2)), veps)));
      store_n(m + i, mi, r);
      store_n(v + i, vi, r);
      store_n(param + i, sub(p, mul(vlr, upd)), r);
    });
  }, n >= 2 * kPerThread ? -1 : 1);
}

// Σ x² in float64. Eight double lanes per thread (the compiler vectorises the fixed-size inner loop);
// per-thread sums are added in thread order, so the result depends only on the thread count.
double sum_squares(const float* x, int64_t n) {
  int nth_want = n >= 2 * kPerThread ? pool_threads() : 1;
  std::vector<double> part(nth_want, 0.0);
  parallel([&](int ith, int nth) {
    int64_t i0, i1;
    split_range(n, ith, nth, &i0, &i1);
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = i0;
    for (; i + 8 <= i1; i += 8) {
      for (int j = 0; j < 8; j++) acc[j] += static_cast<double>(x[i + j]) * static_cast<double>(x[i + j]);
    }
    for (; i < i1; i++) acc[0] += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    part[ith] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  }, nth_want);
  double s = 0;
  for (double p : part) s += p;
  return s;
}

napi_value adamwFn(napi_env env, napi_callback_info info) {
  // (param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, step, gradScale)
  Args a(env, info, "adamw", 12);
  int64_t n = a.int_(4);
  float* param = a.f32(0, n);
  const float* grad = a.f32(1, n);
  float* m = a.f32(2, n);
  float* v = a.f32(3, n);
  double lr = a.num(5), beta1 = a.num(6), beta2 = a.num(7), eps = a.num(8), wd = a.num(9);
  int64_t step = a.int_(10);
  double gs = a.num(11);
  if (a.ok && step < 1) a.fail("step must be >= 1 (steps count from 1)");
  if (!a.ok) return nullptr;
  adamw(param, grad, m, v, n, lr, beta1, beta2, eps, wd, step, gs);
  return undefined(env);
}

napi_value sumSquares(napi_env env, napi_callback_info info) {
  Args a(env, info, "sumSquares", 2);  // (x, n)
  int64_t n = a.int_(1);
  const float* x = a.f32(0, n);
  if (!a.ok) return nullptr;
  return number(env, sum_squares(x, n));
}

}  // namespace

void register_optim(napi_env env, napi_value exports) {
  export_fn(env, exports, "adamw", adamwFn);
  export_fn(env, exports, "sumSquares", sumSquares);
}

}  // namespace moekit
