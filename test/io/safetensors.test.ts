// safetensors (interop.md §1): the §1.4 test vector byte for byte, round trips of every dtype, each §1.3
// refusal with its message, atomic writes, misaligned files from other writers, sharded checkpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fromFloat32, openSafetensors, parseSafetensors, readSafetensors, readShardedSafetensors,
  scanJsonKeys, serializeSafetensors, toFloat32, writeSafetensors, type SafetensorsTensor,
} from '../../src/io/safetensors/index.js';
import { SafetensorsError, type SafetensorsErrorCode } from '../../src/io/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'moekit-st-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;
function tmpFile(bytes?: Uint8Array): string {
  const path = join(tmp, `f${fileNo++}.safetensors`);
  if (bytes) writeFileSync(path, bytes);
  return path;
}

/** A safetensors image with a hand-made header: u64 N, header text + `pad` spaces, data. */
function image(header: string | object, data: Uint8Array = new Uint8Array(0), pad = 0): Uint8Array {
  const json = Buffer.from((typeof header === 'string' ? header : JSON.stringify(header)) + ' '.repeat(pad), 'utf8');
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  out.set(data, 8 + json.length);
  return out;
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function isError(code: SafetensorsErrorCode, message: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `expected a SafetensorsError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  };
}

test('§1.4 test vector: {x: F16[3], y: F32[2], z: I64[1]} zeros is 230 bytes, byte for byte', () => {
  const tensors: SafetensorsTensor[] = [
    { name: 'x', dtype: 'F16', shape: [3], data: new Uint16Array(3) },
    { name: 'y', dtype: 'F32', shape: [2], data: new Float32Array(2) },
    { name: 'z', dtype: 'I64', shape: [1], data: new BigInt64Array(1) },
  ];
  const bytes = serializeSafetensors(tensors);
  assert.equal(bytes.length, 230);
  assert.equal(Buffer.from(bytes).readBigUInt64LE(0), 200n);
  const header = '{"__metadata__":{"format":"pt"},"z":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},'
    + '"y":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"x":{"dtype":"F16","shape":[3],"data_offsets":[16,22]}}';
  assert.equal(Buffer.from(bytes.subarray(8, 208)).toString('utf8'), header + '      ');
  assert.deepEqual(bytes.subarray(208), new Uint8Array(22));
  // The file writer produces the same bytes; metadata {format: pt} is the same file.
  const path = tmpFile();
  writeSafetensors(path, tensors, { format: 'pt' });
  assert.deepEqual(new Uint8Array(readFileSync(path)), bytes);
});

function everyDtype(): SafetensorsTensor[] {
  return [
    { name: 'f32', dtype: 'F32', shape: [2, 3], data: new Float32Array([1.5, -2, 0, -0, Infinity, NaN]) },
    { name: 'f16', dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0xfbff, 0x7e00]) },
    { name: 'bf16', dtype: 'BF16', shape: [2, 1], data: new Uint16Array([0x3f80, 0xc2f7]) },
    { name: 'i64', dtype: 'I64', shape: [3], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 42n]) },
    { name: 'i32', dtype: 'I32', shape: [1, 2], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1]) },
    { name: 'u8', dtype: 'U8', shape: [5], data: new Uint8Array([0, 1, 127, 128, 255]) },
    { name: 'bool', dtype: 'BOOL', shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) },
    { name: 'scalar', dtype: 'F32', shape: [], data: new Float32Array([3.25]) },
    { name: 'scalar_i64', dtype: 'I64', shape: [], data: new BigInt64Array([7n]) },
    { name: 'empty', dtype: 'F32', shape: [0], data: new Float32Array(0) },
    { name: 'empty_2d', dtype: 'BF16', shape: [4, 0], data: new Uint16Array(0) },
    { name: 'empty_bool', dtype: 'BOOL', shape: [0, 3], data: new Uint8Array(0) },
  ];
}

function assertSameTensors(got: Map<string, SafetensorsTensor>, want: SafetensorsTensor[]): void {
  assert.equal(got.size, want.length);
  for (const w of want) {
    const g = got.get(w.name);
    assert.ok(g, `tensor ${w.name} missing`);
    assert.equal(g.dtype, w.dtype, w.name);
    assert.deepEqual(g.shape, w.shape, w.name);
    assert.equal(g.data.constructor, w.data.constructor, w.name);
    assert.deepEqual(bytesOf(g.data), bytesOf(w.data), w.name); // bit-exact (NaN, -0)
  }
}

test('round trip of every dtype, scalars and empty tensors, through all three readers', () => {
  const tensors = everyDtype();
  const path = tmpFile();
  writeSafetensors(path, tensors, { producer: 'moekit', step: '12' });
  const file = readSafetensors(path);
  assert.deepEqual(file.metadata, { format: 'pt', producer: 'moekit', step: '12' });
  assertSameTensors(file.tensors, tensors);
  assertSameTensors(parseSafetensors(readFileSync(path)).tensors, tensors);
  const reader = openSafetensors(path);
  try {
    const info = reader.tensors.get('i32')!;
    assert.deepEqual([info.dtype, info.shape, info.end - info.begin], ['I32', [1, 2], 8]);
    assertSameTensors(new Map([...reader.tensors.keys()].map((n) => [n, reader.read(n)])), tensors);
  } finally {
    reader.close();
  }
});

test('writer order: dtype (I64, F32, I32, BF16, F16, U8, BOOL) then UTF-8 name; every tensor naturally aligned', () => {
  const bytes = serializeSafetensors([...everyDtype(),
    { name: '10', dtype: 'F32', shape: [1], data: new Float32Array(1) },
    { name: '2', dtype: 'F32', shape: [1], data: new Float32Array(1) },
    { name: '\u{1F600}', dtype: 'U8', shape: [1], data: new Uint8Array(1) }, // UTF-8 F0.. sorts after U+FFFD (EF..)
    { name: '\uFFFD', dtype: 'U8', shape: [1], data: new Uint8Array(1) },
  ]);
  const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
  assert.equal(n % 8, 0);
  const text = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
  const names = [...text.matchAll(/"([^"]+)":\{"dtype/g)].map((m) => m[1]);
  assert.deepEqual(names, ['i64', 'scalar_i64', '10', '2', 'empty', 'f32', 'scalar', 'i32', 'bf16', 'empty_2d', 'f16',
    'u8', '\uFFFD', '\u{1F600}', 'bool', 'empty_bool']);
  assert.ok(text.startsWith('{"__metadata__":{"format":"pt"},"i64":'));
  const file = parseSafetensors(bytes);
  for (const t of file.tensors.values()) assert.equal(t.data.byteOffset % t.data.BYTES_PER_ELEMENT, 0, t.name);
});

test('writer refuses bad input before touching the disk, with the tensor named', () => {
  const f = (name: string, data: Float32Array = new Float32Array(2), shape = [2]): SafetensorsTensor => ({ name, dtype: 'F32', shape, data });
  const cases: [SafetensorsTensor[], Record<string, string> | undefined, RegExp][] = [
    [[f('w', new Float32Array(5), [2, 3])], undefined, /"w": data has 5 elements, shape \[2, 3\] needs 6/],
    [[f('w'), f('w')], undefined, /"w": the name appears twice/],
    [[f('__metadata__')], undefined, /"__metadata__".*other than "__metadata__"/],
    [[f('bad\uD800')], undefined, /well-formed/],
    [[f('neg', new Float32Array(2), [-2])], undefined, /"neg": shape \[-2\] must be an array of non-negative integers/],
    [[{ name: 'h', dtype: 'F16', shape: [2], data: new Float32Array(2) } as unknown as SafetensorsTensor], undefined, /"h": F16 data must be a Uint16Array, got Float32Array/],
    [[{ name: 'd', dtype: 'F64', shape: [1], data: new Float64Array(1) } as unknown as SafetensorsTensor], undefined, /"d": unsupported dtype "F64"/],
    [[f('w')], { step: 3 } as unknown as Record<string, string>, /metadata "step" must be a string/],
    [[f('w')], { format: 'tf' }, /metadata "format" must be "pt"/],
  ];
  for (const [tensors, meta, message] of cases) {
    const path = tmpFile();
    assert.throws(() => writeSafetensors(path, tensors, meta), (e: unknown) => e instanceof SafetensorsError && message.test(e.message), String(message));
    assert.deepEqual(readdirSync(tmp).filter((n) => n.startsWith(path.slice(tmp.length + 1))), [], 'nothing written');
  }
});

test('atomic write: a failing write leaves the old file intact and no temp file behind', () => {
  const path = tmpFile();
  const old = [{ name: 'a', dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }] satisfies SafetensorsTensor[];
  writeSafetensors(path, old);
  const before = readFileSync(path);
  // Invalid tensor: refused before any byte is written.
  assert.throws(() => writeSafetensors(path, [{ name: 'a', dtype: 'F32', shape: [3], data: new Float32Array(2) }]),
    isError('InvalidTensor', /"a": data has 2 elements, shape \[3\] needs 3/));
  assert.deepEqual(readFileSync(path), before);
  // The rename fails (the target is a non-empty folder): the temp file is removed.
  const dirTarget = join(tmp, 'folder.safetensors');
  mkdirSync(dirTarget);
  writeFileSync(join(dirTarget, 'keep'), 'x');
  assert.throws(() => writeSafetensors(dirTarget, old), isError('Io', /folder\.safetensors: cannot write/));
  assert.deepEqual(readdirSync(dirTarget), ['keep']);
  assert.deepEqual(readdirSync(tmp).filter((n) => n.includes('.tmp-')), []);
  // A successful write replaces the file.
  writeSafetensors(path, [{ name: 'b', dtype: 'I32', shape: [1], data: new Int32Array([9]) }]);
  assert.deepEqual([...readSafetensors(path).tensors.keys()], ['b']);
});

// ---- §1.3 refusals ------------------------------------------------------------------------------------

const F32x2 = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
const data8 = new Uint8Array(8);

const hostile: [string, Uint8Array, SafetensorsErrorCode, RegExp][] = [
  ['file < 8 bytes', new Uint8Array(5), 'HeaderTooSmall', /file is 5 bytes/],
  ['empty file', new Uint8Array(0), 'HeaderTooSmall', /file is 0 bytes/],
  ['N > 100 MB', (() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(100_000_001n); return b; })(), 'HeaderTooLarge', /N = 100000001 exceeds/],
  ['N = 2^64 - 1', (() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(2n ** 64n - 1n); return b; })(), 'HeaderTooLarge', /N = 18446744073709551615/],
  ['N past EOF', (() => { const b = Buffer.alloc(20); b.writeBigUInt64LE(13n); return b; })(), 'InvalidHeaderLength', /8 \+ N = 21 > file length 20/],
  ['not UTF-8', image('{"a":"\xff"}').map((x, i) => (i === 14 ? 0xff : x)), 'InvalidHeader', /not valid UTF-8/],
  ['not starting with {', image('  {}'), 'InvalidHeaderStart', /must start at byte 8/],
  ['an array', image('[]'), 'InvalidHeaderStart', /JSON object must start/],
  ['not JSON', image('{"a": '), 'InvalidHeaderDeserialization', /not JSON/],
  ['NUL padding', image('{}\0\0'), 'InvalidHeaderDeserialization', /not JSON/],
  ['duplicate tensor', image(`{"w":${JSON.stringify(F32x2)},"w":${JSON.stringify(F32x2)}}`, data8), 'DuplicateKey', /duplicate key "w" in the top-level object/],
  ['duplicate field', image('{"w":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}}', data8), 'DuplicateKey', /duplicate key "dtype" in "w"/],
  ['duplicate via escape', image('{"__metadata__":{"a":"1","\\u0061":"2"}}'), 'DuplicateKey', /duplicate key "a" in "__metadata__"/],
  ['tensor not an object', image({ w: [1, 2] }), 'InvalidHeaderDeserialization', /tensor "w": expected an object/],
  ['dtype not a string', image({ w: { ...F32x2, dtype: 4 } }, data8), 'InvalidHeaderDeserialization', /tensor "w": "dtype" must be a string, found number 4/],
  ['missing shape', image({ w: { dtype: 'F32', data_offsets: [0, 8] } }, data8), 'InvalidHeaderDeserialization', /tensor "w": "shape" must be an array/],
  ['negative shape', image({ w: { ...F32x2, shape: [-2] } }, data8), 'InvalidHeaderDeserialization', /"shape" must be an array of non-negative integers: element 0 is number -2/],
  ['fractional shape', image({ w: { ...F32x2, shape: [1.5] } }, data8), 'InvalidHeaderDeserialization', /"shape" must be .*: element 0 is number 1.5/],
  ['offsets of length 3', image({ w: { ...F32x2, data_offsets: [0, 4, 8] } }, data8), 'InvalidHeaderDeserialization', /tensor "w": "data_offsets" must be \[begin, end\], non-negative integers: found an array of 3/],
  ['negative offset', image({ w: { ...F32x2, data_offsets: [-8, 0] } }, data8), 'InvalidHeaderDeserialization', /"data_offsets" must be/],
  ['offset past 2^53', image('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}}', data8), 'InvalidHeaderDeserialization', /"data_offsets" must be/],
  ['unknown field', image({ w: { ...F32x2, offset: 0 } }, data8), 'InvalidHeaderDeserialization', /unknown field "offset"/],
  ['metadata not an object', image({ __metadata__: 'pt' }), 'InvalidHeaderDeserialization', /"__metadata__" must be an object/],
  ['non-string metadata', image({ __metadata__: { format: 'pt', step: 3 } }), 'InvalidHeaderDeserialization', /"__metadata__": "step" must be a string, found number 3/],
  ['nested too deep', image(`{"w":{"dtype":"F32","shape":${'['.repeat(200_000)}`), 'InvalidHeaderDeserialization', /JSON nested deeper than 128 levels/],
  ['hostile name', image({ 'evil\u001b[2J\n': { ...F32x2, shape: [3] } }, data8), 'TensorInvalidInfo', /tensor "evil\\u001b\[2J\\n": data_offsets/],
  ['unknown dtype', image({ w: { ...F32x2, dtype: 'F33' } }, data8), 'UnknownDtype', /tensor "w": unknown dtype "F33"/],
  ['sub-byte dtype, odd count', image({ w: { dtype: 'F4', shape: [3], data_offsets: [0, 2] } }, new Uint8Array(2)), 'MisalignedSlice', /"w": F4\[3\] is 12 bits/],
  ['first offset not 0', image({ w: { ...F32x2, data_offsets: [4, 12] } }, new Uint8Array(12)), 'InvalidOffset', /tensor "w": data_offsets \[4, 12\].*must start at offset 0/],
  ['hole', image({ a: F32x2, b: { ...F32x2, data_offsets: [12, 20] } }, new Uint8Array(20)), 'InvalidOffset', /tensor "b".*a hole: the previous tensor ends at 8/],
  ['overlap', image({ a: F32x2, b: { ...F32x2, data_offsets: [4, 12] } }, new Uint8Array(12)), 'InvalidOffset', /tensor "b".*overlaps the previous tensor/],
  ['same offsets twice', image({ a: F32x2, b: F32x2 }, data8), 'InvalidOffset', /overlaps/],
  ['end < begin', image({ w: { ...F32x2, data_offsets: [8, 0] } }, data8), 'InvalidOffset', /tensor "w": data_offsets \[8, 0\] end before they begin/],
  ['size ≠ numel × dtype size', image({ w: { ...F32x2, shape: [3] } }, data8), 'TensorInvalidInfo', /tensor "w": data_offsets \[0, 8\] span 8 bytes, expected 12 \(shape \[3\] × F32\)/],
  ['numel overflow', image({ w: { ...F32x2, shape: [2 ** 40, 2 ** 40] } }, data8), 'ValidationOverflow', /tensor "w": F32\[1099511627776, 1099511627776\] would take/],
  ['trailing bytes', image({ w: F32x2 }, new Uint8Array(11)), 'MetadataIncompleteBuffer', /3 trailing bytes after the last tensor/],
  ['truncated data', image({ w: F32x2 }, new Uint8Array(6)), 'MetadataIncompleteBuffer', /need 8 data bytes but the file has only 6.*truncated/],
  ['no tensors, trailing bytes', image({}, new Uint8Array(1)), 'MetadataIncompleteBuffer', /1 trailing bytes/],
];

for (const [what, bytes, code, message] of hostile) {
  test(`§1.3 refuses: ${what} (${code})`, () => {
    const path = tmpFile(bytes);
    const named = new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*${message.source}`);
    assert.throws(() => readSafetensors(path), isError(code, named));
    assert.throws(() => openSafetensors(path), isError(code, named));
    assert.throws(() => parseSafetensors(bytes, 'mem'), isError(code, new RegExp(`^mem: .*${message.source}`)));
  });
}

