// GGUF v3 writer (interop.md §5.1, §5.10). The writer streams: the header is computed from shapes alone,
// then each tensor's bytes are made and written one at a time. It refuses what the reader (and ggml's
// loader, §5.2) would refuse, before a byte is written.
import { shapeStr } from '../../tensor/errors.js';
import { writeFileAtomic } from '../atomic.js';
import { concatArrays } from '../concat.js';
import { GgufError } from '../errors.js';
import {
  checkAlignment, GGML_TYPE_ID, GGML_TYPE_TABLE, GGUF_MAGIC, GGUF_MAX_DIMS, GGUF_MAX_NAME_BYTES, GGUF_MAX_STRING_BYTES,
  GGUF_VALUE_TYPES, GGUF_VERSION, ioError, padTo, quoteName as q, typeBytes,
  type GgmlType, type GgufScalar, type GgufScalarType, type GgufValue, type GgufValueTypeName,
} from './format.js';

/** One tensor to write. `data()` is called once, when the writer reaches the tensor (streaming). */
export interface GgufTensorSpec {
  name: string;
  type: GgmlType;
  /** ne order (§5.4): reversed PyTorch shape. */
  ne: readonly number[];
  data(): Uint8Array;
}

export interface GgufWriteOptions {
  /** Called after each tensor is written (progress lines). */
  onTensor?(index: number, count: number, name: string): void;
}

/** [byte size, min, max] of the fixed-size integer types. */
const INT_RANGE: Readonly<Record<'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32', [number, number, number]>> = {
  u8: [1, 0, 0xff], i8: [1, -0x80, 0x7f], u16: [2, 0, 0xffff], i16: [2, -0x8000, 0x7fff],
  u32: [4, 0, 0xffffffff], i32: [4, -0x80000000, 0x7fffffff],
};

/** Little-endian append-only byte buffer for the header. */
class ByteWriter {
  private buf = new Uint8Array(1 << 12);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void { this.reserve(1); this.view.setUint8(this.length, v); this.length += 1; }
  i8(v: number): void { this.reserve(1); this.view.setInt8(this.length, v); this.length += 1; }
  u16(v: number): void { this.reserve(2); this.view.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number): void { this.reserve(2); this.view.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number): void { this.reserve(4); this.view.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.reserve(4); this.view.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number): void { this.reserve(4); this.view.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number): void { this.reserve(8); this.view.setFloat64(this.length, v, true); this.length += 8; }
  u64(v: bigint): void { this.reserve(8); this.view.setBigUint64(this.length, v, true); this.length += 8; }
  i64(v: bigint): void { this.reserve(8); this.view.setBigInt64(this.length, v, true); this.length += 8; }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  string(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(BigInt(b.length));
    this.bytes(b);
  }

