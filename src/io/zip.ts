// A minimal reader of STORED zip archives: the container of PyTorch `.bin` checkpoints (interop.md §2.1).
//
//   local header + data, …     per entry: "PK\3\4", 30 bytes, name, extra (torch pads with an "FB"
//                              field so data starts on a 64-byte boundary), then the stored bytes
//   central directory          per entry: "PK\1\2", 46 bytes, name, extra, comment; sizes and offsets
//   ZIP64 end record, locator  "PK\6\6" (56 bytes), "PK\6\7" (20 bytes): 64-bit count, size, offset;
//                              torch writes them into every archive, large or not
//   end of central directory   "PK\5\6", 22 bytes (+ comment): entry count, directory size and offset
//
// Sizes come from the central directory (or its ZIP64 extra field, id 1); where the data starts comes
// from the LOCAL header, whose extra field differs from the central one (§2.1). Every offset is checked
// against the file before it is used; compressed, encrypted and multi-disk archives are refused. CRC-32s
// are not checked: torch builds its zip reader with MINIZ_DISABLE_ZIP_READER_CRC32_CHECKS, so it does not
// either, and a loader must not refuse files torch loads.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { PytorchBinError } from './errors.js';
import { readFullyAt } from './read_at.js';

export interface ZipEntry {
  name: string;
  /** Stored (= uncompressed) size in bytes. */
  size: number;
  /** File offset of the entry's first data byte (after its local header). */
  dataOffset: number;
}

/** An open archive: the directory now, entry data on demand. Call close() when done. */
export interface ZipArchive {
  path: string;
  /** In central-directory order. */
  entries: ZipEntry[];
  get(name: string): ZipEntry | undefined;
  /** The entry's bytes in a fresh ArrayBuffer (offset 0, so any typed-array view is aligned). */
  read(entry: ZipEntry): Uint8Array;
  close(): void;
}

const LOCAL_SIG = 0x04034b50;
const CENTRAL_SIG = 0x02014b50;
const END_SIG = 0x06054b50;
const ZIP64_END_SIG = 0x06064b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EXTRA_ID = 0x0001;
const ZIP64_END_BYTES = 56;
const ZIP64_LOCATOR_BYTES = 20;
const LOCAL_BYTES = 30;
const CENTRAL_BYTES = 46;
const END_BYTES = 22;
const MAX_COMMENT = 0xffff;

const NOT_ZIP_HINT = 'the file is truncated or corrupt; re-download or re-save it with torch.save';

function invalid(path: string, what: string): PytorchBinError {
  return new PytorchBinError('InvalidZip', `${path}: invalid zip archive: ${what}`, NOT_ZIP_HINT);
}

/** Open a STORED zip archive and validate its directory and every entry's local header. */
export function openStoredZip(path: string): ZipArchive {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new PytorchBinError('Io', `${path}: cannot open: ${(e as Error).message}`);
  }
  let open = true;
  const readAt = (pos: number, len: number): Uint8Array => {
    const buf = new Uint8Array(len);
    readFullyAt(fd, path, buf, pos, (message) => new PytorchBinError('Io', message));
    return buf;
  };
  try {
    const entries = readDirectory(path, fstatSync(fd).size, readAt);
    const byName = new Map(entries.map((e) => [e.name, e]));
    return {
      path,
      entries,
      get: (name) => byName.get(name),
      read(entry: ZipEntry): Uint8Array {
        if (!open) throw new PytorchBinError('Io', `${path}: cannot read entry ${JSON.stringify(entry.name)}: the archive is closed`);
        return readAt(entry.dataOffset, entry.size);
      },
      close(): void {
        if (open) closeSync(fd);
        open = false;
      },
    };
  } catch (e) {
    closeSync(fd);
    open = false;
    throw e;
  }
}

