// PyTorch .bin checkpoints (interop.md §2, §1.5): files written by real torch.save (fixtures made by
// scripts/ref/make_pytorch_bin.py, values read back by torch) must load bit for bit; hostile archives and
// pickles built here must be refused with a typed error naming the file — never run, crash or hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PytorchBinError, type PytorchBinErrorCode } from '../../src/io/errors.js';
import { PyDict, PyFloat, PyList, PyTuple, unpickle } from '../../src/io/pickle.js';
import { MAX_EXPANDED_BYTES, openPytorchBin, readPytorchBin, readShardedPytorchBin } from '../../src/io/pytorch_bin.js';
import { toFloat32, type SafetensorsTensor } from '../../src/io/safetensors/index.js';
import { openStoredZip } from '../../src/io/zip.js';

// dist/test/io/ → the repository root → test/fixtures/pytorch
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/pytorch/', import.meta.url));
type Expected = Record<string, { dtype: string; shape: number[]; hex: string }>;
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as Record<string, Expected>;

const tmp = mkdtempSync(join(tmpdir(), 'moekit-bin-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;
function tmpFile(bytes: Uint8Array): string {
  const path = join(tmp, `f${fileNo++}.bin`);
  writeFileSync(path, bytes);
  return path;
}

function hexOf(t: SafetensorsTensor): string {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString('hex');
}

function assertMatchesTorch(tensors: Map<string, SafetensorsTensor>, want: Expected): void {
  assert.deepEqual([...tensors.keys()], Object.keys(want));
  for (const [name, t] of tensors) {
    assert.equal(t.name, name);
    assert.equal(t.dtype, want[name].dtype, name);
    assert.deepEqual(t.shape, want[name].shape, name);
    assert.equal(hexOf(t), want[name].hex, name);
  }
}

function isError(code: PytorchBinErrorCode, message: RegExp, path?: string) {
  return (e: unknown) => {
    assert.ok(e instanceof PytorchBinError, `expected a PytorchBinError, got ${String((e as Error)?.stack ?? e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    if (path !== undefined) assert.ok(e.message.startsWith(path), `the message should name ${path}: ${e.message}`);
    return true;
  };
}

// ---- real torch.save files ----------------------------------------------------------------------------

for (const file of ['spec_case.bin', 'spec_case_proto4.bin', 'ints_and_bools.bin', 'parameter.bin', 'linear_state_dict.bin', 'stream_save.bin']) {
  test(`${file}: every tensor equals what torch reads back, bit for bit`, () => {
    const { path, metadata, tensors } = readPytorchBin(join(FIXTURES, file));
    assert.equal(path, join(FIXTURES, file));
    assert.deepEqual(metadata, {});
    assertMatchesTorch(tensors, expected[file]);
  });
}

test('§2.4 test case: the pickled views are those the spec lists, and the values are the hand-written ones', () => {
  const reader = openPytorchBin(join(FIXTURES, 'spec_case.bin'));
  try {
    assert.equal(reader.prefix, 'spec_case');
    const view = (name: string) => {
      const { view: v, dtype } = reader.tensors.get(name)!;
      return { dtype, type: v.storage.storageType, key: v.storage.key, numel: v.storage.numel, offset: v.offset, size: v.size, stride: v.stride };
    };
    assert.deepEqual(view('a'), { dtype: 'F32', type: 'FloatStorage', key: '0', numel: 6, offset: 0, size: [2, 3], stride: [3, 1] });
    assert.deepEqual(view('b'), { dtype: 'F16', type: 'HalfStorage', key: '1', numel: 3, offset: 0, size: [3], stride: [1] });
    assert.deepEqual(view('c'), { dtype: 'BF16', type: 'BFloat16Storage', key: '2', numel: 4, offset: 0, size: [2, 2], stride: [2, 1] });
    assert.deepEqual(view('d'), { dtype: 'F32', type: 'FloatStorage', key: '0', numel: 6, offset: 3, size: [3], stride: [1] });
    assert.deepEqual(view('e'), { dtype: 'F32', type: 'FloatStorage', key: '0', numel: 6, offset: 0, size: [3, 2], stride: [1, 3] });
  } finally {
    reader.close();
  }
  // The values written by scripts/ref/make_pytorch_bin.py, rounded to each dtype by hand.
  const t = readPytorchBin(join(FIXTURES, 'spec_case.bin')).tensors;
  const a = [1.5, -2.25, 3.0, 4.0, -0, Math.fround(1e-8)];
  assert.deepEqual([...toFloat32(t.get('a')!)], a);
  assert.deepEqual([...toFloat32(t.get('b')!)], [0.5, -65504, 1023 * 2 ** -24]); // f16: 6.1e-5 rounds to the largest subnormal
  // bf16 keeps 8 significant bits: 1e30 = 2^99 × 1.5777… → 202/128; 1e-30 = 2^-100 × 1.2677… → 162/128.
  assert.deepEqual([...toFloat32(t.get('c')!)], [1, -3.140625, 2 ** 99 * (202 / 128), -(2 ** -100) * (162 / 128)]);
  assert.deepEqual([...toFloat32(t.get('d')!)], a.slice(3));
  assert.deepEqual([...toFloat32(t.get('e')!)], [a[0], a[3], a[1], a[4], a[2], a[5]]); // a transposed
  // Views of one storage are separate copies: writing one leaves the others alone.
  (t.get('d')!.data as Float32Array)[0] = 99;
  assert.equal((t.get('a')!.data as Float32Array)[3], 4);
  assert.equal((t.get('e')!.data as Float32Array)[1], 4);
});

test('§2.1: torch pads every record to a 64-byte boundary in the local header only, and the reader follows it', () => {
  const zip = openStoredZip(join(FIXTURES, 'spec_case.bin'));
  try {
    assert.deepEqual(zip.entries.map((e) => e.name), ['data.pkl', '.format_version', '.storage_alignment', 'byteorder', 'data/0', 'data/1', 'data/2',
      'version', '.data/serialization_id'].map((n) => `spec_case/${n}`));
    for (const e of zip.entries) assert.equal(e.dataOffset % 64, 0, e.name);
    assert.equal(Buffer.from(zip.read(zip.get('spec_case/byteorder')!)).toString(), 'little');
    assert.equal(Buffer.from(zip.read(zip.get('spec_case/.format_version')!)).toString(), '1');
  } finally {
    zip.close();
  }
});

test('§2.1: the folder prefix is taken from the first entry, whatever it is (stream saves use "archive")', () => {
  const reader = openPytorchBin(join(FIXTURES, 'stream_save.bin'));
  reader.close();
  assert.equal(reader.prefix, 'archive');
  // A renamed file keeps its folder.
  const renamed = join(tmp, 'renamed.bin');
  cpSync(join(FIXTURES, 'parameter.bin'), renamed);
  const back = openPytorchBin(renamed);
  back.close();
  assert.equal(back.prefix, 'parameter');
});

// ---- sharded (§1.5) -----------------------------------------------------------------------------------

test('§1.5 sharded .bin: both shards read through the index, equal to torch', () => {
  const sharded = readShardedPytorchBin(join(FIXTURES, 'sharded'));
  assert.deepEqual(sharded.shards, ['pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']);
  assert.deepEqual(sharded.indexMetadata, { total_size: 4 * 3 * 4 + 3 * 2 + 4 * 3 * 2 });
  const want = expected.sharded;
  assert.deepEqual(new Set(sharded.tensors.keys()), new Set(Object.keys(want)));
  for (const [name, t] of sharded.tensors) {
    assert.equal(t.dtype, want[name].dtype, name);
    assert.deepEqual(t.shape, want[name].shape, name);
    assert.equal(hexOf(t), want[name].hex, name);
  }
});

function shardedCopy(edit: (index: { weight_map: Record<string, string> }, dir: string) => void): string {
  const dir = join(tmp, `sharded${fileNo++}`);
  cpSync(join(FIXTURES, 'sharded'), dir, { recursive: true });
  const indexPath = join(dir, 'pytorch_model.bin.index.json');
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map: Record<string, string> };
  edit(index, dir);
  writeFileSync(indexPath, JSON.stringify(index));
  return dir;
}

test('§1.5 sharded .bin: an index entry missing from its shard, an unlisted tensor, a missing shard are refused', () => {
  const ghost = shardedCopy((index) => { index.weight_map['model.ghost.weight'] = 'pytorch_model-00002-of-00002.bin'; });
  assert.throws(() => readShardedPytorchBin(ghost), isError('InvalidIndex', /maps tensor "model\.ghost\.weight" to "pytorch_model-00002-of-00002\.bin", but that shard has no such tensor/));
  const unlisted = shardedCopy((index) => { delete index.weight_map['model.norm.weight']; });
  assert.throws(() => readShardedPytorchBin(unlisted), isError('InvalidIndex', /pytorch_model-00001-of-00002\.bin: tensor "model\.norm\.weight" is not listed for this shard/));
  const moved = shardedCopy((index) => { index.weight_map['model.norm.weight'] = 'pytorch_model-00002-of-00002.bin'; });
  assert.throws(() => readShardedPytorchBin(moved), isError('InvalidIndex', /tensor "model\.norm\.weight" is not listed for this shard .*maps it to "pytorch_model-00002-of-00002\.bin"/));
  const missing = shardedCopy((_, dir) => unlinkSync(join(dir, 'pytorch_model-00002-of-00002.bin')));
  assert.throws(() => readShardedPytorchBin(missing), isError('InvalidIndex', /shard "pytorch_model-00002-of-00002\.bin" cannot be read/));
  const escape = shardedCopy((index) => { index.weight_map['lm_head.weight'] = '../spec_case.bin'; });
  assert.throws(() => readShardedPytorchBin(escape), isError('InvalidIndex', /a shard must be a file name in the same folder/));
});

// ---- hand-built archives and pickles ------------------------------------------------------------------

function u16(n: number): number[] { return [n & 0xff, (n >>> 8) & 0xff]; }
function u32(n: number): number[] { return [...u16(n & 0xffff), ...u16(n >>> 16)]; }
function u64(n: number): number[] { return [...u32(n % 2 ** 32), ...u32(Math.floor(n / 2 ** 32))]; }

interface ZipOptions {
  /** Compression method written for every entry (0 = STORED). */
  method?: number;
  /** Write the central sizes and offsets as ZIP64 (extra field id 1, ZIP64 end record and locator). */
  zip64?: boolean;
  /** With zip64: leave out the locator, so the end record's 0xFFFF… sentinels point nowhere. */
  noLocator?: boolean;
}

/** A zip archive (APPNOTE layout) of stored entries, CRC left 0 (moekit does not check it). */
function zipOf(entries: [string, Uint8Array][], opts: ZipOptions = {}): Uint8Array {
  const method = opts.method ?? 0;
  const out: number[] = [];
  const central: number[] = [];
  for (const [name, data] of entries) {
    const nameBytes = [...Buffer.from(name, 'utf8')];
    const offset = out.length;
    out.push(...u32(0x04034b50), ...u16(20), ...u16(0), ...u16(method), ...u32(0), ...u32(0), ...u32(data.length), ...u32(data.length),
      ...u16(nameBytes.length), ...u16(0), ...nameBytes, ...data);
    const extra = opts.zip64 ? [...u16(1), ...u16(24), ...u64(data.length), ...u64(data.length), ...u64(offset)] : [];
    const wide = (n: number) => (opts.zip64 ? 0xffffffff : n);
    central.push(...u32(0x02014b50), ...u16(20), ...u16(20), ...u16(0), ...u16(method), ...u32(0), ...u32(0), ...u32(wide(data.length)),
      ...u32(wide(data.length)), ...u16(nameBytes.length), ...u16(extra.length), ...u16(0), ...u16(0), ...u16(0), ...u32(0),
      ...u32(wide(offset)), ...nameBytes, ...extra);
  }
  const cdOffset = out.length;
  out.push(...central);
  if (opts.zip64) {
    const end64 = out.length;
    out.push(...u32(0x06064b50), ...u64(44), ...u16(45), ...u16(45), ...u32(0), ...u32(0), ...u64(entries.length), ...u64(entries.length),
      ...u64(central.length), ...u64(cdOffset));
    if (!opts.noLocator) out.push(...u32(0x07064b50), ...u32(0), ...u64(end64), ...u32(1));
    out.push(...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(0xffff), ...u16(0xffff), ...u32(0xffffffff), ...u32(0xffffffff), ...u16(0));
  } else {
    out.push(...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(entries.length), ...u16(entries.length), ...u32(central.length), ...u32(cdOffset), ...u16(0));
  }
  return new Uint8Array(out);
}

// Pickle opcodes, hand-assembled (interop.md §2.2).
const op = (c: string) => [c.charCodeAt(0)];
const PROTO2 = [0x80, 2];
const GLOBAL = (module: string, name: string) => [...op('c'), ...Buffer.from(`${module}\n${name}\n`)];
const STR = (s: string) => { const b = [...Buffer.from(s, 'utf8')]; return [...op('X'), ...u32(b.length), ...b]; };
const INT = (n: number) => [...op('J'), ...u32(n >>> 0)];
const TUPLE = (items: number[][]) => [...op('('), ...items.flat(), ...op('t')];
const MARK = op('(');
const [EMPTY_TUPLE, REDUCE, STOP, BINPERSID, NEWFALSE, SETITEMS, EMPTY_DICT] = [')', 'R', '.', 'Q', '\x89', 'u', '}'].map(op);

interface TensorSpec { name: string; storage?: string; key?: string; numel: number; offset?: number; size: number[]; stride: number[] }

/** `_rebuild_tensor_v2((storage pid), offset, size, stride, False, OrderedDict())`, as torch.save writes it. */
function tensorOps(t: TensorSpec): number[] {
  return [...GLOBAL('torch._utils', '_rebuild_tensor_v2'), ...MARK,
    ...TUPLE([STR('storage'), GLOBAL('torch', t.storage ?? 'FloatStorage'), STR(t.key ?? '0'), STR('cpu'), INT(t.numel)]), ...BINPERSID,
    ...INT(t.offset ?? 0), ...TUPLE(t.size.map(INT)), ...TUPLE(t.stride.map(INT)), ...NEWFALSE,
    ...GLOBAL('collections', 'OrderedDict'), ...EMPTY_TUPLE, ...REDUCE, ...op('t'), ...REDUCE];
}

/** An OrderedDict state dict of `tensors`, pickled. */
function stateDictPickle(tensors: TensorSpec[]): Uint8Array {
  return new Uint8Array([...PROTO2, ...GLOBAL('collections', 'OrderedDict'), ...EMPTY_TUPLE, ...REDUCE, ...MARK,
    ...tensors.flatMap((t) => [...STR(t.name), ...tensorOps(t)]), ...SETITEMS, ...STOP]);
}

/** A checkpoint archive under folder "ckpt/": data.pkl, byteorder and one data/<key> per storage. */
function checkpoint(pkl: Uint8Array | number[], storages: Record<string, ArrayBufferView> = {}, opts: ZipOptions & { byteorder?: string | null } = {}): string {
  const entries: [string, Uint8Array][] = [['ckpt/data.pkl', new Uint8Array(pkl)]];
  if (opts.byteorder !== null) entries.push(['ckpt/byteorder', Buffer.from(opts.byteorder ?? 'little')]);
  for (const [key, data] of Object.entries(storages)) entries.push([`ckpt/data/${key}`, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]);
  return tmpFile(zipOf(entries, opts));
}

const SIX = new Float32Array([0, 1, 2, 3, 4, 5]);

test('hand-built checkpoints: strided gathers match hand-computed values (f32, i64 two-word, zero strides, no byteorder)', () => {
  const path = checkpoint(stateDictPickle([
    { name: 'cols', numel: 6, size: [2, 3], stride: [1, 2] }, // (i, j) = s[i + 2j]
    { name: 'rows', numel: 6, offset: 1, size: [2, 2], stride: [3, 1] }, // (i, j) = s[1 + 3i + j]
    { name: 'bcast', numel: 6, offset: 2, size: [2, 3], stride: [0, 1] }, // a saved expand(): rows repeat
    { name: 'odd', storage: 'LongStorage', key: '1', numel: 4, offset: 1, size: [2], stride: [2] },
  ]), { 0: SIX, 1: new BigInt64Array([10n, -(2n ** 62n), 30n, 2n ** 63n - 1n]) }, { byteorder: null });
  const t = readPytorchBin(path).tensors;
  assert.deepEqual([...(t.get('cols')!.data as Float32Array)], [0, 2, 4, 1, 3, 5]);
  assert.deepEqual([...(t.get('rows')!.data as Float32Array)], [1, 2, 4, 5]);
  assert.deepEqual([...(t.get('bcast')!.data as Float32Array)], [2, 3, 4, 2, 3, 4]);
  assert.deepEqual(t.get('bcast')!.shape, [2, 3]);
  assert.deepEqual([...(t.get('odd')!.data as BigInt64Array)], [-(2n ** 62n), 2n ** 63n - 1n]);
});

test('ZIP64 end records and central extra fields (what torch writes past 4 GiB) are followed; dangling sentinels are refused', () => {
  const pkl = stateDictPickle([{ name: 'w', numel: 6, size: [3, 2], stride: [2, 1] }]);
  const t = readPytorchBin(checkpoint(pkl, { 0: SIX }, { zip64: true })).tensors;
  assert.deepEqual([...(t.get('w')!.data as Float32Array)], [0, 1, 2, 3, 4, 5]);
  const dangling = checkpoint(pkl, { 0: SIX }, { zip64: true, noLocator: true });
  assert.throws(() => readPytorchBin(dangling), isError('InvalidZip', /defers to a ZIP64 end record, but there is none/, dangling));
});

test('§2.3: forbidden globals are refused by name, before anything could be called', () => {
  const forbidden: [string, string][] = [['os', 'system'], ['builtins', 'eval'], ['builtins', 'exec'], ['builtins', 'getattr'], ['builtins', '__import__'],
    ['posix', 'system'], ['nt', 'system'], ['subprocess', 'Popen'], ['functools', 'partial'], ['numpy.core.multiarray', '_reconstruct'],
    ['torch', 'load'], ['torch._utils', '_rebuild_device_tensor_from_numpy'], ['collections', 'defaultdict']];
  for (const [module, name] of forbidden) {
    // GLOBAL (protocol 2) …
    const path = checkpoint([...PROTO2, ...GLOBAL(module, name), ...STR('echo pwned'), ...op('\x85'), ...REDUCE, ...STOP]);
    assert.throws(() => readPytorchBin(path),
      isError('ForbiddenGlobal', new RegExp(`ckpt/data\\.pkl: forbidden pickle global "${module} ${name}" at byte 2; a checkpoint may only name`), path));
    // … and STACK_GLOBAL (protocol 4).
    const short = (s: string) => [0x8c, s.length, ...Buffer.from(s)];
    const path4 = checkpoint([0x80, 4, ...short(module), ...short(name), 0x93, ...STR('x'), ...op('\x85'), ...REDUCE, ...STOP]);
    assert.throws(() => readPytorchBin(path4), isError('ForbiddenGlobal', new RegExp(`"${module} ${name}"`), path4));
  }
});

test('§2.2: scalars and containers decode as the pickle format defines them (BINFLOAT big-endian, LONG1 two\'s complement)', () => {
  const run = (ops: number[]) => unpickle(new Uint8Array([...PROTO2, ...ops, ...STOP]), 'test.pkl');
  assert.deepEqual(run([...op('G'), 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]), new PyFloat(1.5)); // 1.5 = 0x3FF8000000000000, big-endian
  assert.deepEqual(run([...op('G'), 0xc0, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]), new PyFloat(-3.141592653589793));
  assert.equal(run([0x8a, 2, 0xfe, 0xff]), -2);
  assert.equal(run([0x8a, 2, 0xff, 0x00]), 255);
  assert.equal(run([0x8a, 0]), 0);
  assert.equal(run([0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1]), 2n ** 64n); // past 2^53: a bigint
  assert.equal(run([0x8a, 8, 0, 0, 0, 0, 0, 0, 0, 0x80]), -(2n ** 63n));
  assert.equal(run([...op('J'), 0xff, 0xff, 0xff, 0xff]), -1);
  assert.equal(run([...op('M'), 0x34, 0x12]), 0x1234);
  assert.equal(run([...op('K'), 0xff]), 255);
  assert.equal(run([...op('U'), 3, ...Buffer.from('abc')]), 'abc');
  assert.equal(run([0x8c, 5, ...Buffer.from('é€')]), 'é€'); // SHORT_BINUNICODE: 5 UTF-8 bytes
  assert.equal(run([...op('N')]), null);
  assert.equal(run([0x88]), true);
  assert.deepEqual(run([...INT(1), ...INT(2), ...INT(3), 0x87]), new PyTuple([1, 2, 3]));
  const list = run([...op(']'), ...MARK, ...INT(7), ...STR('x'), ...op('e'), ...INT(8), ...op('a')]) as PyList;
  assert.deepEqual(list.items, [7, 'x', 8]);
  // A memoised object comes back as the same object; NEWOBJ OrderedDict and a BUILD on it (state ignored).
  const shared = run([...EMPTY_DICT, ...op('q'), 3, ...MARK, ...STR('a'), ...op('h'), 3, ...STR('b'), ...INT(2), ...SETITEMS]) as PyDict;
  assert.equal(shared.entries.get('a'), shared);
  assert.equal(shared.entries.get('b'), 2);
  const built = run([...GLOBAL('collections', 'OrderedDict'), ...EMPTY_TUPLE, 0x81, ...EMPTY_DICT, ...op('b')]) as PyDict;
  assert.ok(built instanceof PyDict && built.ordered && built.entries.size === 0);
  assert.throws(() => run([...EMPTY_DICT, ...STR('lr'), ...op('G'), 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, ...op('s'), ...INT(1), ...op('a')]),
    isError('InvalidPickle', /^test\.pkl: APPEND to a dict of 1/));
});

test('§2.3: a real torch.save of an object whose __reduce__ calls os.system is refused, naming "posix system"', () => {
  const path = join(FIXTURES, 'hostile_os_system.bin');
  assert.throws(() => readPytorchBin(path),
    isError('ForbiddenGlobal', /hostile_os_system\/data\.pkl: forbidden pickle global "posix system" at byte 175; /, path));
});

test('§2.3: allowed globals used out of place are refused (calling a storage type, BUILD/APPEND/SETITEM on the wrong object)', () => {
  const cases: [number[], RegExp][] = [
    [[...PROTO2, ...GLOBAL('torch', 'FloatStorage'), ...EMPTY_TUPLE, ...REDUCE, ...STOP], /REDUCE: the global torch\.FloatStorage is not an allowed callable/],
    [[...PROTO2, ...EMPTY_DICT, ...EMPTY_DICT, ...op('b'), ...STOP], /BUILD on a dict of 0; only an OrderedDict or a tensor may be built/],
    [[...PROTO2, ...EMPTY_DICT, ...INT(1), ...op('a'), ...STOP], /APPEND to a dict of 0; only a list can be appended to/],
    [[...PROTO2, ...op(']'), ...STR('k'), ...INT(1), ...op('s'), ...STOP], /SETITEM on a list of 0; only a dict can take items/],
    [[...PROTO2, ...GLOBAL('collections', 'OrderedDict'), ...TUPLE([INT(1)]), ...REDUCE, ...STOP], /OrderedDict: expected no arguments, found 1/],
    [[...PROTO2, ...GLOBAL('torch._utils', '_rebuild_tensor_v2'), ...TUPLE([STR('not a storage'), INT(0)]), ...REDUCE, ...STOP],
      /_rebuild_tensor_v2: expected 6 or 7 arguments/],
    [[...PROTO2, ...TUPLE([STR('storage'), STR('FloatStorage'), STR('0'), STR('cpu'), INT(6)]), ...BINPERSID, ...STOP],
      /BINPERSID: expected \("storage", <torch storage type>, key, location, numel\)/],
    [[...PROTO2, ...op(']'), ...STOP], /expected a state dict \(a dict of tensors\), found a list of 0/],
    [[...PROTO2, ...EMPTY_DICT, ...STR('epoch'), ...INT(3), ...op('s'), ...STOP], /tensor "epoch": expected a tensor, found the int 3/],
  ];
  for (const [pkl, message] of cases) {
    const path = checkpoint(pkl);
    assert.throws(() => readPytorchBin(path), isError('InvalidPickle', message, path));
  }
});

test('§2.2: unknown opcodes, memo misses, stack underflow and lengths past the end are refused with the byte position', () => {
  const cases: [number[], PytorchBinErrorCode, RegExp][] = [
    [[...PROTO2, ...op('I'), ...Buffer.from('1\n'), ...STOP], 'UnsupportedOpcode', /unsupported pickle opcode 0x49 at byte 2$/],
    [[...PROTO2, 0x8e, ...u64(4), 1, 2, 3, 4, ...STOP], 'UnsupportedOpcode', /unsupported pickle opcode 0x8e at byte 2$/],
    [[...PROTO2, 0xff], 'UnsupportedOpcode', /unsupported pickle opcode 0xff at byte 2$/],
    [[...PROTO2, ...op('h'), 5, ...STOP], 'InvalidPickle', /memo index 5 was never stored \(memo holds 0 values\) at byte 2$/],
    [[...PROTO2, ...EMPTY_DICT, ...op('q'), 0, ...op('j'), ...u32(0xffffffff), ...STOP], 'InvalidPickle', /memo index 4294967295 was never stored/],
    [[...PROTO2, ...REDUCE, ...STOP], 'InvalidPickle', /stack underflow at byte 2$/],
    [[...PROTO2, ...EMPTY_DICT, ...MARK, ...REDUCE, ...STOP], 'InvalidPickle', /stack underflow at byte 4$/],
    [[...PROTO2, ...INT(1), ...op('t'), ...STOP], 'InvalidPickle', /no MARK to pop to at byte 7$/],
    [[...PROTO2, ...op('X'), ...u32(0xfffffff0), 0x41, ...STOP], 'InvalidPickle', /opcode 0x58 needs 4294967280 more bytes but the stream ends at byte 9/],
    [[...PROTO2, 0x95, ...u64(2 ** 40), ...STOP], 'InvalidPickle', /FRAME of 1099511627776 bytes runs past the end/],
    [[...PROTO2, ...op('c'), ...Buffer.from('os')], 'InvalidPickle', /a name without its terminating newline/],
    [[...PROTO2, ...EMPTY_DICT], 'InvalidPickle', /ended without STOP/],
    [[...PROTO2, ...EMPTY_DICT, ...EMPTY_DICT, ...STOP], 'InvalidPickle', /STOP with 2 values/],
    [[0x80, 9, ...EMPTY_DICT, ...STOP], 'InvalidPickle', /pickle protocol 9; expected 2 to 5 at byte 0$/],
    [[...PROTO2, ...op('X'), ...u32(2), 0xc3, 0x28, ...STOP], 'InvalidPickle', /not valid UTF-8/],
  ];
  for (const [pkl, code, message] of cases) {
    const path = checkpoint(pkl);
    assert.throws(() => readPytorchBin(path), isError(code, message, path));
  }
});

test('§2.4: views outside their storage, storage records of the wrong size, unsupported storages are refused by tensor name', () => {
  const short = checkpoint(stateDictPickle([{ name: 'w', numel: 5, size: [2, 3], stride: [3, 1] }]), { 0: SIX.subarray(0, 5) });
  assert.throws(() => readPytorchBin(short),
    isError('InvalidTensor', /tensor "w": size \(2, 3\), stride \(3, 1\), offset 0 reaches element 5 of storage "0", which has 5 elements/, short));
  const offset = checkpoint(stateDictPickle([{ name: 'w', numel: 6, offset: 4, size: [3], stride: [1] }]), { 0: SIX });
  assert.throws(() => readPytorchBin(offset), isError('InvalidTensor', /reaches element 6 of storage "0", which has 6 elements/, offset));
  const record = checkpoint(stateDictPickle([{ name: 'w', numel: 6, size: [6], stride: [1] }]), { 0: SIX.subarray(0, 4) });
  assert.throws(() => readPytorchBin(record), isError('InvalidTensor', /storage record ckpt\/data\/0 has 16 bytes, expected 24 \(6 × F32\)/, record));
  const missing = checkpoint(stateDictPickle([{ name: 'w', numel: 6, size: [6], stride: [1] }]));
  assert.throws(() => readPytorchBin(missing), isError('InvalidZip', /tensor "w": its storage record ckpt\/data\/0 is missing/, missing));
  const huge = checkpoint(stateDictPickle([{ name: 'w', numel: 1, size: [1 << 20, 1 << 20], stride: [0, 0] }]), { 0: SIX.subarray(0, 1) });
  assert.throws(() => readPytorchBin(huge), isError('InvalidTensor', new RegExp(`to 1099511627776 elements, over the ${MAX_EXPANDED_BYTES}-byte limit`), huge));
  const double = checkpoint(stateDictPickle([{ name: 'w', storage: 'DoubleStorage', numel: 3, size: [3], stride: [1] }]), { 0: SIX });
  assert.throws(() => readPytorchBin(double), isError('UnsupportedDtype', /tensor "w": torch\.DoubleStorage is not read by moekit/, double));
  const twoTypes = checkpoint(stateDictPickle([{ name: 'a', numel: 6, size: [6], stride: [1] }, { name: 'b', storage: 'IntStorage', numel: 6, size: [6], stride: [1] }]), { 0: SIX });
  assert.throws(() => readPytorchBin(twoTypes), isError('InvalidPickle', /storage "0" is referenced as FloatStorage\[6\] and as IntStorage\[6\]/, twoTypes));
});

test('§2.1: big-endian byteorder, compression, entries outside the folder, TorchScript and legacy files are refused', () => {
  const pkl = stateDictPickle([{ name: 'w', numel: 6, size: [6], stride: [1] }]);
  const big = checkpoint(pkl, { 0: SIX }, { byteorder: 'big' });
  assert.throws(() => readPytorchBin(big), isError('UnsupportedByteorder', /ckpt\/byteorder is "big"; moekit reads only "little"/, big));
  const deflated = checkpoint(pkl, { 0: SIX }, { method: 8 });
  assert.throws(() => readPytorchBin(deflated), isError('UnsupportedZip', /entry "ckpt\/data\.pkl" is compressed \(method 8\)/, deflated));
  const loose = tmpFile(zipOf([['ckpt/data.pkl', pkl], ['data/0', new Uint8Array(SIX.buffer)]]));
  assert.throws(() => readPytorchBin(loose), isError('InvalidZip', /entry "data\/0" is outside the archive folder "ckpt\/"/, loose));
  const rootFirst = tmpFile(zipOf([['data.pkl', pkl]]));
  assert.throws(() => readPytorchBin(rootFirst), isError('InvalidZip', /entry "data\.pkl" is outside the archive folder;/, rootFirst));
  const noPickle = tmpFile(zipOf([['ckpt/byteorder', Buffer.from('little')]]));
  assert.throws(() => readPytorchBin(noPickle), isError('InvalidZip', /no ckpt\/data\.pkl record/, noPickle));
  const script = tmpFile(zipOf([['model/data.pkl', pkl], ['model/constants.pkl', pkl], ['model/code/__torch__.py', Buffer.from('x')]]));
  assert.throws(() => readPytorchBin(script), isError('NotCheckpoint', /a TorchScript archive/, script));
  // A pre-1.6 torch.save file is a bare pickle stream: PROTO 2, then torch's magic number as a LONG1.
  const legacy = tmpFile(new Uint8Array([...PROTO2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, ...STOP]));
  assert.throws(() => readPytorchBin(legacy), isError('NotCheckpoint', /not a zip archive .*found a bare pickle stream/, legacy));
  const text = tmpFile(Buffer.from('{"not": "a checkpoint"}'));
  assert.throws(() => readPytorchBin(text), isError('NotCheckpoint', /not a zip archive \(expected "PK\\x03\\x04" at byte 0\)/, text));
  const empty = tmpFile(new Uint8Array(0));
  assert.throws(() => readPytorchBin(empty), isError('NotCheckpoint', /not a zip archive/, empty));
  assert.throws(() => readPytorchBin(join(tmp, 'absent.bin')), isError('Io', /absent\.bin: cannot open/));
});

/** The file offset of the central directory entry named `name` in a real archive. */
function centralEntry(bytes: Uint8Array, name: string): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let p = bytes.length - 22; p >= 0; p--) {
    if (dv.getUint32(p, true) === 0x02014b50 && Buffer.from(bytes.subarray(p + 46, p + 46 + dv.getUint16(p + 28, true))).toString() === name) return p;
  }
  throw new Error(`no central entry ${name}`);
}

test('§2.1 on a real torch file: an entry offset past EOF, data running into the directory, a wrong local header are refused', () => {
  const real = new Uint8Array(readFileSync(join(FIXTURES, 'spec_case.bin')));
  const at = centralEntry(real, 'spec_case/data/1');
  const patched = (edit: (dv: DataView) => void) => {
    const copy = real.slice();
    edit(new DataView(copy.buffer));
    return tmpFile(copy);
  };
  const pastEof = patched((dv) => dv.setUint32(at + 42, real.length + 100, true));
  assert.throws(() => readPytorchBin(pastEof), isError('InvalidZip', new RegExp(`entry "spec_case/data/1": local header offset ${real.length + 100} is past the data area`), pastEof));
  const tooLong = patched((dv) => { dv.setUint32(at + 20, 1 << 20, true); dv.setUint32(at + 24, 1 << 20, true); });
  assert.throws(() => readPytorchBin(tooLong), isError('InvalidZip', /entry "spec_case\/data\/1": its 1048576 data bytes at byte \d+ run past the data area/, tooLong));
  const elsewhere = patched((dv) => dv.setUint32(at + 42, 1, true));
  assert.throws(() => readPytorchBin(elsewhere), isError('InvalidZip', /entry "spec_case\/data\/1": expected a local header \("PK\\x03\\x04"\) at byte 1/, elsewhere));
  const tooMany = patched((dv) => {
    const end = real.length - 22;
    dv.setUint16(end + 8, 400, true);
    dv.setUint16(end + 10, 400, true);
  });
  // torch's ZIP64 end record is authoritative: the count in the classic record is then ignored.
  assert.equal(readPytorchBin(tooMany).tensors.size, 5);
});

test('truncations of a real torch file are refused with a PytorchBinError naming the file', () => {
  const real = readFileSync(join(FIXTURES, 'spec_case.bin'));
  const path = join(tmp, 'truncated.bin');
  // Every cut inside the end records (the last 120 bytes), every 8th elsewhere (writing files is slow).
  for (let n = 0; n < real.length; n += n < real.length - 120 ? 8 : 1) {
    writeFileSync(path, real.subarray(0, n));
    assert.throws(() => readPytorchBin(path), (e: unknown) => e instanceof PytorchBinError && e.message.startsWith(path), `cut at ${n}`);
  }
  writeFileSync(path, real.subarray(0, real.length - 1));
  assert.throws(() => readPytorchBin(path), isError('InvalidZip', /no end-of-central-directory record .*truncated/, path));
});

test('single-byte corruptions of a real torch file load or are refused with a PytorchBinError — never another error', () => {
  const real = readFileSync(join(FIXTURES, 'spec_case_proto4.bin'));
  const path = join(tmp, 'flipped.bin');
  // The pickle (with its local header) and the directory records, where structure lives; every other byte.
  const dv = new DataView(real.buffer, real.byteOffset, real.byteLength);
  const pickleEnd = 30 + dv.getUint16(26, true) + dv.getUint16(28, true) + dv.getUint32(22, true);
  const directory = dv.getUint32(real.length - 22 + 16, true);
  let refused = 0;
  for (let i = 0; i < real.length; i += i >= pickleEnd && i < directory ? directory - pickleEnd : 2) {
    const copy = Buffer.from(real);
    copy[i] ^= 0xff;
    writeFileSync(path, copy);
    try {
      readPytorchBin(path);
    } catch (e) {
      assert.ok(e instanceof PytorchBinError && e.message.startsWith(path), `flip at ${i}: ${String((e as Error).stack ?? e)}`);
      refused++;
    }
  }
  assert.ok(refused > 100, `only ${refused} corruptions were noticed`);
});
