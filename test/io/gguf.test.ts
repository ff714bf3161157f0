// GGUF v3 reader and writer (interop.md §5): the §5.10 test vector byte for byte, a round trip through a
// file with every value type and tensor type, Q8_0 against hand-computed blocks, the atomic write, and
// every refusal of §5.2 (plus truncation and out-of-range counts), each on a file assembled by hand here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  gv, openGguf, parseGguf, quantizeQ8_0, serializeGguf, writeGguf, encodeF32, type GgufTensorSpec, type GgufValue,
} from '../../src/io/gguf/index.js';
import { GgufError } from '../../src/io/errors.js';

// ---- a GGUF assembler written from the §5.1 table (the oracle for the reader and the writer) ----

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const i32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };
const u64 = (n: number | bigint) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
const f32 = (x: number) => { const b = Buffer.alloc(4); b.writeFloatLE(x); return b; };
const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s, 'utf8')]);
/** One key/value: key, value type id, value bytes. */
const kv = (key: string, type: number, value: Buffer) => Buffer.concat([str(key), u32(type), value]);
const info = (name: string, ne: (number | bigint)[], type: number, offset: number) =>
  Buffer.concat([str(name), u32(ne.length), ...ne.map(u64), u32(type), u64(offset)]);
/** A whole file: header, kvs, infos, zero padding to `alignment`, then `data`. */
function assemble(kvs: Buffer[], infos: Buffer[], data: Buffer, opts: { version?: number; alignment?: number; tensorCount?: number } = {}): Buffer {
  const head = Buffer.concat([Buffer.from('GGUF'), u32(opts.version ?? 3), u64(opts.tensorCount ?? infos.length), u64(kvs.length), ...kvs, ...infos]);
  const a = opts.alignment ?? 32;
  return Buffer.concat([head, Buffer.alloc((a - (head.length % a)) % a), data]);
}
const f32s = (xs: number[]) => Buffer.concat(xs.map(f32));
const pad = (b: Buffer, a = 32) => Buffer.concat([b, Buffer.alloc((a - (b.length % a)) % a)]);

const dir = mkdtempSync(join(tmpdir(), 'moekit-gguf-test-'));
let fileNo = 0;
function fileOf(bytes: Uint8Array): string {
  const path = join(dir, `f${fileNo++}.gguf`);
  writeFileSync(path, bytes);
  return path;
}

/** The §5.10 file, built from its description. */
function testVector(): Buffer {
  return assemble(
    [kv('general.architecture', 8, str('llama')), kv('llama.block_count', 4, u32(1))],
    [info('token_embd.weight', [3, 2], 0, 0), info('blk.0.attn_norm.weight', [3], 0, 32)],
    Buffer.concat([pad(f32s([0, 1, 2, 3, 4, 5])), pad(f32s([1, 1, 1]))]),
  );
}

const f32Tensor = (name: string, ne: number[], values: number[]): GgufTensorSpec =>
  ({ name, type: 'F32', ne, data: () => encodeF32(Float32Array.from(values), 'F32') });

test('§5.10 test vector: 288 bytes, byte for byte, and it reads back', () => {
  const expected = testVector();
  assert.equal(expected.length, 288);
  const meta = new Map<string, GgufValue>([['general.architecture', gv.str('llama')], ['llama.block_count', gv.u32(1)]]);
  const tensors = [f32Tensor('token_embd.weight', [3, 2], [0, 1, 2, 3, 4, 5]), f32Tensor('blk.0.attn_norm.weight', [3], [1, 1, 1])];
  assert.deepEqual(Buffer.from(serializeGguf(meta, tensors)), expected);
  const path = join(dir, 'vector.gguf');
  writeGguf(path, meta, tensors);
  assert.deepEqual(readFileSync(path), expected);

  const r = openGguf(path);
  try {
    assert.equal(r.version, 3);
    assert.equal(r.dataStart, 224);
    assert.deepEqual([...r.metadata], [['general.architecture', { type: 'string', value: 'llama' }], ['llama.block_count', { type: 'u32', value: 1 }]]);
    assert.deepEqual(r.tensors.map((t) => [t.name, t.type, t.ne, t.offset, t.nbytes]),
      [['token_embd.weight', 'F32', [3, 2], 0, 24], ['blk.0.attn_norm.weight', 'F32', [3], 32, 12]]);
    assert.deepEqual([...r.read('token_embd.weight')], [0, 1, 2, 3, 4, 5]);
    assert.throws(() => r.read('token_embd.weights'), (e: GgufError) => e.code === 'TensorNotFound' && /did you mean "token_embd.weight"/.test(e.hint ?? ''));
  } finally {
    r.close();
  }
});

