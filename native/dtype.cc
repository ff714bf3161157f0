// Storage dtypes: float32 <-> bfloat16 / float16, round to nearest even, NaN stays NaN (made quiet),
// float16 overflow -> ±inf, subnormals exact. The bit routines (half.h) are the definition; builds with
// F16C use the hardware conversion for float16, which gives the same bits.
#include "common.h"
#include "half.h"
#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace moekit {
namespace {

constexpr int64_t kPerThread = 1 << 16;  // elements

using half::f32_to_bf16;
using half::f32_to_f16;

template <class F>
void for_chunks(int64_t n, F&& f) {
  parallel([&](int ith, int nth) {
    int64_t i0, i1;
    split_range(n, ith, nth, &i0, &i1);
    f(i0, i1);
  }, n >= 2 * kPerThread ? -1 : 1);
}

void to_bf16(uint16_t* dst, const float* src, int64_t n) {
  for_chunks(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) dst[i] = f32_to_bf16(src[i]);
  });
}

// Widening is half.h's vector load (exact, the bits of bf16_to_f32 / f16_to_f32), as the kernels use it.
void from_bf16(float* dst, const uint16_t* src, int64_t n) {
  for_chunks(n, [&](int64_t i0, int64_t i1) { half::widen<half::BF16>(dst + i0, src + i0, i1 - i0); });
}

void to_f16(uint16_t* dst, const float* src, int64_t n) {
  for_chunks(n, [&](int64_t i0, int64_t i1) {
    int64_t i = i0;
#if defined(__F16C__)
    for (; i + 8 <= i1; i += 8) {
      __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
    }
#endif
    for (; i < i1; i++) dst[i] = f32_to_f16(src[i]);
  });
}

void from_f16(float* dst, const uint16_t* src, int64_t n) {
  for_chunks(n, [&](int64_t i0, int64_t i1) { half::widen<half::F16>(dst + i0, src + i0, i1 - i0); });
}

// (dst, src, n) for all four.
napi_value f32ToBf16(napi_env env, napi_callback_info info) {
  Args a(env, info, "f32ToBf16", 3);
  int64_t n = a.int_(2);
  uint16_t* dst = a.u16(0, n);
  const float* src = a.f32(1, n);
  if (!a.ok) return nullptr;
  to_bf16(dst, src, n);
  return undefined(env);
}

napi_value bf16ToF32(napi_env env, napi_callback_info info) {
  Args a(env, info, "bf16ToF32", 3);
  int64_t n = a.int_(2);
  float* dst = a.f32(0, n);
  const uint16_t* src = a.u16(1, n);
  if (!a.ok) return nullptr;
  from_bf16(dst, src, n);
  return undefined(env);
}

napi_value f32ToF16(napi_env env, napi_callback_info info) {
  Args a(env, info, "f32ToF16", 3);
  int64_t n = a.int_(2);
  uint16_t* dst = a.u16(0, n);
  const float* src = a.f32(1, n);
  if (!a.ok) return nullptr;
  to_f16(dst, src, n);
  return undefined(env);
}

napi_value f16ToF32(napi_env env, napi_callback_info info) {
  Args a(env, info, "f16ToF32", 3);
  int64_t n = a.int_(2);
  float* dst = a.f32(0, n);
  const uint16_t* src = a.u16(1, n);
  if (!a.ok) return nullptr;
  from_f16(dst, src, n);
  return undefined(env);
}

}  // namespace

void register_dtype(napi_env env, napi_value exports) {
  export_fn(env, exports, "f32ToBf16", f32ToBf16);
  export_fn(env, exports, "bf16ToF32", bf16ToF32);
  export_fn(env, exports, "f32ToF16", f32ToF16);
  export_fn(env, exports, "f16ToF32", f16ToF32);
}

}  // namespace moekit
