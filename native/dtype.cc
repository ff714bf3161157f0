// Storage dtypes: float32 <-> bfloat16 / float16, round to nearest even, NaN stays NaN (made quiet),
// float16 overflow -> ±inf, subnormals exact. The bit routines are the definition; builds with F16C
// use the hardware conversion for float16, which gives the same bits.
#include <cstring>

#include "common.h"
#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace moekit {
namespace {

constexpr int64_t kPerThread = 1 << 16;  // elements

inline uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

inline float float_of(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// bf16 is the top half of a float32: add 0x7fff plus the lowest kept bit, then truncate.
inline uint16_t f32_to_bf16(float f) {
  uint32_t b = bits_of(f);
  if ((b & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((b >> 16) | 0x40u);
  return static_cast<uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

inline float bf16_to_f32(uint16_t h) { return float_of(static_cast<uint32_t>(h) << 16); }

// f16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. Normal range [2^-14, 65504].
inline uint16_t f32_to_f16(float f) {
  uint32_t b = bits_of(f);
  uint32_t sign = (b >> 16) & 0x8000u, a = b & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((a >> 13) & 0x3ffu));  // NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (a >= 0x38800000u) {                                              // normal: rebias 127 -> 15
    uint32_t r = a - (112u << 23);
    return static_cast<uint16_t>(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
  }
  if (a <= 0x33000000u) return static_cast<uint16_t>(sign);  // <= 2^-25 rounds (to even) to 0
  // subnormal: value / 2^-24 = m · 2^(e-126), with m the 24-bit significand; round the shift
  uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, shift = 126 - e;  // shift in [14, 24]
  uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) q++;
  return static_cast<uint16_t>(sign | q);
}

inline float f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return float_of(sign | 0x7f800000u | (m << 13) | (m ? 0x400000u : 0u));  // inf, quiet NaN
  if (e == 0) return float_of(sign | bits_of(static_cast<float>(m) * 5.9604644775390625e-8f));  // m·2^-24
  return float_of(sign | ((e + 112) << 23) | (m << 13));
}

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

void from_bf16(float* dst, const uint16_t* src, int64_t n) {
  for_chunks(n, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) dst[i] = bf16_to_f32(src[i]);
  });
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
  for_chunks(n, [&](int64_t i0, int64_t i1) {
    int64_t i = i0;
#if defined(__F16C__)
    for (; i + 8 <= i1; i += 8) {
      __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
#endif
    for (; i < i1; i++) dst[i] = f16_to_f32(src[i]);
  });
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
