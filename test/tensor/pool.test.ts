// The buffer pool (src/tensor/pool.ts): exact-length views on bucketed buffers, reuse after release,
// and a request whose bucket is empty served from a larger bucket (up to an octave) before allocating.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acquire, clearPool, pooledMegabytes, release } from '../../src/tensor/index.js';
import { bucketSize } from '../../src/tensor/pool.js';

test('bucketSize: exact up to 64 floats, then 8 buckets per octave (≤ 12.5 % slack)', () => {
  assert.deepEqual([1, 63, 64].map(bucketSize), [1, 63, 64]);
  assert.equal(bucketSize(65), 72); // 64..128 in steps of 8
  assert.equal(bucketSize(1000), 1024); // 512..1024 in steps of 64
  assert.equal(bucketSize(1025), 1152); // 1024..2048 in steps of 128
});

test('a released buffer comes back for a request of the same bucket, as an exact-length view', () => {
  clearPool();
  const a = acquire(1000); // bucket 1024
  assert.equal(a.length, 1000);
  release(a);
  const b = acquire(970); // same bucket
  assert.equal(b.length, 970);
  assert.ok(b.buffer === a.buffer);
  clearPool();
});

test('an empty bucket takes a buffer from a larger bucket within an octave, and it returns to its own bucket', () => {
  clearPool();
  const big = acquire(2048); // bucket 2048
  release(big);
  const smaller = acquire(1100); // bucket 1152, empty: served by the 2048 buffer (≤ 2×)
  assert.equal(smaller.length, 1100);
  assert.ok(smaller.buffer === big.buffer);
  release(smaller); // back under 2048, where an exact request finds it
  const again = acquire(2048);
  assert.ok(again.buffer === big.buffer);
  assert.equal(again.length, 2048);
  release(again);
  // more than an octave below (bucket 960: its 8 larger buckets end at 1920): a fresh buffer, the large one stays pooled
  const tiny = acquire(900);
  assert.ok(tiny.buffer !== big.buffer);
  assert.ok(pooledMegabytes() >= (2048 * 4) / 2 ** 20);
  clearPool();
});
