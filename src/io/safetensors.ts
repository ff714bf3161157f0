// safetensors reader and writer (interop.md §1).
//
//   bytes 0..8      N, u64 LE: header length
//   bytes 8..8+N    UTF-8 JSON object {"__metadata__": {str: str}?, "<name>": {dtype, shape, data_offsets}}
//   bytes 8+N..EOF  data buffer; data_offsets are relative to its start; C order, little-endian
//
// The header is hostile until proven otherwise: every check of §1.3 runs before a single tensor byte is
// touched, offsets are never trusted, sizes are computed in BigInt. Typed arrays are host-endian;
// moekit targets little-endian hosts (x86-64, arm64).
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { backend } from '../backend/index.js';
import { nearest, shapeStr, type MoekitError } from '../tensor/errors.js';
import { writeFileAtomic } from './atomic.js';
import { SafetensorsError } from './errors.js';
import { concatArrays } from './concat.js';

// ---- dtypes (§1.2) -----------------------------------------------------------------------------------

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
const DTYPE_BITS: Readonly<Record<string, number>> = {
  BOOL: 8, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8, F8_E4M3FNUZ: 8, F8_E5M2FNUZ: 8,
  I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32, F32: 32, F64: 64, C64: 64, I64: 64, U64: 64,
  F4: 4, F6_E2M3: 6, F6_E3M2: 6,
};

/**
 * Writer order (§1.4): the safetensors-rs enum order, descending — "dtype by alignment descending" with
 * BF16 before F16 — then name ascending.
 */
const WRITE_RANK: Readonly<Record<Dtype, number>> = { I64: 0, F32: 1, I32: 2, BF16: 3, F16: 4, U8: 5, BOOL: 6 };

const SUPPORTED = Object.keys(WRITE_RANK) as Dtype[];

function isSupported(dtype: string): dtype is Dtype {
  return Object.hasOwn(WRITE_RANK, dtype);
}

export function elemBytes(dtype: Dtype): number {
  return DTYPE_BITS[dtype] / 8;
}

/** The typed array that holds each dtype. */
const ARRAY_TYPE = {
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

function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// ---- header (§1.1, validation §1.3) --------------------------------------------------------------------

/** Largest header the reference loader accepts (§1.3 HeaderTooLarge). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Where one tensor sits. `begin`/`end` are byte offsets into the data buffer (relative to its start). */
export interface TensorInfo {
  /** Any dtype of §1.2; reading one outside `Dtype` throws UnsupportedDtype. */
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  path: string;
  /** `__metadata__` ({} when absent). */
  metadata: Record<string, string>;
  /** In data-buffer order. */
  tensors: Map<string, TensorInfo>;
  /** File offset of the data buffer: 8 + N. */
  dataStart: number;
}

const NOT_SAFETENSORS = 'the file is not a safetensors file, or it is truncated or corrupt';
const BAD_WRITER = 'the file is corrupt or was written by a non-conforming writer';

function headerError(code: 'InvalidHeader' | 'InvalidHeaderStart' | 'InvalidHeaderDeserialization' | 'DuplicateKey' | 'UnknownDtype',
  source: string, what: string): SafetensorsError {
  return new SafetensorsError(code, `${source}: invalid safetensors header: ${what}`, BAD_WRITER);
}

/** A short, escaped preview of a hostile value (never recursive: JSON.stringify overflows on deep nesting). */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return `the string ${q(v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** A name from a file, quoted and escaped (no control characters reach the terminal) and cut at 120 chars. */
function q(name: string): string {
  return JSON.stringify(name.length > 120 ? `${name.slice(0, 120)}…` : name);
}
export { q as quoteName };

/** What is wrong with an array that should hold `count` (or any number of) non-negative integers. */
function badIndexArray(v: unknown, count?: number): string | null {
  if (!Array.isArray(v)) return `found ${describe(v)}`;
  if (count !== undefined && v.length !== count) return `found an array of ${v.length}`;
  const i = v.findIndex((x) => !isIndex(x));
  return i < 0 ? null : `element ${i} is ${describe(v[i])}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** serde_json's default recursion limit, with which the reference loader parses headers (§1.3). */
export const MAX_JSON_DEPTH = 128;

export interface JsonKeyScan {
  /** Nesting deeper than MAX_JSON_DEPTH (scanning stopped there). */
  tooDeep: boolean;
  /** The first duplicate key, with the path of its object ('' = top level). */
  duplicate: { key: string; object: string } | null;
}

/**
 * One bounds-checked pass over a JSON text, run before JSON.parse: refuses nesting deeper than
 * MAX_JSON_DEPTH (a hostile header must not exhaust the stack or memory) and finds duplicate keys, which
 * JSON.parse keeps silently (last wins) and the safetensors README forbids (§1.3). Invalid JSON just
 * ends the scan; JSON.parse reports it.
 */
export function scanJsonKeys(text: string): JsonKeyScan {
  const stack: { keys: Set<string> | null; name: string; inArray: boolean }[] = [];
  let lastKey = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length === MAX_JSON_DEPTH) return { tooDeep: true, duplicate: null };
      stack.push({ keys: c === 0x7b ? new Set() : null, name: lastKey, inArray: stack.at(-1)?.keys === null });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      if (j >= text.length) break; // unterminated string
      let k = j + 1;
      while (k < text.length && ' \t\n\r'.includes(text[k])) k++;
      const top = stack.at(-1);
      if (text[k] === ':' && top?.keys) {
        let key: string;
        try {
          key = JSON.parse(text.slice(i, j + 1)) as string;
        } catch {
          break; // a bad escape
        }
        if (top.keys.has(key)) return { tooDeep: false, duplicate: { key, object: objectPath(stack) } };
        top.keys.add(key);
        lastKey = key;
      }
      i = j;
    }
  }
  return { tooDeep: false, duplicate: null };
}

