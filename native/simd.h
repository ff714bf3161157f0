// One SIMD wrapper so each kernel is written once (ggml style). The build's flags pick the width:
// AVX-512 (16 lanes), AVX2+FMA (8 lanes) or scalar (1 lane). Kernels loop over `vf` chunks of W
// floats and finish the tail with the masked/partial load and store.
#pragma once
#include <cmath>
#include <cstdint>
#if defined(__AVX512F__) || defined(__AVX2__)
// GCC 12 reports its own _mm512_undefined_* as "may be used uninitialized" once inlined (GCC PR 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace moekit {
namespace simd {

#if defined(__AVX512F__)
constexpr int W = 16;
using vf = __m512;
inline vf load(const float* p) { return _mm512_loadu_ps(p); }
inline void store(float* p, vf v) { _mm512_storeu_ps(p, v); }
inline vf load_n(const float* p, int n) { return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p); }
inline void store_n(float* p, vf v, int n) { _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), v); }
inline vf set1(float x) { return _mm512_set1_ps(x); }
inline vf zero() { return _mm512_setzero_ps(); }
inline vf add(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
inline vf mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
inline vf div(vf a, vf b) { return _mm512_div_ps(a, b); }
inline vf fmadd(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }  // a*b + c
inline vf max(vf a, vf b) { return _mm512_max_ps(a, b); }
inline float hsum(vf v) { return _mm512_reduce_add_ps(v); }
inline float hmax(vf v) { return _mm512_reduce_max_ps(v); }
inline vf sqrt(vf v) { return _mm512_sqrt_ps(v); }
// Range for exp: below -104 the result is 0, above 89 it is +inf. max/min return their second operand
// when either is NaN, so NaN passes through.
inline vf exp_clamp(vf x) { return _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x)); }
inline vf round_nearest(vf x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline vf ldexp(vf p, vf n) { return _mm512_scalef_ps(p, n); }  // p·2^n, n integral
#elif defined(__AVX2__)
constexpr int W = 8;
using vf = __m256;
inline __m256i tail_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline vf load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, vf v) { _mm256_storeu_ps(p, v); }
// n == W takes the plain load/store: the compiler folds it away when n is known (see vec_loop).
inline vf load_n(const float* p, int n) { return n == W ? load(p) : _mm256_maskload_ps(p, tail_mask(n)); }
inline void store_n(float* p, vf v, int n) {
  if (n == W) store(p, v);
  else _mm256_maskstore_ps(p, tail_mask(n), v);
}
inline vf set1(float x) { return _mm256_set1_ps(x); }
inline vf zero() { return _mm256_setzero_ps(); }
inline vf add(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
inline vf mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf div(vf a, vf b) { return _mm256_div_ps(a, b); }
inline vf fmadd(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline vf max(vf a, vf b) { return _mm256_max_ps(a, b); }
inline float hsum(vf v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float hmax(vf v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline vf sqrt(vf v) { return _mm256_sqrt_ps(v); }
inline vf exp_clamp(vf x) { return _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x)); }
inline vf round_nearest(vf x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
// p·2^n for integral n in [-150, 128]: two factors 2^(n>>1) and 2^(n-(n>>1)), each a normal float.
inline vf ldexp(vf p, vf n) {
  __m256i k = _mm256_cvtps_epi32(n), h = _mm256_srai_epi32(k, 1), bias = _mm256_set1_epi32(127);
  __m256 a = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, bias), 23));
  __m256 b = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(k, h), bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, a), b);
}
#else
constexpr int W = 1;
using vf = float;
inline vf load(const float* p) { return *p; }
inline void store(float* p, vf v) { *p = v; }
inline vf load_n(const float* p, int n) { return n > 0 ? *p : 0.0f; }
inline void store_n(float* p, vf v, int n) { if (n > 0) *p = v; }
inline vf set1(float x) { return x; }
inline vf zero() { return 0.0f; }
inline vf add(vf a, vf b) { return a + b; }
inline vf sub(vf a, vf b) { return a - b; }
inline vf mul(vf a, vf b) { return a * b; }
inline vf div(vf a, vf b) { return a / b; }
inline vf fmadd(vf a, vf b, vf c) { return a * b + c; }
inline vf max(vf a, vf b) { return a > b ? a : b; }
inline float hsum(vf v) { return v; }
inline float hmax(vf v) { return v; }
inline vf sqrt(vf v) { return std::sqrt(v); }
#endif

