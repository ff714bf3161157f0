// Routing statistics (spec §16) and the assignment helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose } from '../helpers.js';
import { activatedParamsPerToken, AssignmentBuilder, coefficientOfVariation, expertOffsets, routingStats, validateAssignment } from '../../src/moe/index.js';
import { logitsOf, routeWith } from './fixtures.js';

test('§16: loads [2, 2, 1, 0] ⇒ CV 0.663325; entropy 1.302785 nats, / ln 4 = 0.939761; §1.6 stats', () => {
  assertClose(coefficientOfVariation([2, 2, 1, 0]), 0.663325);
  const { logits, T, E } = logitsOf([[0.5, 0.2, 0.2, 0.1], [0.1, 0.35, 0.3, 0.25], [0.28, 0.26, 0.24, 0.22]]);
  const { out } = routeWith({ type: 'top_p' }, logits, T, E);
  const s = routingStats(out.assignment, out.probs, T, E);
  assertClose(s.meanK, 5 / 3);
  assertClose(s.meanKAfterDrops, 5 / 3);
  assert.deepEqual(s.kHistogram, [0, 1, 2, 0, 0]);
  assert.deepEqual(s.load, [2, 2, 1, 0]);
  assertClose(s.loadFraction, [0.4, 0.4, 0.2, 0]);
  assertClose(s.loadCv, 0.663325);
  assertClose(s.maxVio, (2 - 1.25) / 1.25);
  assert.deepEqual(s.deadExperts, [3]);
  assert.equal(s.droppedFraction, 0);
  assertClose(s.entropy, 1.302785);
  assertClose(s.entropyNormalized, 0.939761);
});

test('§16: activated parameters per token, Top-P paper check ≈ 532M (vs 581M for Top-2)', () => {
  const layers = new Array(24).fill(1.76);
  const perExpert = 207.6e6 / 24;
  assertClose(activatedParamsPerToken(166.6e6, layers, perExpert) / 1e6, 532, { abs: 0.5 });
  assertClose(activatedParamsPerToken(166.6e6, new Array(24).fill(2), new Array(24).fill(perExpert)) / 1e6, 581.8, { abs: 0.5 });
});

test('expertOffsets: counting sort into expert order, stable by (rank, token); dropped left out', () => {
  const b = new AssignmentBuilder();
  // t0 → e1 (r0), e0 (r1); t1 → e0 (r0), e1 (r1); t2 → e1 (r0)
  b.push(0, 1, 0.6, 0); b.push(0, 0, 0.4, 1); b.push(1, 0, 0.7, 0); b.push(1, 1, 0.3, 1); b.push(2, 1, 1, 0);
  const a = b.finish();
  validateAssignment(a, 3, 2);
  const g = expertOffsets(a, 3, 2);
  assert.deepEqual(Array.from(g.offsets), [0, 2, 5]);
  assert.deepEqual(Array.from(g.order), [2, 1, 0, 4, 3]); // e0: (r0,t1), (r1,t0); e1: (r0,t0), (r0,t2), (r1,t1)
  a.dropped[4] = 1;
  assert.deepEqual(Array.from(expertOffsets(a, 3, 2).order), [2, 1, 0, 3]);
});

test('validateAssignment names the broken invariant', () => {
  const make = (pairs: [number, number, number, number][]) => {
    const b = new AssignmentBuilder();
    for (const p of pairs) b.push(...p);
    return b.finish();
  };
  assert.throws(() => validateAssignment(make([[0, 2, 1, 0]]), 1, 2), /expert 2 outside \[0, 2\)/);
  assert.throws(() => validateAssignment(make([[0, 0, -1, 0]]), 1, 2), /weight -1/);
  assert.throws(() => validateAssignment(make([[0, 0, 1, 0], [0, 0, 1, 1]]), 1, 2), /expert 0 twice/);
  assert.throws(() => validateAssignment(make([[0, 0, 1, 1]]), 1, 2), /no rank 0/);
});
