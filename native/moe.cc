// MoE dispatch → grouped expert GEMMs → combine. Contract: src/backend/backend.ts ("MoE"); the
// reference twins are src/backend/reference/moe.ts.
//
// A = n (token, expert) pairs sorted by expert; rows [offsets[e], offsets[e+1]) of the dispatched
// buffers belong to expert e. Threading — every output is computed the same way whichever thread
// computes it, so results are bit-identical for any thread count:
// - gather and the combine backward write only dispatched row i: chunks of i;
// - the scatter-adds (dispatch backward, combine) hit a token row once per expert it was routed to, and
//   the pairs are sorted by expert, not token: a chunk owns a range of destination rows and adds, in i
//   order, every pair that lands there, so no two threads write one row;
// - the grouped GEMM loops over the experts here and hands each group to the packed GEMM, which
//   splits that group's tiles over the pool (one N-API call for all experts, none per expert from JS).
// Chunks are taken dynamically (parallel_dynamic), so a worker that is descheduled or asleep is not
// waited for: on the shared 2-vCPU machines a static split made these memory-bound kernels 2–9× slower
// than one thread (T = 256..16384, D = 256); dynamic chunks stay within about 1.5× of it.
#include <algorithm>
#include <cstring>
#include <string>

#include "common.h"
#include "half.h"
#include "simd.h"

namespace moekit {
namespace {

using namespace simd;

constexpr int64_t kCopyPerThread = 1 << 16;  // elements moved; below two threads' worth, waking the pool costs more
constexpr int64_t kChunkElems = 1 << 14;     // elements per chunk of dispatched rows (64 KiB)

int threads_for(int64_t work) { return work >= 2 * kCopyPerThread ? pool_threads() : 1; }

// f(i0, i1) over chunks of about kChunkElems elements of the n rows of D.
template <class F>
void for_row_chunks(int64_t n, int64_t D, F&& f) {
  int64_t per = std::max<int64_t>(1, kChunkElems / std::max<int64_t>(D, 1));
  parallel_dynamic((n + per - 1) / per, [&](int64_t ch) { f(ch * per, std::min(n, (ch + 1) * per)); },
                   threads_for(n * D));
}

// f(i) for every pair i, i ascending within each destination row: chunk ch owns rows [t0, t1) of T and
// scans all of rows[] for them (n index reads against n·D/chunks adds). About 4 chunks per thread even
// out tokens with more pairs and a late worker.
template <class F>
void for_destination_chunks(const int32_t* rows, int64_t n, int64_t T, int64_t D, F&& f) {
  int nth = threads_for(n * D);
  int chunks = static_cast<int>(nth == 1 ? 1 : std::min<int64_t>(T, 4 * nth));
  parallel_dynamic(chunks, [&](int64_t ch) {
    int64_t t0, t1;
    split_range(T, static_cast<int>(ch), chunks, &t0, &t1);
    for (int64_t i = 0; i < n; i++)
      if (rows[i] >= t0 && rows[i] < t1) f(i);
  }, nth);
}

// ---- kernels ------------------------------------------------------------------------------------

// out[n, D] = x[rows[i], :]
void gather_rows(float* out, const float* x, const int32_t* rows, int64_t n, int64_t D) {
  for_row_chunks(n, D, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) std::memcpy(out + i * D, x + int64_t{rows[i]} * D, D * sizeof(float));
  });
}

// dx[rows[i], :] += dout[i, :]; dx [T, D], dout [n, D]
void scatter_add_rows(float* dx, const float* dout, const int32_t* rows, int64_t n, int64_t T, int64_t D) {
  for_destination_chunks(rows, n, T, D, [&](int64_t i) {
    float* dst = dx + int64_t{rows[i]} * D;
    const float* src = dout + i * D;
    vec_loop(0, D, [&](int64_t c, int r) { store_n(dst + c, add(load_n(dst + c, r), load_n(src + c, r)), r); });
  });
}

// y[rows[i], :] += w[i] · x[i, :]; y [T, D], x [n, D]
void weighted_scatter_add(float* y, const float* x, const int32_t* rows, const float* w, int64_t n, int64_t T,
                          int64_t D) {
  for_destination_chunks(rows, n, T, D, [&](int64_t i) {
    float* dst = y + int64_t{rows[i]} * D;
    const float* src = x + i * D;
    const vf wi = set1(w[i]);
    vec_loop(0, D, [&](int64_t c, int r) { store_n(dst + c, fmadd(wi, load_n(src + c, r), load_n(dst + c, r)), r); });
  });
}