function readDirectory(path: string, fileLength: number, readAt: (pos: number, len: number) => Uint8Array): ZipEntry[] {
  const head = readAt(0, Math.min(4, fileLength));
  const startsLikeZip = head.length === 4 && view(head).getUint32(0, true) === LOCAL_SIG;
  if (!startsLikeZip) {
    // Pre-1.6 torch.save files are a bare pickle stream (§2.1): PROTO 0x80 first.
    const legacy = head[0] === 0x80;
    throw new PytorchBinError('NotCheckpoint', `${path}: not a zip archive (expected "PK\\x03\\x04" at byte 0${legacy ? '; found a bare pickle stream' : ''})`,
      legacy ? 'this is a legacy (torch < 1.6) checkpoint: moekit reads only the zip format; re-save it with a recent torch or convert it to safetensors'
        : 'expected a PyTorch .bin checkpoint written by torch.save (torch >= 1.6)');
  }
  // The end record sits in the last 22 + comment bytes; find the signature whose comment ends the file.
  const tailStart = Math.max(0, fileLength - END_BYTES - MAX_COMMENT);
  const tail = readAt(tailStart, fileLength - tailStart);
  const tv = view(tail);
  let end = -1;
  for (let i = tail.length - END_BYTES; i >= 0; i--) {
    if (tv.getUint32(i, true) === END_SIG && i + END_BYTES + tv.getUint16(i + 20, true) === tail.length) {
      end = i;
      break;
    }
  }
  if (end < 0) throw invalid(path, `no end-of-central-directory record in the last ${tail.length} bytes (the file is truncated)`);
  const { count, cdSize, cdOffset } = directoryBounds(path, tailStart + end, tv, end, readAt);
  const cd = readAt(cdOffset, cdSize);
  const cv = view(cd);
  const entries: ZipEntry[] = [];
  const seen = new Set<string>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_BYTES > cd.length || cv.getUint32(p, true) !== CENTRAL_SIG) {
      throw invalid(path, `central directory entry ${i} at byte ${cdOffset + p}: expected signature "PK\\x01\\x02"`);
    }
    const flags = cv.getUint16(p + 8, true);
    const method = cv.getUint16(p + 10, true);
    const nameLen = cv.getUint16(p + 28, true);
    const extraLen = cv.getUint16(p + 30, true);
    const commentLen = cv.getUint16(p + 32, true);
    const next = p + CENTRAL_BYTES + nameLen + extraLen + commentLen;
    if (next > cd.length) throw invalid(path, `central directory entry ${i} runs past the end of the directory`);
    const nameBytes = cd.subarray(p + CENTRAL_BYTES, p + CENTRAL_BYTES + nameLen);
    const name = decodeName(path, i, nameBytes);
    const where = `entry ${JSON.stringify(name)}`;
    // 32-bit fields at their maximum are in the ZIP64 extra field, in this order (APPNOTE 4.5.3).
    const wide = zip64Fields(path, where, cd.subarray(p + CENTRAL_BYTES + nameLen, p + CENTRAL_BYTES + nameLen + extraLen));
    const field = (at: number) => {
      const v = cv.getUint32(p + at, true);
      if (v !== 0xffffffff) return v;
      const w = wide.shift();
      if (w === undefined) throw invalid(path, `${where}: a 32-bit field is 0xFFFFFFFF but the ZIP64 extra field lacks its 64-bit value`);
      return w;
    };
    const size = field(24);
    const compressed = field(20);
    const localOffset = field(42);
    if (flags & 1) throw new PytorchBinError('UnsupportedZip', `${path}: ${where} is encrypted`);
    if (method !== 0 || compressed !== size) {
      throw new PytorchBinError('UnsupportedZip', `${path}: ${where} is compressed (method ${method}); torch.save stores entries uncompressed (method 0)`,
        'the archive was re-packed with compression: re-save it with torch.save or convert it to safetensors');
    }
    if (seen.has(name)) throw invalid(path, `${where} appears twice`);
    seen.add(name);
    entries.push({ name, size, dataOffset: localDataOffset(path, where, nameBytes, localOffset, size, cdOffset, readAt) });
    p = next;
  }
  return entries;
}