/** "a.b[]" for the innermost object of the scan stack ('' = top level). */
function objectPath(stack: readonly { name: string; inArray: boolean }[]): string {
  let path = '';
  for (const f of stack.slice(1)) path += f.inArray ? '[]' : path === '' ? f.name : `.${f.name}`;
  return path;
}

const TOO_DEEP = `JSON nested deeper than ${MAX_JSON_DEPTH} levels`;

function describeDuplicate(dup: { key: string; object: string }): string {
  return `duplicate key ${q(dup.key)} in ${dup.object === '' ? 'the top-level object' : q(dup.object)}`;
}

/** Parse and validate a header (§1.3). `readAt(pos, len)` returns file bytes; `fileLength` is trusted. */
function parseHeader(source: string, fileLength: number, readAt: (pos: number, len: number) => Uint8Array): SafetensorsHeader {
  if (fileLength < 8) {
    throw new SafetensorsError('HeaderTooSmall', `${source}: file is ${fileLength} bytes; a safetensors file starts with an 8-byte header length`, NOT_SAFETENSORS);
  }
  const n = Buffer.from(readAt(0, 8)).readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError('HeaderTooLarge', `${source}: header length N = ${n} exceeds the limit of ${MAX_HEADER_BYTES} bytes`, NOT_SAFETENSORS);
  }
  const headerLength = Number(n);
  if (8 + headerLength > fileLength) {
    throw new SafetensorsError('InvalidHeaderLength',
      `${source}: header length N = ${headerLength} runs past the end of the file (8 + N = ${8 + headerLength} > file length ${fileLength})`, NOT_SAFETENSORS);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(readAt(8, headerLength));
  } catch {
    throw headerError('InvalidHeader', source, 'not valid UTF-8');
  }
  if (!text.startsWith('{')) throw headerError('InvalidHeaderStart', source, `a JSON object must start at byte 8 (found ${describe(text.slice(0, 16))})`);
  const scan = scanJsonKeys(text);
  if (scan.tooDeep) throw headerError('InvalidHeaderDeserialization', source, TOO_DEEP);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw headerError('InvalidHeaderDeserialization', source, `not JSON (${(e as Error).message})`);
  }
  if (scan.duplicate) throw headerError('DuplicateKey', source, describeDuplicate(scan.duplicate));

  let metadata: Record<string, string> = {};
  const tensors: [string, TensorInfo][] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(source, entry);
    } else {
      tensors.push([name, parseTensorInfo(source, name, entry)]);
    }
  }
  // Offsets (§1.3 InvalidOffset): sorted by data_offsets, the tensors must tile [0, end) exactly.
  tensors.sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  let end = 0;
  for (const [name, t] of tensors) {
    if (t.begin !== end) {
      const what = end === 0 ? 'the first tensor must start at offset 0'
        : t.begin > end ? `a hole: the previous tensor ends at ${end}` : `it overlaps the previous tensor, which ends at ${end}`;
      throw new SafetensorsError('InvalidOffset', `${source}: tensor ${q(name)}: data_offsets [${t.begin}, ${t.end}] are invalid: ${what}`, BAD_WRITER);
    }
    end = t.end;
  }
  const dataStart = 8 + headerLength;
  if (dataStart + end !== fileLength) {
    const what = dataStart + end > fileLength
      ? `the tensors need ${end} data bytes but the file has only ${fileLength - dataStart} after the header (truncated)`
      : `${fileLength - dataStart - end} trailing bytes after the last tensor (data ends at ${dataStart + end}, file length ${fileLength})`;
    throw new SafetensorsError('MetadataIncompleteBuffer', `${source}: ${what}`, NOT_SAFETENSORS);
  }
  return { path: source, metadata, tensors: new Map(tensors), dataStart };
}