// dx[i, :] += w[i] · dy[rows[i], :],  dw[i] += dy[rows[i], :] · x[i, :]   (one pass over dy's row)
void weighted_scatter_add_backward(float* dx, float* dw, const float* dy, const float* x, const int32_t* rows,
                                   const float* w, int64_t n, int64_t D) {
  for_row_chunks(n, D, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) {
      const float* g = dy + int64_t{rows[i]} * D;
      const float* xi = x + i * D;
      float* dxi = dx + i * D;
      const vf wi = set1(w[i]);
      vf dot = zero();
      vec_loop(0, D, [&](int64_t c, int r) {
        vf gv = load_n(g + c, r);  // the tail's unused lanes load as 0 and add nothing to dot
        store_n(dxi + c, fmadd(wi, gv, load_n(dxi + c, r)), r);
        dot = fmadd(gv, load_n(xi + c, r), dot);
      });
      dw[i] += hsum(dot);
    }
  });
}

// c[R_e, N] (= or +=) a[R_e, K] · op(b_e), b [E, N, K] (transB) or [E, K, N]. An empty group is
// skipped; a group of at most 8 rows takes the GEMM's small-M path, which reads B unpacked (packing it
// would cost K·N moves for only rows·K·N multiply-adds).
void grouped_matmul(float* c, const float* a, const float* b, const int32_t* offsets, int64_t E, int64_t N,
                    int64_t K, bool transB, bool accumulate) {
  for (int64_t e = 0; e < E; e++) {
    int64_t r0 = offsets[e], m = offsets[e + 1] - r0;
    if (m == 0) continue;
    gemm_f32(c + r0 * N, a + r0 * K, b + e * N * K, m, N, K, false, transB, accumulate, pool_threads());
  }
}

// c[R_e, N] = a[R_e, K] · b_eᵀ with b [E, N, K] of 16-bit floats: inference with half expert weights.
void grouped_matmul_half(float* c, const float* a, const uint16_t* b, Half kind, const int32_t* offsets, int64_t E,
                         int64_t N, int64_t K) {
  for (int64_t e = 0; e < E; e++) {
    int64_t r0 = offsets[e], m = offsets[e + 1] - r0;
    if (m == 0) continue;
    gemm_half_nt(c + r0 * N, a + r0 * K, b + e * N * K, kind, m, N, K, false, pool_threads());
  }
}

// dw_e [N, K] += dy[R_e, N]ᵀ · x[R_e, K]: a TN GEMM whose inner dimension is the group's rows.
void grouped_matmul_weight_grad(float* dw, const float* dy, const float* x, const int32_t* offsets, int64_t E,
                                int64_t N, int64_t K) {
  for (int64_t e = 0; e < E; e++) {
    int64_t r0 = offsets[e], m = offsets[e + 1] - r0;
    if (m == 0) continue;
    gemm_f32(dw + e * N * K, dy + r0 * N, x + r0 * K, N, K, m, true, false, true, pool_threads());
  }
}

// ---- argument checks ----------------------------------------------------------------------------

// x·y, failing the call on int64 overflow (sizes come from JS numbers up to 2^53).
int64_t product(Args& a, int64_t x, int64_t y) {
  int64_t out = 0;
  if (a.ok && __builtin_mul_overflow(x, y, &out)) a.fail("sizes too large");
  return out;
}

// Number of elements of typed-array argument i (Args has already checked its type).
int64_t length_of(Args& a, size_t i) {
  size_t length = 0;
  if (a.ok) napi_get_typedarray_info(a.env, a.argv[i], nullptr, &length, nullptr, nullptr, nullptr);
  return static_cast<int64_t>(length);
}

// rows[i] in [0, T) for i < n; T is the row count of the [T, D] buffer that rows index.
void check_rows(Args& a, const int32_t* rows, int64_t n, int64_t T) {
  for (int64_t i = 0; a.ok && i < n; i++) {
    if (rows[i] < 0 || rows[i] >= T) {
      a.fail("rows[" + std::to_string(i) + "] = " + std::to_string(rows[i]) + " is outside [0, " + std::to_string(T) + ")");
    }
  }
}