/** Where the central directory is: from the end record or, when the archive has one, the ZIP64 end record. */
function directoryBounds(path: string, endPos: number, tv: DataView, end: number, readAt: (pos: number, len: number) => Uint8Array):
  { count: number; cdSize: number; cdOffset: number } {
  if (tv.getUint16(end + 4, true) !== 0 || tv.getUint16(end + 6, true) !== 0 || tv.getUint16(end + 8, true) !== tv.getUint16(end + 10, true)) {
    throw new PytorchBinError('UnsupportedZip', `${path}: multi-disk zip archive`);
  }
  let count = tv.getUint16(end + 10, true);
  let cdSize = tv.getUint32(end + 12, true);
  let cdOffset = tv.getUint32(end + 16, true);
  let limit = endPos; // the directory ends before the next record
  const locator = endPos >= ZIP64_LOCATOR_BYTES ? view(readAt(endPos - ZIP64_LOCATOR_BYTES, ZIP64_LOCATOR_BYTES)) : null;
  if (locator && locator.getUint32(0, true) === ZIP64_LOCATOR_SIG) {
    const at = safe(path, 'the ZIP64 end record offset', locator.getBigUint64(8, true));
    limit = endPos - ZIP64_LOCATOR_BYTES;
    if (at + ZIP64_END_BYTES > limit) throw invalid(path, `the ZIP64 end record offset ${at} is past its locator at byte ${limit}`);
    const z = view(readAt(at, ZIP64_END_BYTES));
    if (z.getUint32(0, true) !== ZIP64_END_SIG) throw invalid(path, `expected the ZIP64 end record ("PK\x06\x06") at byte ${at}`);
    if (z.getUint32(16, true) !== 0 || z.getUint32(20, true) !== 0 || z.getBigUint64(24, true) !== z.getBigUint64(32, true)) {
      throw new PytorchBinError('UnsupportedZip', `${path}: multi-disk zip archive`);
    }
    count = safe(path, 'the entry count', z.getBigUint64(32, true));
    cdSize = safe(path, 'the central directory size', z.getBigUint64(40, true));
    cdOffset = safe(path, 'the central directory offset', z.getBigUint64(48, true));
    limit = at;
  } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    throw invalid(path, 'the end record defers to a ZIP64 end record, but there is none');
  }
  if (cdOffset + cdSize > limit) {
    throw invalid(path, `the central directory [${cdOffset}, ${cdOffset + cdSize}) runs past the end records at byte ${limit}`);
  }
  if (count * CENTRAL_BYTES > cdSize) throw invalid(path, `${count} entries cannot fit in a ${cdSize}-byte central directory`);
  return { count, cdSize, cdOffset };
}

/** The 64-bit values of a central entry's ZIP64 extra field (id 1), or [] when it has none. */
function zip64Fields(path: string, where: string, extra: Uint8Array): number[] {
  const ev = view(extra);
  for (let p = 0; p + 4 <= extra.length;) {
    const id = ev.getUint16(p, true);
    const len = ev.getUint16(p + 2, true);
    if (p + 4 + len > extra.length) throw invalid(path, `${where}: an extra field runs past the end of the entry`);
    if (id === ZIP64_EXTRA_ID) {
      const out: number[] = [];
      for (let q = p + 4; q + 8 <= p + 4 + len; q += 8) out.push(safe(path, `${where}: a ZIP64 value`, ev.getBigUint64(q, true)));
      return out;
    }
    p += 4 + len;
  }
  return [];
}

function safe(path: string, what: string, v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(path, `${what} ${v} is out of range`);
  return Number(v);
}

/** Check the entry's local header and return where its data starts (§2.1: the local extra field counts). */
function localDataOffset(path: string, where: string, nameBytes: Uint8Array, localOffset: number, size: number,
  cdOffset: number, readAt: (pos: number, len: number) => Uint8Array): number {
  if (localOffset + LOCAL_BYTES > cdOffset) {
    throw invalid(path, `${where}: local header offset ${localOffset} is past the data area (the central directory starts at byte ${cdOffset})`);
  }
  const local = readAt(localOffset, LOCAL_BYTES);
  const lv = view(local);
  if (lv.getUint32(0, true) !== LOCAL_SIG) throw invalid(path, `${where}: expected a local header ("PK\\x03\\x04") at byte ${localOffset}`);
  const nameLen = lv.getUint16(26, true);
  const extraLen = lv.getUint16(28, true);
  const dataOffset = localOffset + LOCAL_BYTES + nameLen + extraLen;
  if (dataOffset + size > cdOffset) {
    throw invalid(path, `${where}: its ${size} data bytes at byte ${dataOffset} run past the data area (the central directory starts at byte ${cdOffset})`);
  }
  const localName = readAt(localOffset + LOCAL_BYTES, nameLen);
  if (Buffer.compare(localName, nameBytes) !== 0) throw invalid(path, `${where}: the local header names a different entry`);
  return dataOffset;
}

function decodeName(path: string, index: number, bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid(path, `central directory entry ${index}: the name is not valid UTF-8`);
  }
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