function parseMetadata(source: string, entry: unknown): Record<string, string> {
  if (!isPlainObject(entry)) throw headerError('InvalidHeaderDeserialization', source, `"__metadata__" must be an object of strings, found ${describe(entry)}`);
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== 'string') throw headerError('InvalidHeaderDeserialization', source, `"__metadata__": ${q(k)} must be a string, found ${describe(v)}`);
  }
  return entry as Record<string, string>;
}

function parseTensorInfo(source: string, name: string, entry: unknown): TensorInfo {
  const bad = (what: string) => headerError('InvalidHeaderDeserialization', source, `tensor ${q(name)}: ${what}`);
  if (!isPlainObject(entry)) throw bad(`expected an object {dtype, shape, data_offsets}, found ${describe(entry)}`);
  for (const key of Object.keys(entry)) {
    if (key !== 'dtype' && key !== 'shape' && key !== 'data_offsets') throw bad(`unknown field ${q(key)} (expected dtype, shape, data_offsets)`);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string') throw bad(`"dtype" must be a string, found ${describe(dtype)}`);
  if (!Object.hasOwn(DTYPE_BITS, dtype)) {
    throw headerError('UnknownDtype', source, `tensor ${q(name)}: unknown dtype ${q(dtype)} (safetensors dtypes: ${Object.keys(DTYPE_BITS).join(', ')})`);
  }
  const shapeProblem = badIndexArray(shape);
  if (shapeProblem) throw bad(`"shape" must be an array of non-negative integers: ${shapeProblem}`);
  const offsetsProblem = badIndexArray(offsets, 2);
  if (offsetsProblem) throw bad(`"data_offsets" must be [begin, end], non-negative integers: ${offsetsProblem}`);
  const dims = shape as number[];
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new SafetensorsError('InvalidOffset', `${source}: tensor ${q(name)}: data_offsets [${begin}, ${end}] end before they begin`, BAD_WRITER);
  // Byte size = numel × bits / 8, overflow-checked (§1.3 ValidationOverflow, MisalignedSlice, TensorInvalidInfo).
  const bits = dims.reduce((a, d) => a * BigInt(d), 1n) * BigInt(DTYPE_BITS[dtype]);
  if (bits % 8n !== 0n) {
    throw new SafetensorsError('MisalignedSlice', `${source}: tensor ${q(name)}: ${dtype}${shapeStr(dims)} is ${bits} bits, not a whole number of bytes`, BAD_WRITER);
  }
  const bytes = bits / 8n;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new SafetensorsError('ValidationOverflow', `${source}: tensor ${q(name)}: ${dtype}${shapeStr(dims)} would take ${bytes} bytes`, BAD_WRITER);
  }
  if (BigInt(end - begin) !== bytes) {
    throw new SafetensorsError('TensorInvalidInfo',
      `${source}: tensor ${q(name)}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, expected ${bytes} (shape ${shapeStr(dims)} × ${dtype})`, BAD_WRITER);
  }
  return { dtype, shape: dims, begin, end };
}

function requireSupported(source: string, name: string, dtype: string): Dtype {
  if (!isSupported(dtype)) {
    throw new SafetensorsError('UnsupportedDtype', `${source}: tensor ${q(name)} has dtype ${dtype}, which moekit does not read (supported: ${SUPPORTED.join(', ')})`,
      'convert the checkpoint to F32, F16 or BF16 first');
  }
  return dtype;
}

