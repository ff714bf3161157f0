// GGUF v3 reader and writer (interop.md §5).
//
//   magic "GGUF" | version u32 | tensor_count u64 | kv_count u64
//   kv × kv_count            key: gguf string, value_type u32, value
//   tensor_info × count      name: gguf string, n_dims u32, ne[n_dims] u64, ggml type u32, offset u64
//   zero padding to ALIGNMENT, then the data: tensor i at data_start + offset_i, each padded to ALIGNMENT
//
// gguf string = u64 byte length + UTF-8 bytes. The reader refuses everything ggml's loader refuses
// (§5.2) before touching tensor data, and never trusts a count or an offset: every length is checked
// against the bytes the file still has before anything is allocated. The writer streams: the header is
// computed from shapes alone, then each tensor's bytes are made and written one at a time.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { backend } from '../backend/index.js';
import { nearest, shapeStr } from '../tensor/errors.js';
import { writeFileAtomic } from './atomic.js';
import { GgufError } from './errors.js';
import { concatArrays } from './concat.js';

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

/** [byte size, min, max] of the fixed-size integer types. */
const INT_RANGE: Readonly<Record<'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32', [number, number, number]>> = {
  u8: [1, 0, 0xff], i8: [1, -0x80, 0x7f], u16: [2, 0, 0xffff], i16: [2, -0x8000, 0x7fff],
  u32: [4, 0, 0xffffffff], i32: [4, -0x80000000, 0x7fffffff],
};

/** Smallest encoding of one element of each scalar type (strings: the u64 length alone). */
const MIN_BYTES: Readonly<Record<GgufScalarType, number>> = {
  u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, string: 8, u64: 8, i64: 8, f64: 8,
};

// ---- ggml tensor types (§5.3) ------------------------------------------------------------------------

