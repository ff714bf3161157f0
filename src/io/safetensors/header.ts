// The safetensors file layout (interop.md §1.1) and header validation (§1.3).
//
//   bytes 0..8      N, u64 LE: header length
//   bytes 8..8+N    UTF-8 JSON object {"__metadata__": {str: str}?, "<name>": {dtype, shape, data_offsets}}
//   bytes 8+N..EOF  data buffer; data_offsets are relative to its start; C order, little-endian
//
// The header is hostile until proven otherwise: every check of §1.3 runs before a single tensor byte is
// touched, offsets are never trusted, sizes are computed in BigInt.
import { shapeStr } from '../../tensor/errors.js';
import { SafetensorsError } from '../errors.js';
import { DTYPE_BITS } from './dtypes.js';
import { describe, describeDuplicate, isIndex, isPlainObject, quoteName as q, scanJsonKeys, TOO_DEEP } from './json.js';

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

export const NOT_SAFETENSORS = 'the file is not a safetensors file, or it is truncated or corrupt';
export const BAD_WRITER = 'the file is corrupt or was written by a non-conforming writer';

function headerError(code: 'InvalidHeader' | 'InvalidHeaderStart' | 'InvalidHeaderDeserialization' | 'DuplicateKey' | 'UnknownDtype',
  source: string, what: string): SafetensorsError {
  return new SafetensorsError(code, `${source}: invalid safetensors header: ${what}`, BAD_WRITER);
}

/** What is wrong with an array that should hold `count` (or any number of) non-negative integers. */
function badIndexArray(v: unknown, count?: number): string | null {
  if (!Array.isArray(v)) return `found ${describe(v)}`;
  if (count !== undefined && v.length !== count) return `found an array of ${v.length}`;
  const i = v.findIndex((x) => !isIndex(x));
  return i < 0 ? null : `element ${i} is ${describe(v[i])}`;
}

/** Parse and validate a header (§1.3). `readAt(pos, len)` returns file bytes; `fileLength` is trusted. */
export function parseHeader(source: string, fileLength: number, readAt: (pos: number, len: number) => Uint8Array): SafetensorsHeader {
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

/** Shared by the reader and the writer. */
export function ioError(path: string, what: string, e: unknown): SafetensorsError {
  return new SafetensorsError('Io', `${path}: cannot ${what}: ${(e as Error).message}`);
}
