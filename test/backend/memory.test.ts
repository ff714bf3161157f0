// adviseHugePages (not a kernel: no reference twin to compare with): it must keep a buffer's contents
// bit for bit, report whole 2 MiB pages of the buffer's interior (or 0 where the OS refuses), and do
// nothing on the reference backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeLoadError, referenceBackend, tryNativeBackend } from '../../src/backend/index.js';

const native = tryNativeBackend();

test('adviseHugePages keeps the contents and moves whole 2 MiB pages at most', { skip: native ? false : nativeLoadError() }, () => {
  const n = (9 << 20) / 4 + 3; // 9 MiB + 12 bytes: an unaligned tail
  const buf = new Float32Array(n);
  for (let i = 0; i < n; i++) buf[i] = Math.fround(Math.sin(i) * 1000);
  const copy = buf.slice();
  const moved = native!.adviseHugePages(buf);
  assert.equal(moved % (2 << 20), 0, `${moved} bytes is not a whole number of 2 MiB pages`);
  assert.ok(moved <= buf.byteLength && moved >= 0);
  assert.deepEqual(new Uint32Array(buf.buffer), new Uint32Array(copy.buffer));
  assert.equal(native!.adviseHugePages(new Float32Array(1000)), 0, 'a buffer smaller than a page cannot move');
  assert.throws(() => native!.adviseHugePages(new Int32Array(4) as unknown as Float32Array), /adviseHugePages.*Float32Array/);
});

test('adviseHugePages is a no-op on the reference backend', () => {
  const buf = Float32Array.of(1, 2, 3);
  assert.equal(referenceBackend.adviseHugePages(buf), 0);
  assert.deepEqual([...buf], [1, 2, 3]);
});

test('hugeBuffer gives zeroed, independent buffers of exactly the bytes asked for, that kernels can use', { skip: native ? false : nativeLoadError() }, () => {
  const bytes = (5 << 20) + 6; // not a whole number of pages, nor of floats
  const a = native!.hugeBuffer(bytes), b = native!.hugeBuffer(bytes);
  assert.equal(a.byteLength, bytes);
  const view = new Uint8Array(a);
  assert.ok(view.every((x) => x === 0), 'zeroed');
  view.fill(7);
  assert.ok(new Uint8Array(b).every((x) => x === 0), 'buffers do not share memory');
  const c = new Float32Array(native!.hugeBuffer(4 * 6));
  native!.matmul(c, Float32Array.of(1, 2), Float32Array.of(1, 2, 3, 4, 5, 6), 1, 3, 2, false, false, false);
  assert.deepEqual([...c.subarray(0, 3)], [9, 12, 15]);
  assert.equal(referenceBackend.hugeBuffer(10).byteLength, 10);
});
