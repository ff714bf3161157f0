// safetensors dtypes (interop.md §1.2): the ones moekit reads and writes, the typed array that holds
// each, the writer's dtype order (§1.4), and conversion of floating-point tensors to and from f32.
// Typed arrays are host-endian; moekit targets little-endian hosts (x86-64, arm64).
import { backend } from '../../backend/index.js';
import { SafetensorsError } from '../errors.js';
import { quoteName as q } from './json.js';

/** The dtypes moekit reads and writes (§1.2). F16 and BF16 hold raw 16-bit patterns. */
export type Dtype = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'BOOL';

interface DataOf {
  F32: Float32Array; F16: Uint16Array; BF16: Uint16Array; I64: BigInt64Array; I32: Int32Array;
  U8: Uint8Array; BOOL: Uint8Array;
}

export type SafetensorsData = DataOf[Dtype];

/** One tensor; `data` is the typed array matching `dtype` (BOOL: one byte per element, as stored). */
export type SafetensorsTensor = {
  [D in Dtype]: { name: string; dtype: D; shape: readonly number[]; data: DataOf[D] };
}[Dtype];

/** Bits per element of every dtype safetensors defines (§1.2); others are unknown. */
export const DTYPE_BITS: Readonly<Record<string, number>> = {
  BOOL: 8, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F8_E4M3FNUZ: 8, F8_E5M2FNUZ: 8,
  I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, F64: 64, C64: 64, I64: 64, U64: 64,
  F4: 4, F6_E2M3: 6, F6_E3M2: 6,
};

/**
 * Writer order (§1.4): the safetensors-rs enum order, descending — "dtype by alignment descending" with
 * BF16 before F16 — then name ascending.
 */
export const WRITE_RANK: Readonly<Record<Dtype, number>> = { I64: 0, F32: 1, I32: 2, BF16: 3, F16: 4, U8: 5, BOOL: 6 };

export const SUPPORTED = Object.keys(WRITE_RANK) as Dtype[];

export function isSupported(dtype: string): dtype is Dtype {
  return Object.hasOwn(WRITE_RANK, dtype);
}

export function elemBytes(dtype: Dtype): number {
  return DTYPE_BITS[dtype] / 8;
}

/** The typed array that holds each dtype. */
export const ARRAY_TYPE = {
  F32: Float32Array, F16: Uint16Array, BF16: Uint16Array, I64: BigInt64Array, I32: Int32Array, U8: Uint8Array, BOOL: Uint8Array,
} as const satisfies Record<Dtype, unknown>;

/** A typed array of `dtype` over `length` elements of `buffer` from `byteOffset` (which must be aligned). */
export function viewOf(dtype: Dtype, buffer: ArrayBufferLike, byteOffset: number, length: number): SafetensorsData {
  switch (dtype) {
    case 'F32': return new Float32Array(buffer, byteOffset, length);
    case 'F16': case 'BF16': return new Uint16Array(buffer, byteOffset, length);
    case 'I64': return new BigInt64Array(buffer, byteOffset, length);
    case 'I32': return new Int32Array(buffer, byteOffset, length);
    case 'U8': case 'BOOL': return new Uint8Array(buffer, byteOffset, length);
  }
}

export function makeTensor(name: string, dtype: Dtype, shape: readonly number[], data: SafetensorsData): SafetensorsTensor {
  return { name, dtype, shape, data } as SafetensorsTensor;
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The dtype of a tensor to read, refused (UnsupportedDtype) when moekit does not read it. */
export function requireSupported(source: string, name: string, dtype: string): Dtype {
  if (!isSupported(dtype)) {
    throw new SafetensorsError('UnsupportedDtype', `${source}: tensor ${q(name)} has dtype ${dtype}, which moekit does not read (supported: ${SUPPORTED.join(', ')})`,
      'convert the checkpoint to F32, F16 or BF16 first');
  }
  return dtype;
}

// ---- f32 conversion (§1.2) -----------------------------------------------------------------------------

/** The values of a floating-point tensor as f32 (F32 data is returned as is, not copied). */
export function toFloat32(t: SafetensorsTensor): Float32Array {
  switch (t.dtype) {
    case 'F32': return t.data;
    case 'F16': {
      const out = new Float32Array(t.data.length);
      backend().f16ToF32(out, t.data, t.data.length);
      return out;
    }
    case 'BF16': {
      const out = new Float32Array(t.data.length);
      backend().bf16ToF32(out, t.data, t.data.length);
      return out;
    }
    default:
      throw new SafetensorsError('UnsupportedDtype', `tensor ${q(t.name)} is ${t.dtype}; only F32, F16 and BF16 convert to f32`);
  }
}

/** A tensor of f32 values stored as `dtype` (F16/BF16 round to nearest even, §1.2). */
export function fromFloat32(name: string, shape: readonly number[], data: Float32Array, dtype: 'F32' | 'F16' | 'BF16' = 'F32'): SafetensorsTensor {
  if (dtype === 'F32') return { name, dtype, shape, data };
  const out = new Uint16Array(data.length);
  if (dtype === 'F16') backend().f32ToF16(out, data, data.length);
  else backend().f32ToBf16(out, data, data.length);
  return { name, dtype, shape, data: out };
}