// offsets [E+1]: offsets[0] = 0, non-decreasing. Returns n = offsets[E], the dispatched row count.
int64_t check_offsets(Args& a, const int32_t* offsets, int64_t E) {
  if (!a.ok) return 0;
  if (offsets[0] != 0) a.fail("offsets[0] = " + std::to_string(offsets[0]) + ", expected 0");
  for (int64_t e = 0; a.ok && e < E; e++) {
    if (offsets[e + 1] < offsets[e]) {
      a.fail("offsets must be non-decreasing, but offsets[" + std::to_string(e + 1) + "] = " +
             std::to_string(offsets[e + 1]) + " < offsets[" + std::to_string(e) + "] = " + std::to_string(offsets[e]));
    }
  }
  return a.ok ? offsets[E] : 0;
}

// ---- N-API ----------------------------------------------------------------------------------------

napi_value gatherRows(napi_env env, napi_callback_info info) {
  Args a(env, info, "gatherRows", 5);  // (out, x, rows, n, D)
  int64_t n = a.int_(3), D = a.int_(4), nD = product(a, n, D);
  float* out = a.f32(0, nD);
  const float* x = a.f32(1, 0);
  const int32_t* rows = a.i32(2, n);
  if (!a.ok) return nullptr;
  if (D == 0) return undefined(env);  // nothing to copy, and T = length / D is undefined
  int64_t T = length_of(a, 1) / D;
  check_rows(a, rows, n, T);
  if (a.ok && overlaps(out, nD, x, T * D)) a.fail("out must not overlap x");
  if (!a.ok) return nullptr;
  gather_rows(out, x, rows, n, D);
  return undefined(env);
}

napi_value scatterAddRows(napi_env env, napi_callback_info info) {
  Args a(env, info, "scatterAddRows", 5);  // (dx, dout, rows, n, D)
  int64_t n = a.int_(3), D = a.int_(4), nD = product(a, n, D);
  float* dx = a.f32(0, 0);
  const float* dout = a.f32(1, nD);
  const int32_t* rows = a.i32(2, n);
  if (!a.ok) return nullptr;
  if (D == 0) return undefined(env);
  int64_t T = length_of(a, 0) / D;
  check_rows(a, rows, n, T);
  if (a.ok && overlaps(dx, T * D, dout, nD)) a.fail("dx must not overlap dout");
  if (!a.ok) return nullptr;
  scatter_add_rows(dx, dout, rows, n, T, D);
  return undefined(env);
}

napi_value groupedMatmul(napi_env env, napi_callback_info info) {
  Args a(env, info, "groupedMatmul", 9);  // (c, a, b, offsets, E, N, K, transB, accumulate)
  int64_t E = a.int_(4), N = a.int_(5), K = a.int_(6);
  bool transB = a.boolean(7), accumulate = a.boolean(8);
  const int32_t* offsets = a.i32(3, E + 1);
  int64_t n = check_offsets(a, offsets, E);
  int64_t nN = product(a, n, N), nK = product(a, n, K), ENK = product(a, product(a, E, N), K);
  float* c = a.f32(0, nN);
  const float* am = a.f32(1, nK);
  const float* b = a.f32(2, ENK);
  if (a.ok && (overlaps(c, nN, am, nK) || overlaps(c, nN, b, ENK))) a.fail("c must not overlap a or b");
  if (!a.ok) return nullptr;
  grouped_matmul(c, am, b, offsets, E, N, K, transB, accumulate);
  return undefined(env);
}

napi_value groupedMatmulHalf(napi_env env, napi_callback_info info) {
  Args a(env, info, "groupedMatmulHalf", 8);  // (c, a, b, bf16, offsets, E, N, K)
  Half kind = a.boolean(3) ? Half::BF16 : Half::F16;
  int64_t E = a.int_(5), N = a.int_(6), K = a.int_(7);
  const int32_t* offsets = a.i32(4, E + 1);
  int64_t n = check_offsets(a, offsets, E);
  int64_t nN = product(a, n, N), nK = product(a, n, K), ENK = product(a, product(a, E, N), K);
  float* c = a.f32(0, nN);
  const float* am = a.f32(1, nK);
  const uint16_t* b = a.u16(2, ENK);
  if (a.ok && (overlaps(c, nN, am, nK) || overlaps(c, nN, b, ENK))) a.fail("c must not overlap a or b");
  if (!a.ok) return nullptr;
  grouped_matmul_half(c, am, b, kind, offsets, E, N, K);
  return undefined(env);
}

