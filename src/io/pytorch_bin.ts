// PyTorch `.bin` checkpoints (interop.md §2): a STORED zip (zip.ts) whose `data.pkl` is a pickled state
// dict (pickle.ts, safe subset) and whose `data/<key>` records hold the raw storages.
//
//   <prefix>/data.pkl      {name: _rebuild_tensor_v2(storage ref, offset, size, stride, …)}
//   <prefix>/byteorder     "little" (absent in old files ⇒ little; "big" is refused)
//   <prefix>/data/<key>    numel × itemsize bytes of one storage; several tensors may view one storage
//
// Tensors come back as the safetensors reader's SafetensorsTensor (C-order copies), so a model loader
// treats both formats alike. Everything — zip directory, pickle, dtypes, storage sizes, view bounds —
// is validated before the first tensor byte is read.
import { PytorchBinError } from './errors.js';
import { describe, PyDict, TensorRef, unpickle } from './pickle.js';
import {
  elemBytes, makeTensor, quoteName as q, readShardedCheckpoint, viewOf,
  type Dtype, type SafetensorsFile, type SafetensorsTensor, type ShardedSafetensors, type ShardErrorFactory, type ShardReader,
} from './safetensors/index.js';
import { openStoredZip, type ZipArchive, type ZipEntry } from './zip.js';

/** The index of a sharded `.bin` checkpoint (§1.5). */
export const PYTORCH_SHARD_INDEX = 'pytorch_model.bin.index.json';

/** The torch storage classes moekit reads (§2.3) and their dtypes; Double/Short/Char storages are refused. */
const STORAGE_DTYPE: Readonly<Record<string, Dtype>> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', LongStorage: 'I64', IntStorage: 'I32',
  ByteStorage: 'U8', BoolStorage: 'BOOL',
};

/**
 * Largest tensor materialised from a smaller storage (zero or overlapping strides, e.g. a saved
 * `expand()`): such a tensor is not bounded by the file size, so a hostile one could ask for any amount.
 */
export const MAX_EXPANDED_BYTES = 1 << 30;

const BAD_WRITER = 'the file is corrupt or was not written by torch.save';

/** A validated checkpoint kept open: the tensor views now, the data on demand. Call close() when done. */
export interface PytorchBinReader {
  path: string;
  /** The archive's folder (§2.1): the file stem for torch.save(path), "archive" for stream saves. */
  prefix: string;
  /** Each tensor's view of its storage, in the state dict's order. */
  tensors: Map<string, { dtype: Dtype; view: TensorRef; numel: number }>;
  /** Materialise every tensor (strided gather, §2.4); a storage is read once, whatever views it. */
  readAll(): Map<string, SafetensorsTensor>;
  close(): void;
}

/** Open and validate a `.bin` checkpoint without reading tensor data. */
export function openPytorchBin(path: string): PytorchBinReader {
  const zip = openStoredZip(path);
  try {
    return openArchive(zip);
  } catch (e) {
    zip.close();
    throw e;
  }
}

/** Read a whole `.bin` checkpoint; every tensor gets its own C-order typed array. */
export function readPytorchBin(path: string): SafetensorsFile {
  const reader = openPytorchBin(path);
  try {
    return { path, metadata: {}, tensors: reader.readAll() };
  } finally {
    reader.close();
  }
}

/**
 * Read a sharded `.bin` checkpoint (`pytorch_model-0000k-of-0000n.bin` + index, §1.5) with the same
 * checks as readShardedSafetensors: every weight_map entry in its shard, no unlisted tensors.
 */
export function readShardedPytorchBin(dir: string, indexName = PYTORCH_SHARD_INDEX): ShardedSafetensors {
  const fail: ShardErrorFactory = (code, message, hint) => new PytorchBinError(code, message, hint);
  return readShardedCheckpoint(dir, indexName, fail, (path): ShardReader => {
    const reader = openPytorchBin(path);
    return { path, names: [...reader.tensors.keys()], readAll: () => reader.readAll(), close: () => reader.close() };
  });
}

