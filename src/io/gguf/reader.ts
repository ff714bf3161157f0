// GGUF reader (interop.md §5.1, §5.2): parses and validates a header, then reads tensor data on demand.
// The reader refuses everything ggml's loader refuses (§5.2) before touching tensor data, and never
// trusts a count or an offset: every length is checked against the bytes the file still has before
// anything is allocated.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { nearest, shapeStr } from '../../tensor/errors.js';
import { GgufError } from '../errors.js';
import { readFullyAt } from '../read_at.js';
import {
  BAD_WRITER, checkAlignment, GGML_TYPE_TABLE, GGUF_MAGIC, GGUF_MAX_DIMS, GGUF_MAX_NAME_BYTES, GGUF_MAX_STRING_BYTES,
  GGUF_VALUE_TYPES, ioError, padTo, quoteName as q, typeBytes,
  type GgufScalar, type GgufScalarType, type GgufTensorInfo, type GgufValue, type GgufValueTypeName,
} from './format.js';
import { decodeTensor } from './quantize.js';

/** Smallest encoding of one element of each scalar type (strings: the u64 length alone). */
const MIN_BYTES: Readonly<Record<GgufScalarType, number>> = {
  u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, bool: 1, string: 8, u64: 8, i64: 8, f64: 8,
};

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
    readFullyAt(fd, path, out, pos, (message, why) => new GgufError(why === 'ended' ? 'Truncated' : 'Io', message));
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
