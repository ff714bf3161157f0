// hugeBuffer (not a kernel: no reference twin to compare with): zeroed, independent buffers of exactly
// the size asked for, usable by the kernels; a plain ArrayBuffer on the reference backend. (Whether the
// OS grants 2 MiB pages depends on its settings and fragmentation: the decode bench shows the effect.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeLoadError, referenceBackend, tryNativeBackend } from '../../src/backend/index.js';

const native = tryNativeBackend();

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
