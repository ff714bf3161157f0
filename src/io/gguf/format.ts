// The GGUF v3 file layout (interop.md §5.1): the constants, metadata value types and ggml tensor types
// that the reader (reader.ts) and the writer (writer.ts) share.
//
//   magic "GGUF" | version u32 | tensor_count u64 | kv_count u64
//   kv × kv_count            key: gguf string, value_type u32, value
//   tensor_info × count      name: gguf string, n_dims u32, ne[n_dims] u64, ggml type u32, offset u64
//   zero padding to ALIGNMENT, then the data: tensor i at data_start + offset_i, each padded to ALIGNMENT
//
// gguf string = u64 byte length + UTF-8 bytes. Limits of ggml's loader are §5.2; ggml types §5.3.
import { GgufError } from '../errors.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as u32 LE
export const GGUF_VERSION = 3;
/** ALIGNMENT when `general.alignment` is absent (§5.1). */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS: a tensor has at most 4 dimensions (§5.2). */
export const GGUF_MAX_DIMS = 4;
/** ggml's GGML_MAX_NAME: a tensor name needs fewer than 64 bytes (§5.2). */
export const GGUF_MAX_NAME_BYTES = 64;
/** Longest string ggml reads (§5.2). */
export const GGUF_MAX_STRING_BYTES = 2 ** 30;

// ---- metadata values (§5.1) ----------------------------------------------------------------------------

/** Value types by their on-disk ids (§5.1). */
export const GGUF_VALUE_TYPES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'] as const;
export type GgufValueTypeName = (typeof GGUF_VALUE_TYPES)[number];
export type GgufScalarType = Exclude<GgufValueTypeName, 'array'>;
export type GgufNumberType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
export type GgufScalar = number | bigint | boolean | string;

export type GgufValue =
  | { type: GgufNumberType; value: number }
  | { type: 'u64' | 'i64'; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; elementType: GgufScalarType; values: readonly GgufScalar[] };

/** Constructors for metadata values, so the exact type of every key is spelled where it is set (§5.6). */
export const gv = {
  u32: (value: number): GgufValue => ({ type: 'u32', value }),
  i32: (value: number): GgufValue => ({ type: 'i32', value }),
  u16: (value: number): GgufValue => ({ type: 'u16', value }),
  f32: (value: number): GgufValue => ({ type: 'f32', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  u64: (value: bigint): GgufValue => ({ type: 'u64', value }),
  strings: (values: readonly string[]): GgufValue => ({ type: 'array', elementType: 'string', values }),
  i32s: (values: readonly number[]): GgufValue => ({ type: 'array', elementType: 'i32', values }),
  f32s: (values: readonly number[]): GgufValue => ({ type: 'array', elementType: 'f32', values }),
};

// ---- ggml tensor types (§5.3) ------------------------------------------------------------------------

/** Elements per block and bytes per block of every ggml type (ggml.c type_traits), by type id. */
export const GGML_TYPE_TABLE: Readonly<Record<number, { name: string; block: number; bytes: number }>> = {
  0: { name: 'F32', block: 1, bytes: 4 }, 1: { name: 'F16', block: 1, bytes: 2 },
  2: { name: 'Q4_0', block: 32, bytes: 18 }, 3: { name: 'Q4_1', block: 32, bytes: 20 },
  6: { name: 'Q5_0', block: 32, bytes: 22 }, 7: { name: 'Q5_1', block: 32, bytes: 24 },
  8: { name: 'Q8_0', block: 32, bytes: 34 }, 9: { name: 'Q8_1', block: 32, bytes: 36 },
  10: { name: 'Q2_K', block: 256, bytes: 84 }, 11: { name: 'Q3_K', block: 256, bytes: 110 },
  12: { name: 'Q4_K', block: 256, bytes: 144 }, 13: { name: 'Q5_K', block: 256, bytes: 176 },
  14: { name: 'Q6_K', block: 256, bytes: 210 }, 15: { name: 'Q8_K', block: 256, bytes: 292 },
  16: { name: 'IQ2_XXS', block: 256, bytes: 66 }, 17: { name: 'IQ2_XS', block: 256, bytes: 74 },
  18: { name: 'IQ3_XXS', block: 256, bytes: 98 }, 19: { name: 'IQ1_S', block: 256, bytes: 50 },
  20: { name: 'IQ4_NL', block: 32, bytes: 18 }, 21: { name: 'IQ3_S', block: 256, bytes: 110 },
  22: { name: 'IQ2_S', block: 256, bytes: 82 }, 23: { name: 'IQ4_XS', block: 256, bytes: 136 },
  24: { name: 'I8', block: 1, bytes: 1 }, 25: { name: 'I16', block: 1, bytes: 2 },
  26: { name: 'I32', block: 1, bytes: 4 }, 27: { name: 'I64', block: 1, bytes: 8 },
  28: { name: 'F64', block: 1, bytes: 8 }, 29: { name: 'IQ1_M', block: 256, bytes: 56 },
  30: { name: 'BF16', block: 1, bytes: 2 }, 34: { name: 'TQ1_0', block: 256, bytes: 54 },
  35: { name: 'TQ2_0', block: 256, bytes: 66 }, 39: { name: 'MXFP4', block: 32, bytes: 17 },
};

/** The types moekit writes and decodes to f32. */
export type GgmlType = 'F32' | 'F16' | 'BF16' | 'Q8_0';
export const GGML_TYPE_ID: Readonly<Record<GgmlType, number>> = { F32: 0, F16: 1, Q8_0: 8, BF16: 30 };

/** Bytes of a tensor of `type` with `ne` (ne[0] must be a whole number of blocks). */
export function typeBytes(typeId: number, ne: readonly number[]): bigint {
  const t = GGML_TYPE_TABLE[typeId];
  const numel = ne.reduce((a, d) => a * BigInt(d), 1n);
  return (numel / BigInt(t.block)) * BigInt(t.bytes);
}

export function padTo(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** A name from a file, quoted and escaped, cut at 120 characters. */
function q(name: string): string {
  return JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name);
}
export { q as quoteName };

// ---- shared by the reader and the writer --------------------------------------------------------------

export interface GgufTensorInfo {
  name: string;
  /** The ggml type name (e.g. F16, Q4_K). */
  type: string;
  typeId: number;
  /** ne order: ne[0] is the fastest-varying axis (§5.4). */
  ne: number[];
  /** Relative to the start of the data section. */
  offset: number;
  nbytes: number;
}

/** The reader refuses what ggml's loader refuses (§5.2); this is why. */
export const BAD_WRITER = 'the file was written by a non-conforming writer; llama.cpp would refuse it too';

/** `general.alignment` (§5.1): absent means GGUF_DEFAULT_ALIGNMENT, otherwise a u32 power of two. */
export function checkAlignment(source: string, value: GgufValue | undefined): number {
  if (value === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (value.type !== 'u32') {
    throw new GgufError('BadAlignment', `${source}: key "general.alignment" has type ${value.type}, expected u32`, BAD_WRITER);
  }
  const a = value.value;
  if (a === 0 || (a & (a - 1)) !== 0) {
    throw new GgufError('BadAlignment', `${source}: key "general.alignment" = ${a} is not a power of two`, BAD_WRITER);
  }
  return a;
}

export function ioError(path: string, what: string, e: unknown): GgufError {
  return new GgufError('Io', `${path}: cannot ${what}: ${(e as Error).message}`);
}