test('a known but unsupported dtype opens (header only) and is refused on read, naming tensor and dtype', () => {
  const bytes = image({ d: { dtype: 'F64', shape: [1], data_offsets: [0, 8] }, w: { ...F32x2, data_offsets: [8, 16] } }, new Uint8Array(16));
  const path = tmpFile(bytes);
  const reader = openSafetensors(path);
  try {
    assert.equal(reader.tensors.get('d')?.dtype, 'F64');
    assert.deepEqual(reader.read('w').data, new Float32Array(2));
    assert.throws(() => reader.read('d'), isError('UnsupportedDtype', /tensor "d" has dtype F64, which moekit does not read/));
    assert.throws(() => reader.read('W'), (e: unknown) => isError('TensorNotFound', /no tensor named "W"/)(e) && (e as SafetensorsError).hint === 'did you mean "w"?');
  } finally {
    reader.close();
  }
  assert.throws(() => reader.read('w'), isError('Io', /the reader is closed/));
  assert.throws(() => readSafetensors(path), isError('UnsupportedDtype', /"d" has dtype F64/));
  assert.throws(() => readSafetensors(join(tmp, 'missing.safetensors')), isError('Io', /missing\.safetensors: cannot open/));
  assert.throws(() => readSafetensors(tmp), isError('Io', /cannot read: EISDIR/));
});

