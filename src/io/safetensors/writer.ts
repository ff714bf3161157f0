// safetensors writer (interop.md §1.4): everything is validated first, then the header (format: pt,
// tensors by dtype then name, padded so the data starts 8-aligned) and the tensor bytes are written
// atomically.
import { shapeStr } from '../../tensor/errors.js';
import { writeFileAtomic } from '../atomic.js';
import { concatArrays } from '../concat.js';
import { SafetensorsError } from '../errors.js';
import { ARRAY_TYPE, isSupported, numelOf, SUPPORTED, WRITE_RANK, type SafetensorsTensor } from './dtypes.js';
import { ioError, MAX_HEADER_BYTES } from './header.js';
import { describe, isIndex, quoteName as q } from './json.js';

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