/** Elements per block and bytes per block of every ggml type (ggml.c type_traits), by type id. */
const GGML_TYPE_TABLE: Readonly<Record<number, { name: string; block: number; bytes: number }>> = {
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
function typeBytes(typeId: number, ne: readonly number[]): bigint {
  const t = GGML_TYPE_TABLE[typeId];
  const numel = ne.reduce((a, d) => a * BigInt(d), 1n);
  return (numel / BigInt(t.block)) * BigInt(t.bytes);
}

function padTo(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** A name from a file, quoted and escaped, cut at 120 characters. */
function q(name: string): string {
  return JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name);
}

// ---- reader ------------------------------------------------------------------------------------------

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

export interface GgufHeader {
  path: string;
  version: number;
  /** In file order. */
  metadata: Map<string, GgufValue>;
  /** In tensor-info order (= data order, §5.2). */
  tensors: GgufTensorInfo[];
  alignment: number;
  /** File offset of the data section. */
  dataStart: number;
}

const NOT_GGUF = 'the file is not a GGUF file, or it is truncated or corrupt';
const BAD_WRITER = 'the file was written by a non-conforming writer; llama.cpp would refuse it too';

/** Sequential reads over `readAt`, buffered; every read is bounds-checked against the file length. */
class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  constructor(readonly source: string, readonly length: number, private readonly readAt: (pos: number, len: number) => Uint8Array) {}

  remaining(): number {
    return this.length - this.pos;
  }

  bytes(n: number, what: string): Uint8Array {
    if (n > this.remaining()) {
      throw new GgufError('Truncated', `${this.source}: file ends at byte ${this.length} while reading ${what} (needs ${n} bytes at byte ${this.pos})`, NOT_GGUF);
    }
    const inBuf = this.pos - this.bufStart;
    if (inBuf < 0 || inBuf + n > this.buf.length) {
      this.bufStart = this.pos;
      this.buf = this.readAt(this.pos, Math.min(this.remaining(), Math.max(n, 1 << 20)));
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return this.buf.subarray(at, at + n);
  }

  private view(n: number, what: string): DataView {
    const b = this.bytes(n, what);
    return new DataView(b.buffer, b.byteOffset, n);
  }

  u32(what: string): number {
    return this.view(4, what).getUint32(0, true);
  }

  u64(what: string): bigint {
    return this.view(8, what).getBigUint64(0, true);
  }

  /** A count or size that must fit in the rest of the file at `unit` bytes each. */
  count(what: string, unit: number): number {
    const n = this.u64(what);
    if (n * BigInt(unit) > BigInt(this.remaining())) {
      throw new GgufError('Truncated', `${this.source}: ${what} = ${n} needs at least ${n * BigInt(unit)} more bytes, the file has ${this.remaining()} left`, NOT_GGUF);
    }
    return Number(n);
  }

  string(what: string): string {
    const n = this.u64(`the length of ${what}`);
    if (n > BigInt(GGUF_MAX_STRING_BYTES)) {
      throw new GgufError('TooLarge', `${this.source}: ${what} is ${n} bytes long; ggml reads strings up to ${GGUF_MAX_STRING_BYTES} bytes`, BAD_WRITER);
    }
    const b = this.bytes(Number(n), what);
    try {
      return this.utf8.decode(b);
    } catch {
      throw new GgufError('BadString', `${this.source}: ${what} is not valid UTF-8`, BAD_WRITER);
    }
  }

  scalar(type: GgufScalarType, what: string): GgufScalar {
    switch (type) {
      case 'u8': return this.view(1, what).getUint8(0);
      case 'i8': return this.view(1, what).getInt8(0);
      case 'u16': return this.view(2, what).getUint16(0, true);
      case 'i16': return this.view(2, what).getInt16(0, true);
      case 'u32': return this.view(4, what).getUint32(0, true);
      case 'i32': return this.view(4, what).getInt32(0, true);
      case 'f32': return this.view(4, what).getFloat32(0, true);
      case 'f64': return this.view(8, what).getFloat64(0, true);
      case 'u64': return this.view(8, what).getBigUint64(0, true);
      case 'i64': return this.view(8, what).getBigInt64(0, true);
      case 'string': return this.string(what);
      case 'bool': {
        const b = this.view(1, what).getUint8(0);
        if (b > 1) throw new GgufError('BadValue', `${this.source}: ${what} is a bool stored as ${b}; a bool must be 0 or 1`, BAD_WRITER);
        return b === 1;
      }
    }
  }
}

function valueType(c: Cursor, what: string): GgufValueTypeName {
  const id = c.u32(`the value type of ${what}`);
  const type = GGUF_VALUE_TYPES[id];
  if (type === undefined) {
    throw new GgufError('BadValueType', `${c.source}: ${what} has value type ${id}; GGUF defines 0..${GGUF_VALUE_TYPES.length - 1}`, BAD_WRITER);
  }
  return type;
}

function readValue(c: Cursor, key: string): GgufValue {
  const what = `key ${q(key)}`;
  const type = valueType(c, what);
  if (type !== 'array') return { type, value: c.scalar(type, `the value of ${what}`) } as GgufValue;
  const elementType = valueType(c, `the elements of ${what}`);
  if (elementType === 'array') {
    throw new GgufError('NestedArray', `${c.source}: ${what} is an array of arrays; ggml does not read nested arrays`, BAD_WRITER);
  }
  const n = c.count(`the element count of ${what}`, MIN_BYTES[elementType]);
  const values: GgufScalar[] = new Array(n);
  for (let i = 0; i < n; i++) values[i] = c.scalar(elementType, `element ${i} of ${what}`);
  return { type, elementType, values };
}

function checkAlignment(source: string, value: GgufValue | undefined): number {
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

function readTensorInfo(c: Cursor, i: number): Omit<GgufTensorInfo, 'nbytes'> & { nbytes: bigint } {
  const name = c.string(`the name of tensor ${i}`);
  const where = `${c.source}: tensor ${i} ${q(name)}`;
  if (Buffer.byteLength(name, 'utf8') >= GGUF_MAX_NAME_BYTES) {
    throw new GgufError('BadTensorName', `${where}: the name is ${Buffer.byteLength(name, 'utf8')} bytes; ggml needs fewer than ${GGUF_MAX_NAME_BYTES}`, BAD_WRITER);
  }
  const nDims = c.u32(`n_dims of tensor ${q(name)}`);
  if (nDims > GGUF_MAX_DIMS) throw new GgufError('BadDims', `${where}: n_dims = ${nDims}; ggml tensors have at most ${GGUF_MAX_DIMS}`, BAD_WRITER);
  const ne: number[] = [];
  let numel = 1n;
  for (let d = 0; d < nDims; d++) {
    const raw = BigInt.asIntN(64, c.u64(`ne[${d}] of tensor ${q(name)}`)); // ggml reads ne as int64
    if (raw < 0n) throw new GgufError('BadDims', `${where}: ne[${d}] = ${raw} is negative`, BAD_WRITER);
    numel *= raw;
    if (numel > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufError('BadDims', `${where}: ${ne.concat(Number(raw)).join(' × ')}… elements overflow`, BAD_WRITER);
    ne.push(Number(raw));
  }
  const typeId = c.u32(`the type of tensor ${q(name)}`);
  const t = GGML_TYPE_TABLE[typeId];
  if (!t) {
    throw new GgufError('UnknownType', `${where}: unknown ggml type ${typeId}`, 'the file may come from a newer llama.cpp than moekit knows, or it is corrupt');
  }
  if (nDims > 0 && ne[0] % t.block !== 0) {
    throw new GgufError('BlockSize', `${where}: ne[0] = ${ne[0]} is not a multiple of ${t.name}'s block size ${t.block}`, BAD_WRITER);
  }
  const offset = c.u64(`the offset of tensor ${q(name)}`);
  return { name, type: t.name, typeId, ne, offset: Number(offset), nbytes: typeBytes(typeId, ne) };
}

/** Parse and validate a header (§5.1, §5.2); `readAt(pos, len)` returns file bytes, `fileLength` is trusted. */
function parseHeader(source: string, fileLength: number, readAt: (pos: number, len: number) => Uint8Array): GgufHeader {
  const c = new Cursor(source, fileLength, readAt);
  const magic = c.u32('the magic number');
  if (magic !== GGUF_MAGIC) {
    const got = Buffer.alloc(4);
    got.writeUInt32LE(magic);
    throw new GgufError('BadMagic', `${source}: bad magic ${JSON.stringify(got.toString('latin1'))} (bytes ${got.toString('hex')}); a GGUF file starts with "GGUF"`, NOT_GGUF);
  }
  const version = c.u32('the version');
  if (version !== 2 && version !== 3) {
    throw new GgufError('BadVersion', `${source}: GGUF version ${version} is not supported (moekit and llama.cpp read versions 2 and 3)`,
      version === 1 ? 'version 1 files must be converted with a current llama.cpp' : NOT_GGUF);
  }
  const tensorCount = c.count('tensor_count', 8 + 4 + 4 + 8); // empty name, n_dims, type, offset
  const kvCount = c.count('kv_count', 8 + 4);                // empty key, value type

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`the key of metadata entry ${i}`);
    if (key === '') throw new GgufError('EmptyKey', `${source}: metadata entry ${i} has an empty key`, BAD_WRITER);
    if (metadata.has(key)) throw new GgufError('DuplicateKey', `${source}: duplicate metadata key ${q(key)} (entry ${i})`, BAD_WRITER);
    metadata.set(key, readValue(c, key));
  }
  const alignment = checkAlignment(source, metadata.get('general.alignment'));

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  let expected = 0n; // offset ≠ running sum of padded sizes is refused (§5.2)
  for (let i = 0; i < tensorCount; i++) {
    const info = readTensorInfo(c, i);
    if (names.has(info.name)) throw new GgufError('DuplicateTensor', `${source}: duplicate tensor name ${q(info.name)} (tensor ${i})`, BAD_WRITER);
    names.add(info.name);
    if (BigInt(info.offset) !== expected) {
      throw new GgufError('BadOffset', `${source}: tensor ${q(info.name)}: offset ${info.offset}, expected ${expected} `
        + `(tensors must lie in info order, each padded to ALIGNMENT ${alignment})`, BAD_WRITER);
    }
    expected += BigInt(padTo(Number(info.nbytes), alignment));
    tensors.push({ ...info, nbytes: Number(info.nbytes) });
  }
  const dataStart = padTo(c.pos, alignment);
  // llama.cpp checks that each tensor's bytes lie inside the file (the last one's padding may be missing)
  const t = tensors.find((x) => dataStart + x.offset + x.nbytes > fileLength);
  if (t) {
    throw new GgufError('Truncated', `${source}: tensor ${q(t.name)} (${t.type}${shapeStr(t.ne)}) lies at bytes `
      + `${dataStart + t.offset}..${dataStart + t.offset + t.nbytes}, past the end of the file (${fileLength} bytes)`, NOT_GGUF);
  }
  return { path: source, version, metadata, tensors, alignment, dataStart };
}

// ---- decoding tensor data to f32 ---------------------------------------------------------------------------

function f16ToF32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  backend().f16ToF32(out, bits, bits.length);
  return out;
}