test('hostile input never crashes or hangs: every truncation and many byte flips give a result or a SafetensorsError', () => {
  const good = serializeSafetensors(everyDtype(), { a: 'b' });
  const tryParse = (bytes: Uint8Array) => {
    try {
      parseSafetensors(bytes);
    } catch (e) {
      assert.ok(e instanceof SafetensorsError, `unexpected ${String(e)}`);
    }
  };
  for (let len = 0; len < good.length; len++) tryParse(good.subarray(0, len));
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 3000; i++) {
    const bytes = good.slice();
    for (let k = 0; k < 3; k++) bytes[Math.floor(rand() * Math.min(bytes.length, 8 + 600))] = Math.floor(rand() * 256);
    tryParse(bytes);
  }
});

test('scanJsonKeys: duplicates at any depth (with their object path), escapes, and a depth limit', () => {
  assert.deepEqual(scanJsonKeys('{"a":{"b":[{"c":1,"d":"x\\"y"}],"c":2}}'), { tooDeep: false, duplicate: null });
  assert.deepEqual(scanJsonKeys('{"a":{"b":[{"c":1,"c":2}]}}').duplicate, { key: 'c', object: 'a.b[]' });
  assert.deepEqual(scanJsonKeys('{"k":"\\"","k" : 1}').duplicate, { key: 'k', object: '' });
  assert.deepEqual(scanJsonKeys('[' .repeat(128) + ']'.repeat(128)), { tooDeep: false, duplicate: null });
  assert.equal(scanJsonKeys('['.repeat(129)).tooDeep, true);
  assert.deepEqual(scanJsonKeys('{"a":1,"a'), { tooDeep: false, duplicate: null }, 'unterminated string ends the scan');
});