// e^x. Vector builds: Cephes expf (Cody–Waite reduction x = n·ln2 + r, |r| <= ln2/2, degree-5
// polynomial for (e^r - 1 - r)/r², then scaling by 2^n); max error about 1 ulp, e^-inf = 0,
// overflow = +inf, NaN stays NaN. The scalar build calls the C library.
inline vf exp(vf x) {
#if defined(__AVX512F__) || defined(__AVX2__)
  x = exp_clamp(x);
  vf n = round_nearest(mul(x, set1(1.44269504088896341f)));
  vf r = fmadd(n, set1(-0.693359375f), x);
  r = fmadd(n, set1(2.12194440e-4f), r);
  vf p = set1(1.9875691500e-4f);
  p = fmadd(p, r, set1(1.3981999507e-3f));
  p = fmadd(p, r, set1(8.3334519073e-3f));
  p = fmadd(p, r, set1(4.1665795894e-2f));
  p = fmadd(p, r, set1(1.6666665459e-1f));
  p = fmadd(p, r, set1(5.0000001201e-1f));
  p = fmadd(p, mul(r, r), add(r, set1(1.0f)));
  return ldexp(p, n);
#else
  return std::exp(x);
#endif
}

// Runs f(i, n) over [i0, i1) in steps of W: n = W (a constant, so load_n/store_n compile to plain
// loads and stores) for every full vector, then once with n < W for the tail. Write the body once.
template <class F>
inline void vec_loop(int64_t i0, int64_t i1, F&& f) {
  int64_t i = i0;
  for (; i + W <= i1; i += W) f(i, W);
  if (i < i1) f(i, static_cast<int>(i1 - i));
}

// ---- row helpers (softmax, cross-entropy, attention) -----------------------------------------------
// Tails use the partial load; a partial store followed by a partial load zeroes the unused lanes.

// max of x[0, n), n >= 1.
inline float reduce_max(const float* x, int64_t n) {
  int64_t i = 0;
  float m = x[0];
  if (n >= W) {
    vf acc = load(x);
    for (i = W; i + W <= n; i += W) acc = max(acc, load(x + i));
    m = hmax(acc);
  }
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

// y[0, n) = e^(x - shift); returns the sum of y (fixed order). y may alias x.
inline float exp_shift_store(float* y, const float* x, int64_t n, float shift) {
  vf s = set1(shift), acc = zero();
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    vf e = exp(sub(load(x + i), s));
    store(y + i, e);
    acc = add(acc, e);
  }
  if (i < n) {
    int r = static_cast<int>(n - i);
    store_n(y + i, exp(sub(load_n(x + i, r), s)), r);
    acc = add(acc, load_n(y + i, r));
  }
  return hsum(acc);
}

// Σ e^(x - shift) over x[0, n) (fixed order), nothing stored.
inline float exp_shift_sum(const float* x, int64_t n, float shift) {
  vf s = set1(shift), acc0 = zero(), acc1 = zero();
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    acc0 = add(acc0, exp(sub(load(x + i), s)));
    acc1 = add(acc1, exp(sub(load(x + i + W), s)));
  }
  for (; i < n; i += W) {
    int r = n - i < W ? static_cast<int>(n - i) : W;
    float e[W];
    store_n(e, exp(sub(load_n(x + i, r), s)), r);
    acc0 = add(acc0, load_n(e, r));
  }
  return hsum(add(acc0, acc1));
}

// Σ x·y over [0, n) (fixed order).
inline float dot(const float* x, const float* y, int64_t n) {
  vf acc = zero();
  int64_t i = 0;
  for (; i + W <= n; i += W) acc = fmadd(load(x + i), load(y + i), acc);
  if (i < n) {
    int r = static_cast<int>(n - i);
    acc = fmadd(load_n(x + i, r), load_n(y + i, r), acc);
  }
  return hsum(acc);
}

// out[q] = horizontal sum of acc[q], q < 4. Reducing four accumulators together costs ~10 shuffles and
// adds instead of four full reductions (the GEMV does one per output).
inline void hsum4(const vf acc[4], float out[4]) {
#if defined(__AVX512F__)
  // [a.q0+a.q2, a.q1+a.q3, b.q0+b.q2, b.q1+b.q3] (q = 128-bit quarter), likewise for c, d
  __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(acc[0], acc[1], 0x44), _mm512_shuffle_f32x4(acc[0], acc[1], 0xEE));
  __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(acc[2], acc[3], 0x44), _mm512_shuffle_f32x4(acc[2], acc[3], 0xEE));
  // one quarter per accumulator: [a, b, c, d], then sum within each quarter
  __m512 x = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
  x = _mm512_add_ps(x, _mm512_permute_ps(x, 0x4E));
  x = _mm512_add_ps(x, _mm512_permute_ps(x, 0xB1));
  __m512 firsts = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12), x);
  _mm_storeu_ps(out, _mm512_castps512_ps128(firsts));
#elif defined(__AVX2__)
  __m256 x = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
  _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1)));
#else
  for (int q = 0; q < 4; q++) out[q] = acc[q];
#endif
}

}  // namespace simd
}  // namespace moekit
