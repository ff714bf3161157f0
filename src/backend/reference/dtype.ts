// Storage dtype conversions, bit-exact: round to nearest, ties to even; NaN stays NaN (quiet bit set);
// f16 overflow gives ±inf, f16 subnormals are rounded correctly. Bits are read and written through
// two views of one 4-byte scratch buffer.
import type { F32 } from '../backend.js';
import { checkLength, checkSize } from './check.js';

const bitsBuf = new ArrayBuffer(4);
const f32View = new Float32Array(bitsBuf);
const u32View = new Uint32Array(bitsBuf);

function f32Bits(x: number): number {
  f32View[0] = x;
  return u32View[0];
}

function bitsF32(b: number): number {
  u32View[0] = b;
  return f32View[0];
}

function checkConvert(k: string, dst: ArrayLike<number>, src: ArrayLike<number>, n: number): void {
  checkSize(k, 'n', n);
  checkLength(k, 'dst', dst, n, 'n');
  checkLength(k, 'src', src, n, 'n');
}

/** bf16 is the top half of an f32: add half an ulp of the kept part (+1 if its lsb is odd) and truncate. */
export function f32ToBf16(dst: Uint16Array, src: F32, n: number): void {
  checkConvert('f32ToBf16', dst, src, n);
  for (let i = 0; i < n; i++) {
    const b = f32Bits(src[i]);
    if ((b & 0x7fffffff) > 0x7f800000) {
      dst[i] = (b >>> 16) | 0x0040; // NaN: keep sign and top payload, force the quiet bit
    } else {
      // Values near FLT_MAX round up into 0x7f80 (= inf), which is the correct RNE result.
      dst[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
    }
  }
}

export function bf16ToF32(dst: F32, src: Uint16Array, n: number): void {
  checkConvert('bf16ToF32', dst, src, n);
  for (let i = 0; i < n; i++) dst[i] = bitsF32(src[i] << 16);
}

/** One f32 (as a number) to f16 bits. */
function toHalf(x: number): number {
  const b = f32Bits(x);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return mant !== 0 ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00; // NaN (quiet) / inf
  const e = exp - 127; // unbiased exponent
  if (e > 15) return sign | 0x7c00; // beyond f16 range: overflow to inf
  if (e >= -14) {
    // Normal f16: keep 10 of the 23 mantissa bits. A carry out of the mantissa correctly bumps the
    // exponent, and 0x7bff + 1 = 0x7c00 is inf (e.g. 65520 → inf).
    let h = sign | ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) !== 0)) h++;
    return h;
  }
  if (e < -25) return sign; // below half the smallest subnormal (2^-25): rounds to ±0
  // Subnormal f16: value = m·2^(e−23) with the implicit bit restored, in units of 2^-24 that is
  // m >> (−e − 1). Rounding up from the largest subnormal gives 0x0400, the smallest normal.
  const m = mant | 0x800000;
  const shift = -e - 1; // 14..24
  let q = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && (q & 1) !== 0)) q++;
  return sign | q;
}

export function f32ToF16(dst: Uint16Array, src: F32, n: number): void {
  checkConvert('f32ToF16', dst, src, n);
  for (let i = 0; i < n; i++) dst[i] = toHalf(src[i]);
}

/** One f16 (bits) to an f32 value; every f16 is exactly representable. */
function fromHalf(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) {
    const mag = mant * 2 ** -24; // ±0 or subnormal
    return sign !== 0 ? -mag : mag;
  }
  if (exp === 0x1f) return bitsF32(mant !== 0 ? sign | 0x7fc00000 | (mant << 13) : sign | 0x7f800000);
  return bitsF32(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

export function f16ToF32(dst: F32, src: Uint16Array, n: number): void {
  checkConvert('f16ToF32', dst, src, n);
  for (let i = 0; i < n; i++) dst[i] = fromHalf(src[i]);
}
