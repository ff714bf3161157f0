// Shared by every kernel family: the thread pool API and the N-API argument helpers.
// Each family file (gemm.cc, norm.cc, ...) defines its kernels and a `register_<family>` function that
// adds its N-API entry points; addon.cc calls the register functions. No JS logic lives here.
#pragma once
#include <node_api.h>
#include <cstddef>
#include <cstdint>
#include <string>

namespace moekit {

// ---- thread pool (threadpool.cc) ----------------------------------------------------------------
// One pool per process. Workers sleep on a condition variable between jobs (no spinning when idle).
// parallel_for runs fn(ctx, ith, nth) for every ith in [0, nth) — the caller runs ith = 0 — and returns
// when all are done. nth is clamped to [1, pool_threads()]. Work must be split by ith/nth only, so that
// results are bit-identical for a fixed thread count.
void parallel_for(int nth, void (*fn)(void* ctx, int ith, int nth), void* ctx);
int pool_threads();
void set_pool_threads(int n);

// Convenience wrapper for a lambda: parallel([&](int ith, int nth) { ... }).
template <class F>
inline void parallel(F&& f, int nth = -1) {
  parallel_for(nth < 0 ? pool_threads() : nth,
               [](void* ctx, int ith, int n) { (*static_cast<F*>(ctx))(ith, n); }, &f);
}

// Dynamic variant, for kernels whose every output is computed the same way whichever thread computes
// it (so results stay bit-identical for any thread count): fn(ctx, chunk) runs once for every chunk in
// [0, nchunks), each thread taking the next chunk from a shared counter. Workers that have not started
// by the time the caller runs out of chunks are not waited for, so a descheduled or sleeping worker
// never stalls the call (the machines are 2 shared cores; wake-ups cost more than a decode GEMV).
void parallel_chunks(int nth, int64_t nchunks, void (*fn)(void* ctx, int64_t chunk), void* ctx);

template <class F>
inline void parallel_dynamic(int64_t nchunks, F&& f, int nth = -1) {
  parallel_chunks(nth < 0 ? pool_threads() : nth, nchunks,
                  [](void* ctx, int64_t chunk) { (*static_cast<F*>(ctx))(chunk); }, &f);
}

// [begin, end) of the ith of nth contiguous, nearly equal chunks of n items.
inline void split_range(int64_t n, int ith, int nth, int64_t* begin, int64_t* end) {
  int64_t per = n / nth, rem = n % nth;
  *begin = ith * per + (ith < rem ? ith : rem);
  *end = *begin + per + (ith < rem ? 1 : 0);
}

// Whether n elements at p and m elements at q share a byte (the kernels' output-aliasing checks; the
// element types may differ, e.g. an f32 output against 16-bit weights).
template <class P, class Q>
inline bool overlaps(const P* p, int64_t n, const Q* q, int64_t m) {
  auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(q);
  return a < b + static_cast<uintptr_t>(m) * sizeof(Q) && b < a + static_cast<uintptr_t>(n) * sizeof(P);
}

// ---- GEMM for other kernel families (gemm.cc) ------------------------------------------------------
// c[M,N] (= or +=) op(a)·op(b) with the semantics of the `matmul` kernel, on raw pointers, so that a
// kernel can multiply parts of its buffers (moe.cc: one GEMM per expert group). c must not overlap a or
// b; transA && transB is not supported. Results are bit-identical for any nth.
void gemm_f32(float* c, const float* a, const float* b, int64_t M, int64_t N, int64_t K, bool transA,
              bool transB, bool accumulate, int nth);
// c[M,N] (= or +=) a[M,K] · bᵀ with b [N,K] stored as 16-bit floats (`matmulHalf`): the same kernels
// as gemm_f32, widening B exactly where they read it, so the result equals gemm_f32 on the widened B.
enum class Half;
void gemm_half_nt(float* c, const float* a, const uint16_t* b, Half kind, int64_t M, int64_t N, int64_t K,
                  bool accumulate, int nth);

// ---- N-API argument helpers (addon.cc) -----------------------------------------------------------
// Each throws a JS TypeError naming the kernel and the argument index, and returns false; the caller
// then returns nullptr. Typed arrays are read in place (no copy).
struct Args {
  napi_env env;
  const char* kernel;
  size_t argc;
  napi_value argv[24];
  Args(napi_env env, napi_callback_info info, const char* kernel, size_t expected);
  bool ok = true;
  float* f32(size_t i, size_t min_len);           // Float32Array with at least min_len elements
  int32_t* i32(size_t i, size_t min_len);         // Int32Array
  uint16_t* u16(size_t i, size_t min_len);        // Uint16Array (bf16 / f16 storage)
  int64_t int_(size_t i);                         // integer number >= 0
  double num(size_t i);                           // any finite or infinite number
  bool boolean(size_t i);
  void fail(const std::string& msg);              // throw a JS Error "moekit native <kernel>: msg"
};

napi_value undefined(napi_env env);
napi_value number(napi_env env, double v);
void export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb);

// Family registration (one per kernel file).
void register_gemm(napi_env env, napi_value exports);
void register_elementwise(napi_env env, napi_value exports);
void register_norm(napi_env env, napi_value exports);
void register_rope(napi_env env, napi_value exports);
void register_attention(napi_env env, napi_value exports);
void register_attention_cached(napi_env env, napi_value exports);
void register_memory(napi_env env, napi_value exports);
void register_loss(napi_env env, napi_value exports);
void register_optim(napi_env env, napi_value exports);
void register_dtype(napi_env env, napi_value exports);
void register_moe(napi_env env, napi_value exports);
void register_routing(napi_env env, napi_value exports);

}  // namespace moekit