// ---- files from other writers ----------------------------------------------------------------------

test('a misaligned file (odd header padding) reads correctly; in-memory views are copied only where misaligned', () => {
  const f32 = new Float32Array([1.25, -3]);
  const i64 = new BigInt64Array([-5n]);
  const f16 = new Uint16Array([0x3c00]);
  const data = new Uint8Array([...bytesOf(i64), ...bytesOf(f32), ...bytesOf(f16), 7]);
  const header = {
    __metadata__: { format: 'pt' },
    z: { dtype: 'I64', shape: [1], data_offsets: [0, 8] },
    y: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
    x: { dtype: 'F16', shape: [1], data_offsets: [16, 18] },
    b: { dtype: 'U8', shape: [], data_offsets: [18, 19] },
  };
  const json = JSON.stringify(header);
  const pad = ((8 - (json.length % 8)) % 8) + 1; // data start ≡ 1 (mod 8)
  const bytes = image(json, data, pad);
  const path = tmpFile(bytes);
  for (const file of [readSafetensors(path), parseSafetensors(readFileSync(path))]) {
    assert.deepEqual(file.tensors.get('y')!.data, f32);
    assert.deepEqual(file.tensors.get('z')!.data, i64);
    assert.deepEqual(file.tensors.get('x')!.data, f16);
    assert.deepEqual(file.tensors.get('b')!.data, new Uint8Array([7]));
    assert.deepEqual(file.tensors.get('b')!.shape, []);
  }
  const buf = new Uint8Array(new ArrayBuffer(bytes.length + 8), 0, bytes.length);
  buf.set(bytes);
  const parsed = parseSafetensors(buf);
  assert.notEqual(parsed.tensors.get('y')!.data.buffer, buf.buffer, 'misaligned F32 is copied');
  assert.equal(parsed.tensors.get('b')!.data.buffer, buf.buffer, 'U8 is always aligned: a view');
  // Our own files are aligned: every tensor is a view of the image, no copy.
  const own = serializeSafetensors(everyDtype());
  for (const t of parseSafetensors(own).tensors.values()) assert.equal(t.data.buffer, own.buffer, t.name);
});