function openArchive(zip: ZipArchive): PytorchBinReader {
  const { path } = zip;
  const prefix = archivePrefix(zip);
  const record = (name: string): ZipEntry | undefined => zip.get(`${prefix}/${name}`);
  if (record('constants.pkl') || zip.entries.some((e) => e.name.startsWith(`${prefix}/code/`))) {
    throw new PytorchBinError('NotCheckpoint', `${path}: a TorchScript archive (torch.jit.save), not a torch.save checkpoint`,
      'save the model\'s state_dict() with torch.save, or convert it to safetensors');
  }
  const byteorder = record('byteorder');
  if (byteorder) {
    const order = Buffer.from(zip.read(byteorder)).toString('latin1');
    if (order !== 'little') {
      throw new PytorchBinError('UnsupportedByteorder', `${path}: ${prefix}/byteorder is ${JSON.stringify(order.slice(0, 20))}; moekit reads only "little"`,
        'load and re-save the checkpoint with torch on a little-endian machine');
    }
  }
  const pkl = record('data.pkl');
  if (!pkl) throw new PytorchBinError('InvalidZip', `${path}: no ${prefix}/data.pkl record; expected a torch.save checkpoint`, BAD_WRITER);
  const source = `${path}: ${prefix}/data.pkl`;
  const root = unpickle(zip.read(pkl), source);
  if (!(root instanceof PyDict)) {
    throw new PytorchBinError('InvalidPickle', `${source}: expected a state dict (a dict of tensors), found ${describe(root)}`);
  }

  const tensors = new Map<string, { dtype: Dtype; view: TensorRef; numel: number }>();
  const storages = new Map<string, { entry: ZipEntry; users: number }>();
  for (const [key, value] of root.entries) {
    if (typeof key !== 'string') throw new PytorchBinError('InvalidPickle', `${source}: state dict key ${describe(key)} is not a string`);
    const where = `${path}: tensor ${q(key)}`;
    if (!(value instanceof TensorRef)) {
      throw new PytorchBinError('InvalidPickle', `${where}: expected a tensor, found ${describe(value)}`,
        'moekit reads state dicts of tensors; save model.state_dict() rather than a training checkpoint');
    }
    const { storage } = value;
    const dtype = STORAGE_DTYPE[storage.storageType];
    if (!dtype) {
      throw new PytorchBinError('UnsupportedDtype', `${where}: torch.${storage.storageType} is not read by moekit (supported: ${Object.keys(STORAGE_DTYPE).join(', ')})`,
        'convert the checkpoint to float32, float16 or bfloat16 first');
    }
    let used = storages.get(storage.key);
    if (!used) {
      const entry = record(`data/${storage.key}`);
      if (!entry) throw new PytorchBinError('InvalidZip', `${where}: its storage record ${prefix}/data/${storage.key} is missing`, BAD_WRITER);
      const want = storage.numel * elemBytes(dtype);
      if (entry.size !== want) {
        throw new PytorchBinError('InvalidTensor', `${where}: storage record ${prefix}/data/${storage.key} has ${entry.size} bytes, `
          + `expected ${want} (${storage.numel} × ${dtype})`, BAD_WRITER);
      }
      used = { entry, users: 0 };
      storages.set(storage.key, used);
    }
    used.users++;
    tensors.set(key, { dtype, view: value, numel: checkView(where, value, elemBytes(dtype)) });
  }

  return {
    path,
    prefix,
    tensors,
    readAll(): Map<string, SafetensorsTensor> {
      const users = new Map([...storages].map(([k, s]) => [k, s.users]));
      const loaded = new Map<string, Uint8Array>();
      const out = new Map<string, SafetensorsTensor>();
      for (const [name, { dtype, view, numel }] of tensors) {
        const key = view.storage.key;
        const bytes = loaded.get(key) ?? zip.read(storages.get(key)!.entry);
        const left = users.get(key)! - 1;
        users.set(key, left);
        if (left > 0) loaded.set(key, bytes);
        else loaded.delete(key); // the last view: let the storage go
        const data = materialise(bytes, elemBytes(dtype), view, numel, left === 0);
        out.set(name, makeTensor(name, dtype, [...view.size], viewOf(dtype, data.buffer, data.byteOffset, numel)));
      }
      return out;
    },
    close: () => zip.close(),
  };
}