test('round trip: every value type, arrays, F32/F16/BF16/Q8_0 tensors, general.alignment 64', () => {
  const meta = new Map<string, GgufValue>([
    ['general.architecture', gv.str('llama')],
    ['general.alignment', gv.u32(64)],
    ['a.u8', { type: 'u8', value: 255 }], ['a.i8', { type: 'i8', value: -128 }], ['a.u16', { type: 'u16', value: 65535 }],
    ['a.i16', { type: 'i16', value: -32768 }], ['a.u32', gv.u32(4294967295)], ['a.i32', gv.i32(-2147483648)],
    ['a.f32', gv.f32(0.5)], ['a.bool', gv.bool(true)], ['a.string', gv.str('Ġhé 東京 🙂')],
    ['a.u64', gv.u64(2n ** 64n - 1n)], ['a.i64', { type: 'i64', value: -(2n ** 63n) }], ['a.f64', { type: 'f64', value: Math.PI }],
    ['a.strings', gv.strings(['a b', '', 'Ċ'])], ['a.i32s', gv.i32s([-1, 0, 7])], ['a.f32s', gv.f32s([1.5, -2])],
    ['a.empty', gv.strings([])], ['a.u64s', { type: 'array', elementType: 'u64', values: [0n, 5n] }],
  ]);
  const f16Values = [0, 1, -2, 0.5, 65504, 2 ** -24, 3, 4]; // all exactly representable in f16 and bf16 but 65504/2^-24
  const q8 = new Float32Array(64);
  for (let i = 0; i < 64; i++) q8[i] = (i - 20) / 3;
  const tensors: GgufTensorSpec[] = [
    f32Tensor('t.f32', [2, 3], [1, 2, 3, 4, 5, 6]),
    { name: 't.f16', type: 'F16', ne: [8], data: () => encodeF32(Float32Array.from(f16Values), 'F16') },
    { name: 't.bf16', type: 'BF16', ne: [4, 2], data: () => encodeF32(Float32Array.from([1, -2, 0.5, 3, 256, 1 / 1024, -0.25, 7]), 'BF16') },
    { name: 't.q8', type: 'Q8_0', ne: [32, 2], data: () => quantizeQ8_0(q8) },
  ];
  const path = join(dir, 'roundtrip.gguf');
  const written: string[] = [];
  writeGguf(path, meta, tensors, { onTensor: (i, n, name) => written.push(`${i + 1}/${n} ${name}`) });
  assert.deepEqual(written, ['1/4 t.f32', '2/4 t.f16', '3/4 t.bf16', '4/4 t.q8']);
  const r = openGguf(path);
  try {
    assert.deepEqual([...r.metadata.keys()], [...meta.keys()]);
    for (const [k, v] of meta) assert.deepEqual(r.metadata.get(k), v, k);
    assert.equal(r.alignment, 64);
    assert.equal(r.dataStart % 64, 0);
    assert.deepEqual(r.tensors.map((t) => t.offset), [0, 64, 128, 192]);
    assert.deepEqual([...r.read('t.f32')], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...r.read('t.f16')], [0, 1, -2, 0.5, 65504, 2 ** -24, 3, 4]);
    assert.deepEqual([...r.read('t.bf16')], [1, -2, 0.5, 3, 256, 1 / 1024, -0.25, 7]);
    const back = r.read('t.q8');
    for (let i = 0; i < 64; i++) assert.ok(Math.abs(back[i] - q8[i]) <= (44 / 3 / 127) / 2 + 1e-3, `q8 element ${i}`);
    assert.equal(readFileSync(path).length, r.dataStart + 192 + 128); // the 68-byte Q8_0 tensor is padded to 128
  } finally {
    r.close();
  }
});