test('a header without __metadata__ and with integer-like names reads, in data order', () => {
  const bytes = image({ 10: { ...F32x2, data_offsets: [8, 16] }, 2: F32x2 }, new Uint8Array(16));
  const file = parseSafetensors(bytes);
  assert.deepEqual(file.metadata, {});
  assert.deepEqual([...file.tensors.keys()], ['2', '10']);
});

// ---- f32 conversion ----------------------------------------------------------------------------------

test('toFloat32 / fromFloat32: F16 and BF16 through the backend; F32 is not copied', () => {
  const values = new Float32Array([1, -2, 0.5, 0, 384, -0.125]);
  for (const dtype of ['F16', 'BF16'] as const) {
    const t = fromFloat32('w', [2, 3], values, dtype);
    assert.equal(t.dtype, dtype);
    assert.deepEqual(toFloat32(t), values, dtype);
  }
  assert.deepEqual(fromFloat32('h', [1], new Float32Array([1.5]), 'BF16').data, new Uint16Array([0x3fc0]));
  assert.deepEqual(fromFloat32('h', [1], new Float32Array([1.5]), 'F16').data, new Uint16Array([0x3e00]));
  const f = fromFloat32('f', [6], values);
  assert.equal(toFloat32(f), values);
  assert.throws(() => toFloat32({ name: 'i', dtype: 'I32', shape: [1], data: new Int32Array(1) }), isError('UnsupportedDtype', /"i" is I32/));
});