napi_value groupedMatmulWeightGrad(napi_env env, napi_callback_info info) {
  Args a(env, info, "groupedMatmulWeightGrad", 7);  // (dw, dy, x, offsets, E, N, K)
  int64_t E = a.int_(4), N = a.int_(5), K = a.int_(6);
  const int32_t* offsets = a.i32(3, E + 1);
  int64_t n = check_offsets(a, offsets, E);
  int64_t nN = product(a, n, N), nK = product(a, n, K), ENK = product(a, product(a, E, N), K);
  float* dw = a.f32(0, ENK);
  const float* dy = a.f32(1, nN);
  const float* x = a.f32(2, nK);
  if (a.ok && (overlaps(dw, ENK, dy, nN) || overlaps(dw, ENK, x, nK))) a.fail("dw must not overlap dy or x");
  if (!a.ok) return nullptr;
  grouped_matmul_weight_grad(dw, dy, x, offsets, E, N, K);
  return undefined(env);
}

napi_value weightedScatterAdd(napi_env env, napi_callback_info info) {
  Args a(env, info, "weightedScatterAdd", 6);  // (y, x, rows, weights, n, D)
  int64_t n = a.int_(4), D = a.int_(5), nD = product(a, n, D);
  float* y = a.f32(0, 0);
  const float* x = a.f32(1, nD);
  const int32_t* rows = a.i32(2, n);
  const float* w = a.f32(3, n);
  if (!a.ok) return nullptr;
  if (D == 0) return undefined(env);
  int64_t T = length_of(a, 0) / D;
  check_rows(a, rows, n, T);
  if (a.ok && (overlaps(y, T * D, x, nD) || overlaps(y, T * D, w, n))) a.fail("y must not overlap x or weights");
  if (!a.ok) return nullptr;
  weighted_scatter_add(y, x, rows, w, n, T, D);
  return undefined(env);
}

napi_value weightedScatterAddBackward(napi_env env, napi_callback_info info) {
  Args a(env, info, "weightedScatterAddBackward", 8);  // (dx, dweights, dy, x, rows, weights, n, D)
  int64_t n = a.int_(6), D = a.int_(7), nD = product(a, n, D);
  float* dx = a.f32(0, nD);
  float* dw = a.f32(1, n);
  const float* dy = a.f32(2, 0);
  const float* x = a.f32(3, nD);
  const int32_t* rows = a.i32(4, n);
  const float* w = a.f32(5, n);
  if (!a.ok) return nullptr;
  if (D == 0) return undefined(env);  // dweights += empty sums
  int64_t T = length_of(a, 2) / D;
  check_rows(a, rows, n, T);
  // dx and dweights are read-modify-written in the same pass that reads dy, x and weights.
  if (a.ok && (overlaps(dx, nD, dy, T * D) || overlaps(dx, nD, x, nD) || overlaps(dx, nD, w, n) ||
               overlaps(dw, n, dy, T * D) || overlaps(dw, n, x, nD) || overlaps(dw, n, w, n) ||
               overlaps(dx, nD, dw, n))) {
    a.fail("dx and dweights must not overlap each other or dy, x, weights");
  }
  if (!a.ok) return nullptr;
  weighted_scatter_add_backward(dx, dw, dy, x, rows, w, n, D);
  return undefined(env);
}

}  // namespace

void register_moe(napi_env env, napi_value exports) {
  export_fn(env, exports, "gatherRows", gatherRows);
  export_fn(env, exports, "scatterAddRows", scatterAddRows);
  export_fn(env, exports, "groupedMatmul", groupedMatmul);
  export_fn(env, exports, "groupedMatmulHalf", groupedMatmulHalf);
  export_fn(env, exports, "groupedMatmulWeightGrad", groupedMatmulWeightGrad);
  export_fn(env, exports, "weightedScatterAdd", weightedScatterAdd);
  export_fn(env, exports, "weightedScatterAddBackward", weightedScatterAddBackward);
}

}  // namespace moekit