// ---- readers -------------------------------------------------------------------------------------------

export interface SafetensorsFile {
  path: string;
  metadata: Record<string, string>;
  /** In data-buffer order. */
  tensors: Map<string, SafetensorsTensor>;
}

/** A validated file kept open: the header now, tensor data on demand. Call close() when done. */
export interface SafetensorsReader extends SafetensorsHeader {
  /** Reads one tensor into a fresh (aligned) typed array. */
  read(name: string): SafetensorsTensor;
  /** Reads one tensor's raw little-endian bytes into `dst` (exactly its byte length): no intermediate copy. */
  readInto(name: string, dst: Uint8Array): void;
  close(): void;
}

function ioError(path: string, what: string, e: unknown): SafetensorsError {
  return new SafetensorsError('Io', `${path}: cannot ${what}: ${(e as Error).message}`);
}

/** Read exactly `dst.length` bytes at `position`; the file may not shrink under us. */
function readFully(fd: number, path: string, dst: Uint8Array, position: number): void {
  const CHUNK = 1 << 30; // readSync moves at most 2 GiB per call
  for (let off = 0; off < dst.length;) {
    let n: number;
    try {
      n = readSync(fd, dst, off, Math.min(CHUNK, dst.length - off), position + off);
    } catch (e) {
      throw ioError(path, 'read', e);
    }
    if (n === 0) throw new SafetensorsError('Io', `${path}: file ended at byte ${position + off} while reading (was it truncated while open?)`);
    off += n;
  }
}

/** Open and validate a file (§1.3) without reading tensor data. */
export function openSafetensors(path: string): SafetensorsReader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioError(path, 'open', e);
  }
  let header: SafetensorsHeader;
  try {
    const length = fstatSync(fd).size;
    header = parseHeader(path, length, (pos, len) => {
      const buf = new Uint8Array(len);
      readFully(fd, path, buf, pos);
      return buf;
    });
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  let open = true;
  return {
    ...header,
    read(name: string): SafetensorsTensor {
      const info = header.tensors.get(name);
      if (!info) throw tensorNotFound(path, name, [...header.tensors.keys()]);
      const dtype = requireSupported(path, name, info.dtype);
      if (!open) throw new SafetensorsError('Io', `${path}: cannot read tensor ${q(name)}: the reader is closed`);
      const buffer = new ArrayBuffer(info.end - info.begin);
      readFully(fd, path, new Uint8Array(buffer), header.dataStart + info.begin);
      return makeTensor(name, dtype, [...info.shape], viewOf(dtype, buffer, 0, numelOf(info.shape)));
    },
    readInto(name: string, dst: Uint8Array): void {
      const info = header.tensors.get(name);
      if (!info) throw tensorNotFound(path, name, [...header.tensors.keys()]);
      if (!open) throw new SafetensorsError('Io', `${path}: cannot read tensor ${q(name)}: the reader is closed`);
      if (dst.length !== info.end - info.begin) {
        throw new SafetensorsError('InvalidTensor', `${path}: tensor ${q(name)} holds ${info.end - info.begin} bytes, the destination ${dst.length}`);
      }
      readFully(fd, path, dst, header.dataStart + info.begin);
    },
    close(): void {
      if (open) closeSync(fd);
      open = false;
    },
  };
}

function tensorNotFound(source: string, name: string, names: string[]): SafetensorsError {
  const near = nearest(name, names);
  return new SafetensorsError('TensorNotFound', `${source}: no tensor named ${q(name)} (${names.length} tensors)`,
    near === undefined ? undefined : `did you mean ${q(near)}?`);
}

/** Read and validate a whole file; every tensor gets its own aligned typed array. */
export function readSafetensors(path: string): SafetensorsFile {
  const reader = openSafetensors(path);
  try {
    const tensors = new Map<string, SafetensorsTensor>();
    for (const [name, info] of reader.tensors) requireSupported(path, name, info.dtype); // refuse before reading anything
    for (const name of reader.tensors.keys()) tensors.set(name, reader.read(name));
    return { path, metadata: reader.metadata, tensors };
  } finally {
    reader.close();
  }
}

