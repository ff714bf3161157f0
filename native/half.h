// 16-bit float storage: the bit-exact scalar conversions (the definition every build shares) and
// vector loads that widen W stored halves to W floats. Widening is exact for both formats, so a kernel
// that widens its weights on the fly computes exactly what it computes on the f32 copy.
#pragma once
#include <cstdint>
#include <cstring>

#include "simd.h"

namespace moekit {

enum class Half { F16, BF16 };

namespace half {

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

// ---- W-lane widening loads ------------------------------------------------------------------------
// The F16C conversion gives the bits of f16_to_f32 (NaNs quiet), so every build widens identically.
#if defined(__AVX512F__)
inline __m256i raw(const uint16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256i raw_n(const uint16_t* p, int n) { return _mm256_maskz_loadu_epi16(static_cast<__mmask16>((1u << n) - 1), p); }
inline simd::vf widen_bf16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
inline simd::vf widen_f16(__m256i h) { return _mm512_cvtph_ps(h); }
#elif defined(__AVX2__)
inline __m128i raw(const uint16_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline __m128i raw_n(const uint16_t* p, int n) {
  uint16_t lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::memcpy(lanes, p, sizeof(uint16_t) * static_cast<size_t>(n));
  return raw(lanes);
}
inline simd::vf widen_bf16(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }
inline simd::vf widen_f16(__m128i h) { return _mm256_cvtph_ps(h); }
#else
inline uint16_t raw(const uint16_t* p) { return *p; }
inline uint16_t raw_n(const uint16_t* p, int n) { return n > 0 ? *p : 0; }
inline simd::vf widen_bf16(uint16_t h) { return bf16_to_f32(h); }
inline simd::vf widen_f16(uint16_t h) { return f16_to_f32(h); }
#endif

// Element loaders for kernels templated on how a weight row is stored: load(p) reads W elements,
// load_n(p, n) the first n (< W) and zeros the rest.
struct F32 {
  using T = float;
  static simd::vf load(const T* p) { return simd::load(p); }
  static simd::vf load_n(const T* p, int n) { return simd::load_n(p, n); }
};
struct BF16 {
  using T = uint16_t;
  static simd::vf load(const T* p) { return widen_bf16(raw(p)); }
  static simd::vf load_n(const T* p, int n) { return widen_bf16(raw_n(p, n)); }
};
struct F16 {
  using T = uint16_t;
  static simd::vf load(const T* p) { return widen_f16(raw(p)); }
  static simd::vf load_n(const T* p, int n) { return widen_f16(raw_n(p, n)); }
};

// dst[0, n) = src[0, n) widened.
template <class L>
inline void widen(float* dst, const uint16_t* src, int64_t n) {
  int64_t i = 0;
  for (; i + simd::W <= n; i += simd::W) simd::store(dst + i, L::load(src + i));
  if (i < n) simd::store_n(dst + i, L::load_n(src + i, static_cast<int>(n - i)), static_cast<int>(n - i));
}

}  // namespace half
}  // namespace moekit