/** The folder every entry lives under (§2.1): the first entry's, whatever it is. */
function archivePrefix(zip: ZipArchive): string {
  const first = zip.entries[0];
  if (!first) throw new PytorchBinError('InvalidZip', `${zip.path}: the zip archive is empty; expected a torch.save checkpoint`, BAD_WRITER);
  const slash = first.name.indexOf('/');
  const prefix = first.name.slice(0, slash);
  for (const e of zip.entries) {
    if (slash <= 0 || !e.name.startsWith(`${prefix}/`)) {
      throw new PytorchBinError('InvalidZip', `${zip.path}: entry ${q(e.name)} is outside the archive folder`
        + `${slash <= 0 ? '' : ` ${q(`${prefix}/`)}`}; torch.save puts every record under one folder`, BAD_WRITER);
    }
  }
  return prefix;
}

/**
 * Check that the view stays inside its storage (§2.4) and return its element count. Computed in BigInt:
 * sizes and strides come from the file.
 */
function checkView(where: string, t: TensorRef, itemBytes: number): number {
  const numel = t.size.reduce((a, d) => a * BigInt(d), 1n);
  const shape = `size (${t.size.join(', ')}), stride (${t.stride.join(', ')}), offset ${t.offset}`;
  if (numel > 0n) {
    const last = t.size.reduce((a, d, i) => a + BigInt(d - 1) * BigInt(t.stride[i]), BigInt(t.offset));
    if (last >= BigInt(t.storage.numel)) {
      throw new PytorchBinError('InvalidTensor', `${where}: ${shape} reaches element ${last} of storage ${q(t.storage.key)}, `
        + `which has ${t.storage.numel} elements`, BAD_WRITER);
    }
  }
  if (numel > BigInt(t.storage.numel) && numel * BigInt(itemBytes) > BigInt(MAX_EXPANDED_BYTES)) {
    throw new PytorchBinError('InvalidTensor', `${where}: ${shape} expands a ${t.storage.numel}-element storage to ${numel} elements, `
      + `over the ${MAX_EXPANDED_BYTES}-byte limit for tensors larger than their storage`, 'save the tensor contiguous (.contiguous()) first');
  }
  return Number(numel);
}

/** Strides that walk the storage in C order (size-1 dimensions may have any stride). */
function isContiguous(size: readonly number[], stride: readonly number[]): boolean {
  let expect = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expect) return false;
    expect *= size[d];
  }
  return true;
}

/**
 * The view's elements in C order, in a buffer of their own (§2.4: offset and strides in elements; strides
 * need not be contiguous). `owned`: the storage has no other user, so a view of all of it is returned as is.
 */
function materialise(storage: Uint8Array, w: number, t: TensorRef, numel: number, owned: boolean): Uint8Array {
  if (isContiguous(t.size, t.stride)) {
    if (owned && t.offset === 0 && numel * w === storage.length) return storage;
    return storage.slice(t.offset * w, (t.offset + numel) * w);
  }
  // Strided gather in units of up to 4 bytes (8-byte elements move as two words, bit for bit).
  const unit = Math.min(w, 4);
  const k = w / unit;
  const Words = unit === 1 ? Uint8Array : unit === 2 ? Uint16Array : Uint32Array;
  const src = new Words(storage.buffer as ArrayBuffer, storage.byteOffset, storage.byteLength / unit);
  const out = new Words(numel * k);
  const nd = t.size.length; // ≥ 1: a 0-d view is contiguous
  const inner = t.size[nd - 1];
  const innerStep = t.stride[nd - 1] * k;
  const index = new Array<number>(nd).fill(0);
  let base = t.offset;
  for (let o = 0; o < out.length;) {
    let s = base * k;
    for (let j = 0; j < inner; j++, s += innerStep) for (let u = 0; u < k; u++) out[o++] = src[s + u];
    for (let d = nd - 2; d >= 0; d--) { // odometer over the outer dimensions
      base += t.stride[d];
      if (++index[d] < t.size[d]) break;
      base -= t.stride[d] * t.size[d];
      index[d] = 0;
    }
  }
  return new Uint8Array(out.buffer);
}