test('Q8_0 blocks against hand-computed values: d = amax/127 as f16, q rounded half away from zero (§5.3)', () => {
  const x = new Float32Array(64);
  x.set([127, 0.5, -0.5, 2.5, -2.5, 1.4, -126.6]); // block 0: amax 127 → d = 1
  x[40] = -12.7; // block 1: amax 12.7 → d = 0.1, q = x / 0.1
  x[41] = 0.05;
  const b = Buffer.from(quantizeQ8_0(x));
  assert.equal(b.length, 68);
  assert.equal(b.readUInt16LE(0), 0x3c00); // f16 1.0
  assert.deepEqual([...b.subarray(2, 9)].map((v) => (v << 24) >> 24), [127, 1, -1, 3, -3, 1, -127]);
  assert.ok([...b.subarray(9, 34)].every((v) => v === 0));
  assert.equal(b.readUInt16LE(34), 0x2e66); // f16 nearest to 0.1
  assert.equal((b[34 + 2 + 8] << 24) >> 24, -127);
  assert.equal((b[34 + 2 + 9] << 24) >> 24, 1); // 0.05 / 0.1 = 0.5 rounds away from zero
  assert.deepEqual([...quantizeQ8_0(new Float32Array(32))], new Array(34).fill(0)); // all-zero block: d = 0, id = 0
});

test('the write is atomic: a failing tensor leaves the old file and no temp file', () => {
  const path = join(dir, 'atomic.gguf');
  writeFileSync(path, 'old contents');
  const bad: GgufTensorSpec = { name: 'x', type: 'F32', ne: [4], data: () => new Uint8Array(12) };
  assert.throws(() => writeGguf(path, new Map(), [f32Tensor('a', [1], [1]), bad]),
    (e: GgufError) => e.code === 'InvalidTensor' && /tensor "x": data\(\) gave 12 bytes, F32\[4\] needs 16/.test(e.message));
  assert.equal(readFileSync(path, 'utf8'), 'old contents');
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
});