/**
 * Validate and view a safetensors image held in memory (`source` names it in errors). Tensors are views
 * into `bytes` where their offset is aligned for the dtype, copies where not: other writers' files may
 * leave the data buffer misaligned (§1.3 last paragraph).
 */
export function parseSafetensors(bytes: Uint8Array, source = 'safetensors buffer'): SafetensorsFile {
  const header = parseHeader(source, bytes.length, (pos, len) => bytes.subarray(pos, pos + len));
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, info] of header.tensors) {
    const dtype = requireSupported(source, name, info.dtype);
    const start = header.dataStart + info.begin;
    const numel = numelOf(info.shape);
    let data: SafetensorsData;
    if ((bytes.byteOffset + start) % elemBytes(dtype) === 0) {
      data = viewOf(dtype, bytes.buffer, bytes.byteOffset + start, numel);
    } else {
      const copy = new Uint8Array(info.end - info.begin); // not bytes.slice(): on a Buffer that is a view
      copy.set(bytes.subarray(start, header.dataStart + info.end));
      data = viewOf(dtype, copy.buffer, 0, numel);
    }
    tensors.set(name, makeTensor(name, dtype, [...info.shape], data));
  }
  return { path: source, metadata: header.metadata, tensors };
}

// ---- sharded checkpoints (§1.5) ----------------------------------------------------------------------

export const SHARD_INDEX = 'model.safetensors.index.json';

export interface ShardedSafetensors {
  dir: string;
  /** The index's "metadata" object (total_size, total_parameters, …) as written. */
  indexMetadata: Record<string, unknown>;
  /** Distinct shard file names, sorted. */
  shards: string[];
  tensors: Map<string, SafetensorsTensor>;
}

/** Makes the error of one checkpoint format for a shard-index problem (§1.5). */
export type ShardErrorFactory = (code: 'Io' | 'InvalidIndex', message: string, hint?: string) => MoekitError;

/** A validated shard index (§1.5). */
interface ShardIndex {
  path: string;
  weightMap: Map<string, string>;
  /** The index's "metadata" object as written. */
  metadata: Record<string, unknown>;
  /** Distinct shard file names, sorted. */
  shards: string[];
}

/**
 * Read a sharded checkpoint through its index (§1.5): each shard is opened once; every weight_map entry
 * must exist in its shard and no shard may hold a tensor the index does not map to it.
 */
export function readShardedSafetensors(dir: string, indexName = SHARD_INDEX): ShardedSafetensors {
  return readShardedCheckpoint(dir, indexName, shardError, openSafetensorsShard);
}

/** A sharded safetensors checkpoint validated and kept open (§1.5): headers now, tensor data on demand. */
export function openShardedSafetensors(dir: string, indexName = SHARD_INDEX): { readers: SafetensorsShard[]; shards: string[] } {
  const { index, readers } = openShardedCheckpoint(dir, indexName, shardError, openSafetensorsShard);
  return { readers, shards: index.shards };
}

const shardError: ShardErrorFactory = (code, message, hint) => new SafetensorsError(code, message, hint);

export interface SafetensorsShard extends ShardReader {
  reader: SafetensorsReader;
}

function openSafetensorsShard(path: string): SafetensorsShard {
  const reader = openSafetensors(path);
  try {
    for (const [name, info] of reader.tensors) requireSupported(path, name, info.dtype);
  } catch (e) {
    reader.close();
    throw e;
  }
  const names = [...reader.tensors.keys()];
  return { path, names, reader, close: () => reader.close(), readAll: () => new Map(names.map((n) => [n, reader.read(n)])) };
}

/** One shard opened and validated (headers only) by a format's reader. */
export interface ShardReader {
  path: string;
  /** The tensors the shard holds. */
  names: readonly string[];
  readAll(): Map<string, SafetensorsTensor>;
  close(): void;
}

/**
 * The §1.5 loader, whatever the shard format: read the index, open each distinct shard once and
 * cross-check every shard's tensor names against the index before any data is read. The shards stay
 * open; the caller closes them.
 */
export function openShardedCheckpoint<R extends ShardReader>(dir: string, indexName: string, fail: ShardErrorFactory,
  open: (path: string) => R): { index: { metadata: Record<string, unknown>; shards: string[] }; readers: R[] } {
  const index = readShardIndex(join(dir, indexName), fail);
  const readers: R[] = [];
  try {
    for (const shard of index.shards) readers.push(openShard(index, shard, open, fail));
    checkShards(index, readers, fail);
    return { index, readers };
  } catch (e) {
    for (const reader of readers) reader.close();
    throw e;
  }
}