/** The f32 values of a tensor's bytes (F32, F16, BF16, Q8_0 dequantised as x = d·q, §5.3). */
export function decodeTensor(source: string, info: GgufTensorInfo, bytes: Uint8Array): Float32Array {
  const numel = info.ne.reduce((a, b) => a * b, 1);
  const copy = bytes.slice(); // aligned for the typed arrays below
  switch (info.type) {
    case 'F32': return new Float32Array(copy.buffer, 0, numel);
    case 'F16': return f16ToF32(new Uint16Array(copy.buffer, 0, numel));
    case 'BF16': {
      const out = new Float32Array(numel);
      backend().bf16ToF32(out, new Uint16Array(copy.buffer, 0, numel), numel);
      return out;
    }
    case 'Q8_0': {
      const blocks = numel / 32;
      const view = new DataView(copy.buffer);
      const d = new Uint16Array(blocks);
      for (let b = 0; b < blocks; b++) d[b] = view.getUint16(b * 34, true);
      const scale = f16ToF32(d);
      const out = new Float32Array(numel);
      for (let b = 0; b < blocks; b++) {
        for (let j = 0; j < 32; j++) out[b * 32 + j] = scale[b] * view.getInt8(b * 34 + 2 + j);
      }
      return out;
    }
    default:
      throw new GgufError('UnsupportedType', `${source}: tensor ${q(info.name)} is ${info.type}; moekit decodes F32, F16, BF16 and Q8_0`);
  }
}

