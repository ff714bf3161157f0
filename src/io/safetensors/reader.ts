// safetensors readers (interop.md §1.3): a file kept open with tensors read on demand, a whole file read
// at once, and an image held in memory. Every tensor gets a typed array aligned for its dtype.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { nearest } from '../../tensor/errors.js';
import { SafetensorsError } from '../errors.js';
import { readFullyAt } from '../read_at.js';
import { elemBytes, makeTensor, numelOf, requireSupported, viewOf, type SafetensorsData, type SafetensorsTensor } from './dtypes.js';
import { ioError, parseHeader, type SafetensorsHeader } from './header.js';
import { quoteName as q } from './json.js';

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

/** Read exactly `dst.length` bytes at `position`; the file may not shrink under us. */
function readFully(fd: number, path: string, dst: Uint8Array, position: number): void {
  readFullyAt(fd, path, dst, position, (message) => new SafetensorsError('Io', message));
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