/** openShardedCheckpoint, then read every tensor. */
export function readShardedCheckpoint(dir: string, indexName: string, fail: ShardErrorFactory,
  open: (path: string) => ShardReader): ShardedSafetensors {
  const { index, readers } = openShardedCheckpoint(dir, indexName, fail, open);
  try {
    const tensors = new Map<string, SafetensorsTensor>();
    for (const reader of readers) for (const [name, t] of reader.readAll()) tensors.set(name, t);
    return { dir, indexMetadata: index.metadata, shards: index.shards, tensors };
  } finally {
    for (const reader of readers) reader.close();
  }
}

/** Open one listed shard with `open`; a shard that cannot be read means the checkpoint is incomplete. */
function openShard<R extends ShardReader>(index: ShardIndex, shard: string, open: (path: string) => R, fail: ShardErrorFactory): R {
  try {
    return open(join(dirname(index.path), shard));
  } catch (e) {
    if ((e as { code?: unknown }).code === 'Io') {
      throw fail('InvalidIndex', `${index.path}: shard ${q(shard)} cannot be read (${(e as Error).message})`,
        'the checkpoint is incomplete: download or copy every shard listed in the index');
    }
    throw e;
  }
}

/**
 * §1.5 cross-check: `contents[i]` lists the tensors of `index.shards[i]` (read from `path`); every
 * weight_map entry must be in its shard and every shard tensor must be mapped to that shard.
 */
function checkShards(index: ShardIndex, contents: readonly ShardReader[], fail: ShardErrorFactory): void {
  const held = contents.map((c) => new Set(c.names));
  for (const [i, { path, names }] of contents.entries()) {
    for (const name of names) {
      const listed = index.weightMap.get(name);
      if (listed !== index.shards[i]) {
        throw fail('InvalidIndex', `${path}: tensor ${q(name)} is not listed for this shard in ${index.path}`
          + (listed === undefined ? '' : ` (the index maps it to ${q(listed)})`), BAD_WRITER);
      }
    }
  }
  for (const [name, shard] of index.weightMap) {
    if (!held[index.shards.indexOf(shard)].has(name)) {
      throw fail('InvalidIndex', `${index.path}: maps tensor ${q(name)} to ${q(shard)}, but that shard has no such tensor`, BAD_WRITER);
    }
  }
}

/** Read and validate a shard index (§1.5); shard names must be plain file names next to it. */
function readShardIndex(indexPath: string, fail: ShardErrorFactory): ShardIndex {
  let raw: Uint8Array;
  try {
    raw = readFileSync(indexPath);
  } catch (e) {
    throw fail('Io', `${indexPath}: cannot open: ${(e as Error).message}`);
  }
  const bad = (what: string) => fail('InvalidIndex', `${indexPath}: ${what}`, 'the index should be {"metadata": {...}, "weight_map": {"<tensor>": "<shard file>"}}');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw bad('not valid UTF-8');
  }
  const scan = scanJsonKeys(text);
  if (scan.tooDeep) throw bad(TOO_DEEP);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw bad(`expected a JSON object, found ${describe(json)}`);
  if (scan.duplicate) throw bad(describeDuplicate(scan.duplicate));
  const { metadata = {}, weight_map: map } = json;
  if (!isPlainObject(metadata)) throw bad(`"metadata" must be an object, found ${describe(metadata)}`);
  if (!isPlainObject(map)) throw bad(`"weight_map" must be an object of tensor name → shard file, found ${describe(map)}`);
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    if (typeof shard !== 'string') throw bad(`"weight_map": ${q(name)} must be a shard file name, found ${describe(shard)}`);
    // Shards live next to the index: no paths (a hostile index must not reach other files).
    if (shard === '' || shard === '.' || shard === '..' || /[/\\\0]/.test(shard)) {
      throw bad(`"weight_map": ${q(name)} names ${q(shard)}; a shard must be a file name in the same folder`);
    }
    weightMap.set(name, shard);
  }
  return { path: indexPath, weightMap, metadata, shards: [...new Set(weightMap.values())].sort() };
}

// ---- writer (§1.4) -------------------------------------------------------------------------------------