// ---- sharded checkpoints (§1.5) --------------------------------------------------------------------

function shardedDir(weightMap: Record<string, string>, shards: Record<string, string[]>): string {
  const dir = join(tmp, `sharded${fileNo++}`);
  mkdirSync(dir);
  for (const [file, names] of Object.entries(shards)) {
    writeSafetensors(join(dir, file), names.map((name, i) => ({ name, dtype: 'F32', shape: [2], data: new Float32Array([i, name.length]) })));
  }
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 8 * Object.keys(weightMap).length }, weight_map: weightMap }));
  return dir;
}

const S1 = 'model-00001-of-00002.safetensors';
const S2 = 'model-00002-of-00002.safetensors';

test('sharded read through model.safetensors.index.json', () => {
  const dir = shardedDir({ a: S1, b: S1, c: S2 }, { [S1]: ['a', 'b'], [S2]: ['c'] });
  const got = readShardedSafetensors(dir);
  assert.deepEqual(got.shards, [S1, S2]);
  assert.deepEqual(got.indexMetadata, { total_size: 24 });
  assert.deepEqual([...got.tensors.keys()].sort(), ['a', 'b', 'c']);
  assert.deepEqual(got.tensors.get('b')!.data, new Float32Array([1, 1]));
  assert.deepEqual(got.tensors.get('c')!.data, new Float32Array([0, 1]));
});

