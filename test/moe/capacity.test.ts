// Capacity and dropping (spec §15): formulas, priority, both worked examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose } from '../helpers.js';
import { droppedFraction, expertCapacity, expertCounts, kPerToken, routingStats, DROPLESS, type CapacityOptions } from '../../src/moe/index.js';
import { logitsOf, pairsOf, routeWith } from './fixtures.js';

const topPExample = logitsOf([[0.5, 0.2, 0.2, 0.1], [0.1, 0.35, 0.3, 0.25], [0.28, 0.26, 0.24, 0.22]]);

test('§15 formulas: top-1, top-k, dynamic, static, min capacity, eval factor, dropless', () => {
  const on = (o: Partial<CapacityOptions>): CapacityOptions => ({ ...DROPLESS, capacityFactor: 1, ...o });
  assert.equal(expertCapacity(on({}), true, 4, 4, 4), 1); // top-1: ⌈cf·T/E⌉
  assert.equal(expertCapacity(on({}), true, 4, 4, 8), 2); // GShard top-2, cf 1 ⇒ 2T/E
  assert.equal(expertCapacity(on({ capacityFactor: 1.25 }), true, 10, 4, 20), 7); // ⌈1.25·2·10/4⌉ = ⌈6.25⌉
  assert.equal(expertCapacity(on({ mode: 'static', kRef: 1 }), true, 3, 4, 5), 1); // ⌈k_ref·T/E⌉ = ⌈3/4⌉
  assert.equal(expertCapacity(on({ minCapacity: 4 }), true, 4, 4, 4), 4);
  assert.equal(expertCapacity(on({ capacityFactor: 1.1 }), true, 10, 11, 10), 1); // no float-noise ceil to 2
  assert.equal(expertCapacity(on({}), false, 4, 4, 4), null); // eval is dropless unless eval factor is set
  assert.equal(expertCapacity(on({ evalCapacityFactor: 2 }), false, 4, 4, 4), 2);
  assert.equal(expertCapacity(DROPLESS, true, 4, 4, 4), null);
});

test('§15 example: Top-P §1.6 with dynamic cf = 1 ⇒ C = 2, loads [2, 2, 1, 0], nothing dropped', () => {
  const { logits, T, E } = topPExample;
  const { out } = routeWith({ type: 'top_p', capacity_factor: 1 }, logits, T, E, { training: true });
  assert.deepEqual(Array.from(expertCounts(out.assignment, E, true)), [2, 2, 1, 0]);
  assert.equal(droppedFraction(out.assignment), 0);
});

test('§15 example: static k_ref = 1, cf = 1 ⇒ C = 1: t2 loses both pairs, dropped fraction 2/5', () => {
  const { logits, T, E } = topPExample;
  const { out } = routeWith({ type: 'top_p', capacity_factor: 1, capacity_mode: 'static', k_ref: 1 }, logits, T, E, { training: true });
  const a = out.assignment;
  assert.deepEqual(pairsOf(a, true).map(([t, e]) => [t, e]), [[0, 0], [1, 1], [1, 2]]);
  assert.deepEqual(Array.from(a.dropped), [0, 0, 0, 1, 1]); // t2's rank-0 (e0) and rank-1 (e1) pairs
  assertClose(a.weight[3], 0.28); // dropped pairs keep their weight for the record
  assertClose(droppedFraction(a), 2 / 5);
  assert.deepEqual(Array.from(kPerToken(a, T, true)), [1, 2, 0]); // t2: y = 0, residual only
  const stats = routingStats(a, out.probs, T, E);
  assertClose(stats.droppedTokenFraction, 1 / 3);
  assertClose(stats.meanK, 5 / 3);
  assertClose(stats.meanKAfterDrops, 1);
  // dropped pairs get no gradient
  const dWeight = new Float32Array(5).fill(0);
  dWeight[3] = 1;
  assert.ok(out.backward(dWeight).every((g) => g === 0));
});

test('§15 priority: rank before token; bpr: higher weight first within a rank', () => {
  // three tokens all prefer expert 0 (C = 1): plain priority keeps t0, bpr keeps the most confident t2
  const { logits, T, E } = logitsOf([[0.5, 0.5 - 1e-3, 1e-3], [0.6, 0.3, 0.1], [0.9, 0.05, 0.05]]);
  const plain = routeWith({ type: 'switch', capacity_factor: 1 }, logits, T, E, { training: true }).out.assignment;
  assert.deepEqual(Array.from(plain.dropped), [0, 1, 1]);
  const bpr = routeWith({ type: 'switch', capacity_factor: 1, bpr: true }, logits, T, E, { training: true }).out.assignment;
  assert.deepEqual(Array.from(bpr.dropped), [1, 1, 0]);
});
