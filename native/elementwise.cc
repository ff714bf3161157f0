// Row gathers and elementwise kernels: embedding, SwiGLU, scale, add.
// Contract: src/backend/backend.ts (forward overwrites, backward accumulates).
#include <cstring>

#include "common.h"
#include "half.h"
#include "simd.h"

namespace moekit {
namespace {

using namespace simd;

// Below these sizes one thread is faster than waking the pool.
constexpr int64_t kCopyPerThread = 1 << 16;  // memory-bound kernels, elements
constexpr int64_t kExpPerThread = 1 << 13;   // kernels with an exp per element

inline int threads_for(int64_t work, int64_t per_thread) { return work >= 2 * per_thread ? -1 : 1; }

// ---- embedding ------------------------------------------------------------------------------------

// out[T,D] = table[ids[t], :]
void embedding_forward(float* out, const int32_t* ids, const float* table, int64_t T, int64_t D) {
  parallel([&](int ith, int nth) {
    int64_t t0, t1;
    split_range(T, ith, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) {
      std::memcpy(out + t * D, table + static_cast<int64_t>(ids[t]) * D, D * sizeof(float));
    }
  }, threads_for(T * D, kCopyPerThread));
}

// out[t, :] = table[ids[t], :] widened, from a 16-bit table (an inference model's embedding).
template <class L>
void embedding_forward_half(float* out, const int32_t* ids, const uint16_t* table, int64_t T, int64_t D) {
  parallel([&](int ith, int nth) {
    int64_t t0, t1;
    split_range(T, ith, nth, &t0, &t1);
    for (int64_t t = t0; t < t1; t++) half::widen<L>(out + t * D, table + static_cast<int64_t>(ids[t]) * D, D);
  }, threads_for(T * D, kCopyPerThread));
}

// dtable[ids[t], :] += dout[t, :]. Threads split the columns, so duplicate ids never race and every
// element sums its rows in t order.
void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t T, int64_t D) {
  parallel([&](int ith, int nth) {
    int64_t c0, c1;
    split_range(D, ith, nth, &c0, &c1);
    for (int64_t t = 0; t < T; t++) {
      float* dst = dtable + static_cast<int64_t>(ids[t]) * D;
      const float* src = dout + t * D;
      vec_loop(c0, c1, [&](int64_t c, int r) { store_n(dst + c, add(load_n(dst + c, r), load_n(src + c, r)), r); });
    }
  }, threads_for(T * D, kCopyPerThread));
}

// ---- SwiGLU ---------------------------------------------------------------------------------------

// out[n] = silu(gate)·up, silu(g) = g·σ(g)
void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) {
  parallel([&](int ith, int nth) {
    int64_t i0, i1;
    split_range(n, ith, nth, &i0, &i1);
    vec_loop(i0, i1, [&](int64_t i, int r) {
      vf g = load_n(gate + i, r), u = load_n(up + i, r);
      vf sig = div(set1(1.0f), add(set1(1.0f), simd::exp(sub(zero(), g))));
      store_n(out + i, mul(mul(g, sig), u), r);
    });
  }, threads_for(n, kExpPerThread));
}

// out = g·σ(g)·u, σ' = σ(1 − σ):
//   dup   += dout·g·σ(g)
//   dgate += dout·u·(σ + g·σ(1 − σ)) = dout·u·σ·(1 + g(1 − σ))
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int64_t n) {
  parallel([&](int ith, int nth) {
    int64_t i0, i1;
    split_range(n, ith, nth, &i0, &i1);
    const vf one = set1(1.0f);
    vec_loop(i0, i1, [&](int64_t i, int r) {
      vf g = load_n(gate + i, r), u = load_n(up + i, r), d = load_n(dout + i, r);
      vf sig = div(one, add(one, simd::exp(sub(zero(), g))));
      vf dsilu = mul(sig, fmadd(g, sub(one, sig), one));
      store_n(dup + i, fmadd(d, mul(g, sig), load_n(dup + i, r)), r);
      store_n(dgate + i, fmadd(mul(d, u), dsilu, load_n(dgate + i, r)), r);
    });
  }, threads_for(n, kExpPerThread));
}

// ---- scale, add -----------------------------------------------------------------------------------

// x[n] *= s
void scale(float* x, int64_t n, float s) {
  parallel([&](int ith, int nth) {
    int64_t i0, i1;
    split_range(n, ith, nth, &i0, &i1);
    vf vs = set1(s);
    vec_loop(i0, i1, [&](int64_t i, int r) {
      store_n(x + i, mul(load_n(x + i, r), vs), r);
    });
  }, threads_for(n, kCopyPerThread));
}

// out[n] = a + b (out may alias a or b)
void add_(float* out, const float* a, const float* b, int64_t n) {
  parallel([&](int ith, int nth) {
    int64_t i0, i1;
    split_range(n, ith, nth, &i0, &i1);
    vec_loop(i0, i1, [&](int64_t i, int r) {
      store_n(out + i, add(load_n(a + i, r), load_n(b + i, r)), r);
    });
  }, threads_for(n, kCopyPerThread));
}