// ---- opening files -----------------------------------------------------------------------------------------

/** A validated GGUF image: the header, and tensor data on demand. */
export interface GgufReader extends GgufHeader {
  /** The tensor's raw bytes (ggml layout). */
  readBytes(name: string): Uint8Array;
  /** The tensor's values as f32 (ne order, §5.4). */
  read(name: string): Float32Array;
  info(name: string): GgufTensorInfo;
  close(): void;
}

function ioError(path: string, what: string, e: unknown): GgufError {
  return new GgufError('Io', `${path}: cannot ${what}: ${(e as Error).message}`);
}

function makeReader(header: GgufHeader, readAt: (pos: number, len: number) => Uint8Array, close: () => void): GgufReader {
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  const info = (name: string): GgufTensorInfo => {
    const t = byName.get(name);
    if (t) return t;
    const near = nearest(name, [...byName.keys()]);
    throw new GgufError('TensorNotFound', `${header.path}: no tensor named ${q(name)} (${byName.size} tensors)`, near === undefined ? undefined : `did you mean ${q(near)}?`);
  };
  const readBytes = (name: string): Uint8Array => {
    const t = info(name);
    return readAt(header.dataStart + t.offset, t.nbytes);
  };
  return { ...header, info, readBytes, read: (name) => decodeTensor(header.path, info(name), readBytes(name)), close };
}

/** Validate a GGUF image held in memory (`source` names it in errors). */
export function parseGguf(bytes: Uint8Array, source = 'GGUF buffer'): GgufReader {
  const readAt = (pos: number, len: number) => bytes.subarray(pos, pos + len);
  return makeReader(parseHeader(source, bytes.length, readAt), readAt, () => {});
}

/** Open and validate a GGUF file (§5.2) without reading tensor data. Call close() when done. */
export function openGguf(path: string): GgufReader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioError(path, 'open', e);
  }
  let open = true;
  const readAt = (pos: number, len: number): Uint8Array => {
    if (!open) throw new GgufError('Io', `${path}: cannot read: the reader is closed`);
    const out = new Uint8Array(len);
    for (let off = 0; off < len;) {
      let n: number;
      try {
        n = readSync(fd, out, off, Math.min(1 << 30, len - off), pos + off);
      } catch (e) {
        throw ioError(path, 'read', e);
      }
      if (n === 0) throw new GgufError('Truncated', `${path}: file ended at byte ${pos + off} while reading (was it truncated while open?)`);
      off += n;
    }
    return out;
  };
  try {
    const header = parseHeader(path, fstatSync(fd).size, readAt);
    return makeReader(header, readAt, () => {
      if (open) closeSync(fd);
      open = false;
    });
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

// ---- writer ------------------------------------------------------------------------------------------------

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

// ---- tensor encoders -------------------------------------------------------------------------------------

/** The bytes of f32 values stored as `type` (F16/BF16 round to nearest even; Q8_0 per §5.3). */
export function encodeF32(values: Float32Array, type: GgmlType): Uint8Array {
  switch (type) {
    case 'F32': return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case 'F16': case 'BF16': {
      const out = new Uint16Array(values.length);
      if (type === 'F16') backend().f32ToF16(out, values, values.length);
      else backend().f32ToBf16(out, values, values.length);
      return new Uint8Array(out.buffer);
    }
    case 'Q8_0': return quantizeQ8_0(values);
  }
}

/**
 * Q8_0 (§5.3): blocks of 32 along ne[0]; d = amax/127 stored as f16, q = round-half-away(x/d), in f32
 * arithmetic as ggml's reference quantiser does it.
 */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
  if (values.length % 32 !== 0) throw new GgufError('InvalidTensor', `Q8_0 needs a multiple of 32 values, got ${values.length}`);
  const blocks = values.length / 32;
  const d = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(values[b * 32 + j]));
    d[b] = Math.fround(amax / 127);
  }
  const dBits = new Uint16Array(blocks);
  backend().f32ToF16(dBits, d, blocks);
  const out = new Uint8Array(blocks * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    view.setUint16(b * 34, dBits[b], true);
    const id = d[b] === 0 ? 0 : Math.fround(1 / d[b]);
    for (let j = 0; j < 32; j++) {
      const x = Math.fround(values[b * 32 + j] * id);
      view.setInt8(b * 34 + 2 + j, Math.sign(x) * Math.round(Math.abs(x)));
    }
  }
  return out;
}