  padTo(alignment: number): void {
    const n = padTo(this.length, alignment) - this.length;
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function metadataError(key: string, what: string): GgufError {
  return new GgufError('InvalidMetadata', `cannot write metadata key ${q(key)}: ${what}`);
}

/** Checks one scalar against its type; returns a description of the problem or null. */
function scalarProblem(type: GgufScalarType, v: unknown): string | null {
  switch (type) {
    case 'u8': case 'i8': case 'u16': case 'i16': case 'u32': case 'i32': {
      const [, lo, hi] = INT_RANGE[type];
      return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi ? null : `${type} must be an integer in [${lo}, ${hi}], got ${String(v)}`;
    }
    case 'f32': case 'f64': return typeof v === 'number' ? null : `${type} must be a number, got ${typeof v}`;
    case 'u64': return typeof v === 'bigint' && v >= 0n && v < 2n ** 64n ? null : `u64 must be a bigint in [0, 2^64), got ${String(v)}`;
    case 'i64': return typeof v === 'bigint' && BigInt.asIntN(64, v) === v ? null : `i64 must be a 64-bit bigint, got ${String(v)}`;
    case 'bool': return typeof v === 'boolean' ? null : `bool must be true or false, got ${String(v)}`;
    case 'string':
      if (typeof v !== 'string') return `string must be a string, got ${typeof v}`;
      if (/\p{Cs}/u.test(v)) return 'the string has a lone surrogate (not encodable as UTF-8)';
      return Buffer.byteLength(v, 'utf8') > GGUF_MAX_STRING_BYTES ? `the string is over ${GGUF_MAX_STRING_BYTES} bytes` : null;
  }
}

function writeScalar(w: ByteWriter, type: GgufScalarType, v: GgufScalar): void {
  switch (type) {
    case 'u8': return w.u8(v as number);
    case 'i8': return w.i8(v as number);
    case 'u16': return w.u16(v as number);
    case 'i16': return w.i16(v as number);
    case 'u32': return w.u32(v as number);
    case 'i32': return w.i32(v as number);
    case 'f32': return w.f32(v as number);
    case 'f64': return w.f64(v as number);
    case 'u64': return w.u64(v as bigint);
    case 'i64': return w.i64(v as bigint);
    case 'bool': return w.u8(v ? 1 : 0);
    case 'string': return w.string(v as string);
  }
}

function writeKv(w: ByteWriter, key: string, value: GgufValue): void {
  if (key === '') throw metadataError(key, 'a key must not be empty');
  w.string(key);
  const typeId = GGUF_VALUE_TYPES.indexOf(value.type);
  if (typeId < 0) throw metadataError(key, `unknown value type ${JSON.stringify(value.type)} (types: ${GGUF_VALUE_TYPES.join(', ')})`);
  w.u32(typeId);
  if (value.type !== 'array') {
    const problem = scalarProblem(value.type, value.value);
    if (problem) throw metadataError(key, problem);
    writeScalar(w, value.type, value.value);
    return;
  }
  const elementId = GGUF_VALUE_TYPES.indexOf(value.elementType);
  if (value.elementType === 'array' as GgufValueTypeName) throw metadataError(key, 'nested arrays are not readable by ggml (§5.2)');
  if (elementId < 0) throw metadataError(key, `unknown element type ${JSON.stringify(value.elementType)}`);
  w.u32(elementId);
  w.u64(BigInt(value.values.length));
  value.values.forEach((v, i) => {
    const problem = scalarProblem(value.elementType, v);
    if (problem) throw metadataError(key, `element ${i}: ${problem}`);
    writeScalar(w, value.elementType, v);
  });
}

function tensorError(name: string, what: string): GgufError {
  return new GgufError('InvalidTensor', `cannot write tensor ${q(name)}: ${what}`);
}

/** Validates the tensor list (the §5.2 rules, writer side) and returns each tensor's byte size. */
function checkTensors(tensors: readonly GgufTensorSpec[]): number[] {
  const seen = new Set<string>();
  return tensors.map((t) => {
    if (typeof t.name !== 'string' || t.name === '') throw tensorError(String(t.name), 'a tensor needs a non-empty name');
    if (Buffer.byteLength(t.name, 'utf8') >= GGUF_MAX_NAME_BYTES) throw tensorError(t.name, `the name must be under ${GGUF_MAX_NAME_BYTES} bytes`);
    if (seen.has(t.name)) throw tensorError(t.name, 'the name appears twice');
    seen.add(t.name);
    if (!Object.hasOwn(GGML_TYPE_ID, t.type)) throw tensorError(t.name, `unsupported type ${JSON.stringify(t.type)} (moekit writes ${Object.keys(GGML_TYPE_ID).join(', ')})`);
    if (t.ne.length < 1 || t.ne.length > GGUF_MAX_DIMS || !t.ne.every((d) => Number.isSafeInteger(d) && d > 0)) {
      throw tensorError(t.name, `ne ${shapeStr(t.ne)} must be 1 to ${GGUF_MAX_DIMS} positive integers`);
    }
    const id = GGML_TYPE_ID[t.type];
    const block = GGML_TYPE_TABLE[id].block;
    if (t.ne[0] % block !== 0) throw tensorError(t.name, `ne[0] = ${t.ne[0]} is not a multiple of ${t.type}'s block size ${block}`);
    return Number(typeBytes(id, t.ne));
  });
}

function alignmentOf(metadata: ReadonlyMap<string, GgufValue>): number {
  try {
    return checkAlignment('metadata to write', metadata.get('general.alignment'));
  } catch (e) {
    throw metadataError('general.alignment', (e as Error).message);
  }
}

/** Header bytes (up to data_start) for these tensors; the same bytes parseHeader accepts. */
function encodeHeader(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorSpec[], sizes: readonly number[], alignment: number): Uint8Array {
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(GGUF_VERSION);
  w.u64(BigInt(tensors.length));
  w.u64(BigInt(metadata.size));
  for (const [key, value] of metadata) writeKv(w, key, value);
  let offset = 0;
  tensors.forEach((t, i) => {
    w.string(t.name);
    w.u32(t.ne.length);
    for (const d of t.ne) w.u64(BigInt(d));
    w.u32(GGML_TYPE_ID[t.type]);
    w.u64(BigInt(offset));
    offset += padTo(sizes[i], alignment);
  });
  w.padTo(alignment);
  return w.finish();
}

/** Header, then each tensor's bytes and its zero padding, made one tensor at a time. */
function* encode(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorSpec[], opts: GgufWriteOptions): Generator<Uint8Array> {
  const sizes = checkTensors(tensors);
  const alignment = alignmentOf(metadata);
  yield encodeHeader(metadata, tensors, sizes, alignment);
  for (const [i, t] of tensors.entries()) {
    const bytes = t.data();
    if (!(bytes instanceof Uint8Array) || bytes.length !== sizes[i]) {
      throw tensorError(t.name, `data() gave ${bytes instanceof Uint8Array ? `${bytes.length} bytes` : 'no bytes'}, ${t.type}${shapeStr(t.ne)} needs ${sizes[i]}`);
    }
    yield bytes;
    const pad = padTo(sizes[i], alignment) - sizes[i]; // the last tensor is padded too (§5.10)
    if (pad > 0) yield new Uint8Array(pad);
    opts.onTensor?.(i, tensors.length, t.name);
  }
}

/** The complete file image, byte for byte what writeGguf writes. */
export function serializeGguf(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorSpec[]): Uint8Array {
  return concatArrays([...encode(metadata, tensors, {})], (n) => new Uint8Array(n));
}

/**
 * Write a GGUF v3 file: the metadata in map order, the tensors in list order (data in info order, each
 * padded to ALIGNMENT). Bytes stream to `<path>.tmp-<pid>`, which is renamed over `path` only when
 * complete; on any error the temp file is removed and an existing `path` is left untouched.
 */
export function writeGguf(path: string, metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorSpec[], opts: GgufWriteOptions = {}): void {
  try {
    writeFileAtomic(path, encode(metadata, tensors, opts));
  } catch (e) {
    if (e instanceof GgufError) throw e;
    throw ioError(path, 'write', e);
  }
}