test('sharded read refuses a mismatch between index and shards, naming both', () => {
  const cases: [Record<string, string>, Record<string, string[]>, RegExp][] = [
    [{ a: S1, b: S1, c: S2 }, { [S1]: ['a'], [S2]: ['c'] }, /maps tensor "b" to "model-00001-of-00002.safetensors", but that shard has no such tensor/],
    [{ a: S1, c: S2 }, { [S1]: ['a', 'x'], [S2]: ['c'] }, /model-00001-of-00002\.safetensors: tensor "x" is not listed for this shard/],
    [{ a: S1, c: S2 }, { [S1]: ['a', 'c'], [S2]: ['c'] }, /tensor "c" is not listed for this shard.*maps it to "model-00002-of-00002\.safetensors"/],
    [{ a: S1, c: S2 }, { [S1]: ['a'] }, /shard "model-00002-of-00002\.safetensors" cannot be read/],
    [{ a: '../outside.safetensors' }, {}, /"weight_map": "a" names "\.\.\/outside\.safetensors"; a shard must be a file name in the same folder/],
  ];
  for (const [map, shards, message] of cases) {
    assert.throws(() => readShardedSafetensors(shardedDir(map, shards)), isError('InvalidIndex', message), String(message));
  }
  const dir = shardedDir({}, {});
  const index = join(dir, 'model.safetensors.index.json');
  for (const [text, message] of [
    ['{"weight_map": ', /not JSON/], ['[]', /expected a JSON object/], ['{"weight_map": []}', /"weight_map" must be an object/],
    ['{"weight_map": {"a": 1}}', /"weight_map": "a" must be a shard file name/], ['{"weight_map": {"a": "x", "a": "y"}}', /duplicate key "a" in "weight_map"/],
  ] as const) {
    writeFileSync(index, text);
    assert.throws(() => readShardedSafetensors(dir), isError('InvalidIndex', message), String(message));
  }
  assert.throws(() => readShardedSafetensors(join(tmp, 'nowhere')), isError('Io', /model\.safetensors\.index\.json: cannot open/));
});