/** UTF-8 byte order, as safetensors-rs sorts names (JS `<` compares UTF-16 units). */
function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function tensorError(name: string, what: string): SafetensorsError {
  return new SafetensorsError('InvalidTensor', `cannot write tensor ${q(name)}: ${what}`);
}

function checkTensor(t: SafetensorsTensor): void {
  const { name, dtype, shape, data } = t;
  if (typeof name !== 'string' || name === '__metadata__' || /\p{Cs}/u.test(name)) {
    throw tensorError(String(name), 'a name must be a well-formed string other than "__metadata__"');
  }
  if (!isSupported(dtype)) throw tensorError(name, `unsupported dtype ${JSON.stringify(dtype)} (supported: ${SUPPORTED.join(', ')})`);
  if (!Array.isArray(shape) || !shape.every(isIndex)) throw tensorError(name, `shape ${JSON.stringify(shape)} must be an array of non-negative integers`);
  const want = ARRAY_TYPE[dtype];
  if (!(data instanceof want)) throw tensorError(name, `${dtype} data must be a ${want.name}, got ${(data as object | null)?.constructor?.name ?? describe(data)}`);
  const numel = numelOf(shape);
  if (data.length !== numel) throw tensorError(name, `data has ${data.length} elements, shape ${shapeStr(shape)} needs ${numel}`);
}

/** Header prefix (8-byte N + padded JSON) followed by each tensor's bytes, in file order (§1.4). */
function encode(tensors: readonly SafetensorsTensor[], metadata: Record<string, string> = {}): Uint8Array[] {
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new SafetensorsError('InvalidMetadata', `metadata ${q(k)} must be a string, got ${describe(v)}`);
  }
  if (metadata.format !== undefined && metadata.format !== 'pt') {
    throw new SafetensorsError('InvalidMetadata', `metadata "format" must be "pt", got ${JSON.stringify(metadata.format)}`,
      'moekit writes PyTorch-layout tensors (interop.md §1.4); drop the "format" key');
  }
  const seen = new Set<string>();
  for (const t of tensors) {
    checkTensor(t);
    if (seen.has(t.name)) throw tensorError(t.name, 'the name appears twice');
    seen.add(t.name);
  }
  const ordered = [...tensors].sort((a, b) => WRITE_RANK[a.dtype] - WRITE_RANK[b.dtype] || compareNames(a.name, b.name));

  // Build the JSON by hand: a JS object would move integer-like keys ("0", "12") to the front.
  const meta = [['format', 'pt'], ...Object.entries(metadata).filter(([k]) => k !== 'format').sort(([a], [b]) => compareNames(a, b))];
  const fields = [`"__metadata__":{${meta.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`];
  let offset = 0;
  for (const t of ordered) {
    const end = offset + t.data.byteLength;
    fields.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${end}]}`);
    offset = end;
  }
  const json = Buffer.from(`{${fields.join(',')}}`, 'utf8');
  const n = Math.ceil(json.length / 8) * 8; // space padding so the data buffer starts 8-aligned
  if (n > MAX_HEADER_BYTES) throw new SafetensorsError('HeaderTooLarge', `the header would be ${n} bytes, over the ${MAX_HEADER_BYTES}-byte limit of readers`);
  const prefix = Buffer.alloc(8 + n, 0x20);
  prefix.writeBigUInt64LE(BigInt(n), 0);
  json.copy(prefix, 8);
  return [prefix, ...ordered.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
}

/** The complete file image (§1.4), byte for byte what writeSafetensors writes. */
export function serializeSafetensors(tensors: readonly SafetensorsTensor[], metadata?: Record<string, string>): Uint8Array {
  return concatArrays(encode(tensors, metadata), (n) => new Uint8Array(n));
}

/**
 * Write a file (§1.4) atomically: everything is validated first, then the bytes go to `<path>.tmp-<pid>`,
 * which is fsynced and renamed over `path`. On any error the temp file is removed and an existing file
 * at `path` is left untouched. `metadata` is written after `format: pt`, keys sorted.
 */
export function writeSafetensors(path: string, tensors: readonly SafetensorsTensor[], metadata?: Record<string, string>): void {
  const parts = encode(tensors, metadata);
  try {
    writeFileAtomic(path, parts);
  } catch (e) {
    throw ioError(path, 'write', e);
  }
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