// ---- N-API ----------------------------------------------------------------------------------------

// Every ids[t] in [0, V), checked before anything is written; fails the call otherwise.
bool ids_in_range(Args& a, const int32_t* ids, int64_t T, int64_t V) {
  for (int64_t t = 0; t < T; t++) {
    if (ids[t] < 0 || ids[t] >= V) {
      a.fail("ids[" + std::to_string(t) + "] = " + std::to_string(ids[t]) + " is outside [0, " + std::to_string(V) + ")");
      return false;
    }
  }
  return true;
}

napi_value embeddingForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "embeddingForward", 6);  // (out, ids, table, T, D, V)
  int64_t T = a.int_(3), D = a.int_(4), V = a.int_(5);
  float* out = a.f32(0, T * D);
  const int32_t* ids = a.i32(1, T);
  const float* table = a.f32(2, V * D);
  if (!a.ok || !ids_in_range(a, ids, T, V)) return nullptr;
  embedding_forward(out, ids, table, T, D);
  return undefined(env);
}

napi_value embeddingForwardHalf(napi_env env, napi_callback_info info) {
  Args a(env, info, "embeddingForwardHalf", 7);  // (out, ids, table, bf16, T, D, V)
  bool bf16 = a.boolean(3);
  int64_t T = a.int_(4), D = a.int_(5), V = a.int_(6);
  float* out = a.f32(0, T * D);
  const int32_t* ids = a.i32(1, T);
  const uint16_t* table = a.u16(2, V * D);
  if (!a.ok || !ids_in_range(a, ids, T, V)) return nullptr;
  if (bf16) embedding_forward_half<half::BF16>(out, ids, table, T, D);
  else embedding_forward_half<half::F16>(out, ids, table, T, D);
  return undefined(env);
}

napi_value embeddingBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "embeddingBackward", 5);  // (dtable, dout, ids, T, D)
  int64_t T = a.int_(3), D = a.int_(4);
  const float* dout = a.f32(1, T * D);
  const int32_t* ids = a.i32(2, T);
  if (!a.ok) return nullptr;
  int64_t rows = 0;  // dtable must hold row max(ids)
  for (int64_t t = 0; t < T; t++) {
    if (ids[t] < 0) {
      a.fail("ids[" + std::to_string(t) + "] = " + std::to_string(ids[t]) + " is negative");
      return nullptr;
    }
    if (ids[t] + 1 > rows) rows = ids[t] + 1;
  }
  float* dtable = a.f32(0, rows * D);
  if (!a.ok) return nullptr;
  embedding_backward(dtable, dout, ids, T, D);
  return undefined(env);
}

napi_value swigluForward(napi_env env, napi_callback_info info) {
  Args a(env, info, "swigluForward", 4);  // (out, gate, up, n)
  int64_t n = a.int_(3);
  float* out = a.f32(0, n);
  const float* gate = a.f32(1, n);
  const float* up = a.f32(2, n);
  if (!a.ok) return nullptr;
  swiglu_forward(out, gate, up, n);
  return undefined(env);
}

napi_value swigluBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "swigluBackward", 6);  // (dgate, dup, dout, gate, up, n)
  int64_t n = a.int_(5);
  float* dgate = a.f32(0, n);
  float* dup = a.f32(1, n);
  const float* dout = a.f32(2, n);
  const float* gate = a.f32(3, n);
  const float* up = a.f32(4, n);
  if (!a.ok) return nullptr;
  swiglu_backward(dgate, dup, dout, gate, up, n);
  return undefined(env);
}

napi_value scaleFn(napi_env env, napi_callback_info info) {
  Args a(env, info, "scale", 3);  // (x, n, s)
  int64_t n = a.int_(1);
  float* x = a.f32(0, n);
  double s = a.num(2);
  if (!a.ok) return nullptr;
  scale(x, n, static_cast<float>(s));
  return undefined(env);
}

napi_value addFn(napi_env env, napi_callback_info info) {
  Args a(env, info, "add", 4);  // (out, a, b, n)
  int64_t n = a.int_(3);
  float* out = a.f32(0, n);
  const float* x = a.f32(1, n);
  const float* y = a.f32(2, n);
  if (!a.ok) return nullptr;
  add_(out, x, y, n);
  return undefined(env);
}

}  // namespace

void register_elementwise(napi_env env, napi_value exports) {
  export_fn(env, exports, "embeddingForward", embeddingForward);
  export_fn(env, exports, "embeddingForwardHalf", embeddingForwardHalf);
  export_fn(env, exports, "embeddingBackward", embeddingBackward);
  export_fn(env, exports, "swigluForward", swigluForward);
  export_fn(env, exports, "swigluBackward", swigluBackward);
  export_fn(env, exports, "scale", scaleFn);
  export_fn(env, exports, "add", addFn);
}

}  // namespace moekit
