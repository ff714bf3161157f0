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