test('the writer refuses what ggml would refuse', () => {
  const write = (meta: [string, GgufValue][], tensors: GgufTensorSpec[] = []) => () => serializeGguf(new Map(meta), tensors);
  const refuses = (fn: () => unknown, code: string, pattern: RegExp) => assert.throws(fn, (e: GgufError) => {
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  });
  refuses(write([['', gv.u32(1)]]), 'InvalidMetadata', /key "": a key must not be empty/);
  refuses(write([['k', gv.u32(-1)]]), 'InvalidMetadata', /key "k": u32 must be an integer in \[0, 4294967295\]/);
  refuses(write([['k', gv.i32s([1, 2.5])]]), 'InvalidMetadata', /key "k": element 1: i32/);
  refuses(write([['k', { type: 'array', elementType: 'array' as 'u8', values: [] }]]), 'InvalidMetadata', /nested arrays/);
  refuses(write([['general.alignment', gv.u32(48)]]), 'InvalidMetadata', /general.alignment.*48 is not a power of two/);
  refuses(write([['general.alignment', gv.u64(32n)]]), 'InvalidMetadata', /general.alignment.*type u64, expected u32/);
  refuses(write([], [f32Tensor('n'.repeat(64), [1], [0])]), 'InvalidTensor', /under 64 bytes/);
  refuses(write([], [f32Tensor('a', [1], [0]), f32Tensor('a', [1], [0])]), 'InvalidTensor', /tensor "a": the name appears twice/);
  refuses(write([], [f32Tensor('a', [1, 1, 1, 1, 1], [0])]), 'InvalidTensor', /1 to 4 positive integers/);
  refuses(write([], [{ name: 'q', type: 'Q8_0', ne: [16, 2], data: () => new Uint8Array(0) }]), 'InvalidTensor', /ne\[0\] = 16 is not a multiple of Q8_0's block size 32/);
});

/** What each malformed file must be refused with: [label, bytes, code, message pattern]. */
function malformed(): [string, Buffer, string, RegExp][] {
  const arch = kv('general.architecture', 8, str('llama'));
  const one = (name: string, ne: (number | bigint)[], type = 0) => assemble([arch], [info(name, ne, type, 0)], pad(Buffer.alloc(64)));
  const vector = testVector();
  const withBytes = (at: number, bytes: Buffer) => { const b = Buffer.from(vector); bytes.copy(b, at); return b; };
  return [
    ['bad magic', withBytes(0, Buffer.from('GGML')), 'BadMagic', /bad magic "GGML"/],
    ['version 1', withBytes(4, u32(1)), 'BadVersion', /GGUF version 1 is not supported/],
    ['version 0', withBytes(4, u32(0)), 'BadVersion', /version 0/],
    ['version 4', withBytes(4, u32(4)), 'BadVersion', /version 4/],
    ['duplicate key', assemble([arch, arch], [], Buffer.alloc(0)), 'DuplicateKey', /duplicate metadata key "general.architecture" \(entry 1\)/],
    ['empty key', assemble([kv('', 4, u32(1))], [], Buffer.alloc(0)), 'EmptyKey', /entry 0 has an empty key/],
    ['nested array', assemble([kv('a.nested', 9, Buffer.concat([u32(9), u64(0)]))], [], Buffer.alloc(0)), 'NestedArray', /key "a.nested" is an array of arrays/],
    ['unknown value type', assemble([kv('a.x', 13, u32(0))], [], Buffer.alloc(0)), 'BadValueType', /key "a.x" has value type 13/],
    ['bool not 0/1', assemble([kv('a.b', 7, Buffer.from([2]))], [], Buffer.alloc(0)), 'BadValue', /value of key "a.b" is a bool stored as 2/],
    ['alignment not u32', assemble([kv('general.alignment', 10, u64(32))], [], Buffer.alloc(0)), 'BadAlignment', /"general.alignment" has type u64, expected u32/],
    ['alignment not a power of 2', assemble([kv('general.alignment', 4, u32(24))], [], Buffer.alloc(0), { alignment: 24 }), 'BadAlignment', /= 24 is not a power of two/],
    ['alignment 0', assemble([kv('general.alignment', 4, u32(0))], [], Buffer.alloc(0)), 'BadAlignment', /= 0 is not a power of two/],
    ['invalid UTF-8 key', assemble([Buffer.concat([u64(2), Buffer.from([0xc3, 0x28]), u32(4), u32(1)])], [], Buffer.alloc(0)), 'BadString', /key of metadata entry 0 is not valid UTF-8/],
    ['string over 1 GiB', assemble([Buffer.concat([str('a.s'), u32(8), u64(2 ** 30 + 1)])], [], Buffer.alloc(0)), 'TooLarge', /value of key "a.s" is 1073741825 bytes long/],
    ['tensor name of 64 bytes', one('x'.repeat(64), [4]), 'BadTensorName', /tensor 0 "x{64}": the name is 64 bytes/],
    ['duplicate tensor name', assemble([arch], [info('w', [4], 0, 0), info('w', [4], 0, 32)], pad(Buffer.alloc(64))), 'DuplicateTensor', /duplicate tensor name "w" \(tensor 1\)/],
    ['n_dims 5', one('w', [1, 1, 1, 1, 1]), 'BadDims', /tensor 0 "w": n_dims = 5/],
    ['negative ne', one('w', [2n ** 64n - 3n]), 'BadDims', /tensor 0 "w": ne\[0\] = -3 is negative/],
    ['unknown ggml type', one('w', [4], 31), 'UnknownType', /tensor 0 "w": unknown ggml type 31/],
    ['ne[0] not a whole Q8_0 block', one('w', [16], 8), 'BlockSize', /tensor 0 "w": ne\[0\] = 16 is not a multiple of Q8_0's block size 32/],
    ['ne[0] not a whole Q4_K block', one('w', [32], 12), 'BlockSize', /Q4_K's block size 256/],
    ['offset not the running sum', assemble([arch], [info('a', [4], 0, 0), info('b', [4], 0, 16)], pad(Buffer.alloc(64))), 'BadOffset', /tensor "b": offset 16, expected 32/],
    ['first offset not 0', assemble([arch], [info('a', [4], 0, 32)], pad(Buffer.alloc(64))), 'BadOffset', /tensor "a": offset 32, expected 0/],
    ['tensor data past the end', vector.subarray(0, 260), 'Truncated', /tensor "blk.0.attn_norm.weight" \(F32\[3\]\) lies at bytes 256..268, past the end of the file \(260 bytes\)/],
    ['kv_count beyond the file', withBytes(16, u64(2n ** 40n)), 'Truncated', /kv_count = 1099511627776 needs at least/],
    ['array count beyond the file', assemble([kv('a.arr', 9, Buffer.concat([u32(5), u64(1000), i32(1)]))], [], Buffer.alloc(0)), 'Truncated', /element count of key "a.arr" = 1000/],
    ['header too short for its counts', vector.subarray(0, 40), 'Truncated', /tensor_count = 2 needs at least 48 more bytes, the file has 24 left/],
    ['header cut inside a value', vector.subarray(0, 100), 'Truncated', /file ends at byte 100 while reading the value of key "llama.block_count"/],
    ['header cut inside tensor infos', vector.subarray(0, 180), 'Truncated', /while reading .*tensor/],
  ];
}

test('the reader refuses every §5.2 violation, truncation and impossible count, naming the file and the field', () => {
  for (const [label, bytes, code, pattern] of malformed()) {
    const path = fileOf(bytes);
    assert.throws(() => openGguf(path), (e: unknown) => {
      assert.ok(e instanceof GgufError, `${label}: ${String(e)}`);
      assert.equal(e.code, code, `${label}: ${e.message}`);
      assert.match(e.message, pattern, label);
      assert.ok(e.message.startsWith(`${path}: `), `${label}: the message names the file`);
      return true;
    }, label);
    assert.throws(() => parseGguf(bytes, 'buf'), (e: GgufError) => e.code === code, `${label} (in memory)`);
  }
});

test('every prefix of a valid file is refused as truncated, never crashes or hangs', () => {
  const vector = testVector();
  for (let n = 0; n < 268; n++) {
    assert.throws(() => parseGguf(vector.subarray(0, n), 'cut'), (e: GgufError) => e.code === 'Truncated', `prefix ${n}`);
  }
  // 268 = the last tensor's data without its trailing padding: ggml reads that (llama.cpp checks data bounds only)
  assert.equal(parseGguf(vector.subarray(0, 268)).read('blk.0.attn_norm.weight').length, 3);
});

test('version 2 files (same layout) and metadata-only files are read; a missing file is an Io error naming it', () => {
  const v2 = Buffer.from(testVector());
  v2.writeUInt32LE(2, 4);
  assert.equal(parseGguf(v2).version, 2);
  const metaOnly = Buffer.concat([Buffer.from('GGUF'), u32(3), u64(0), u64(1), kv('general.architecture', 8, str('llama'))]);
  assert.equal(metaOnly.length % 32 === 0, false, 'no padding after the header');
  assert.deepEqual(parseGguf(metaOnly).tensors, []);
  assert.throws(() => openGguf(join(dir, 'nope.gguf')), (e: GgufError) => e.code === 'Io' && e.message.includes('nope.gguf'));
  assert.ok(!existsSync(join(dir, 'nope.gguf')));
});
