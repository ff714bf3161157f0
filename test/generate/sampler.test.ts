// The sampler against hand-computed distributions: greedy, seeded reproducibility, top-k = 1 = greedy,
// the nucleus set of a hand-computed distribution (small vocabulary and a large one, where only part of
// the vocabulary is sorted), temperature and top-k frequencies against softmax by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sampler, argmax, type SamplingOptions } from '../../src/generate/index.js';
import { TestRng, randn } from '../helpers.js';

const opts = (o: Partial<SamplingOptions>): SamplingOptions => ({ temperature: 1, topK: 0, topP: 1, seed: 0, ...o });
const logitsOf = (probs: number[]) => Float32Array.from(probs, Math.log);

/** Counts of n draws by token id. */
function histogram(s: Sampler, logits: Float32Array, n: number): number[] {
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < n; i++) counts[s.sample(logits)]++;
  return counts;
}

test('greedy: argmax, the lower id on ties; temperature 0 draws nothing', () => {
  assert.equal(argmax(Float32Array.of(0.1, 3, -2, 3)), 1);
  const s = new Sampler(opts({ temperature: 0 }), 4);
  assert.equal(s.sample(Float32Array.of(0.5, -1, 2.5, 2.5)), 2);
});

test('a seed reproduces the draws; another seed gives other draws', () => {
  const rng = new TestRng(4);
  const rows = Array.from({ length: 50 }, () => randn(rng, 100, 2));
  const run = (seed: number, o: Partial<SamplingOptions>) => {
    const s = new Sampler(opts({ ...o, seed }), 100);
    return rows.map((r) => s.sample(r));
  };
  for (const o of [{ temperature: 0.8 }, { topK: 10 }, { topP: 0.9 }, { temperature: 1.3, topK: 20, topP: 0.7 }]) {
    assert.deepEqual(run(7, o), run(7, o), JSON.stringify(o));
    assert.notDeepEqual(run(7, o), run(8, o), JSON.stringify(o));
  }
});

test('top-k = 1 samples the argmax at any temperature', () => {
  const rng = new TestRng(9);
  const s = new Sampler(opts({ temperature: 1.7, topK: 1, seed: 3 }), 257);
  for (let i = 0; i < 200; i++) {
    const row = randn(rng, 257, 3);
    assert.equal(s.sample(row), argmax(row));
  }
});

test('nucleus: the fewest most probable tokens reaching top-p, renormalised (hand-computed)', () => {
  // sorted: 0.4 (id 3), 0.25 (id 0), 0.15 (id 4), 0.12 (id 1), 0.08 (id 2). Cumulative 0.4, 0.65, 0.80, 0.92, 1.
  const logits = logitsOf([0.25, 0.12, 0.08, 0.4, 0.15]);
  const n = 40000;
  const cases: [number, number[]][] = [[0.3, [3]], [0.6, [3, 0]], [0.7, [3, 0, 4]], [0.9, [3, 0, 4, 1]], [0.95, [0, 1, 2, 3, 4]]];
  for (const [topP, kept] of cases) {
    const counts = histogram(new Sampler(opts({ topP, seed: 1 }), 5), logits, n);
    const mass = kept.reduce((m, id) => m + [0.25, 0.12, 0.08, 0.4, 0.15][id], 0);
    for (let id = 0; id < 5; id++) {
      const want = kept.includes(id) ? [0.25, 0.12, 0.08, 0.4, 0.15][id] / mass : 0;
      if (want === 0) assert.equal(counts[id], 0, `top-p ${topP}: id ${id} is outside the nucleus`);
      else assert.ok(Math.abs(counts[id] / n - want) < 0.01, `top-p ${topP}: id ${id} drawn ${counts[id] / n}, expected ${want}`);
    }
  }
});

test('nucleus over a large vocabulary: three peaks and a flat tail', () => {
  // V = 5000: ids 10, 2000, 4999 hold 0.3, 0.2, 0.1; the 4997 others share 0.4 equally (8.0e-5 each).
  const V = 5000;
  const probs = new Array<number>(V).fill(0.4 / (V - 3));
  probs[10] = 0.3;
  probs[2000] = 0.2;
  probs[4999] = 0.1;
  const logits = logitsOf(probs);
  const counts = histogram(new Sampler(opts({ topP: 0.55, seed: 2 }), V), logits, 20000);
  const drawn = counts.flatMap((c, id) => (c > 0 ? [id] : []));
  assert.deepEqual(drawn, [10, 2000, 4999]);
  assert.ok(Math.abs(counts[10] / 20000 - 0.5) < 0.015);
  // top-p 0.65 needs 0.05 of the tail: 625 tail tokens of equal probability, the lowest ids first
  const tail = histogram(new Sampler(opts({ topP: 0.65, seed: 2 }), V), logits, 20000);
  const tailIds = tail.flatMap((c, id) => (c > 0 && ![10, 2000, 4999].includes(id) ? [id] : []));
  assert.ok(tailIds.length > 0 && tailIds[tailIds.length - 1] <= 626, `tail ids up to ${tailIds[tailIds.length - 1]}`);
});

test('temperature and top-k frequencies follow softmax(logits / T) over the kept tokens', () => {
  const logits = Float32Array.of(1, 0, 2, -1, 0.5);
  const n = 40000;
  for (const [temperature, topK] of [[0.5, 0], [2, 0], [1, 3]]) {
    const keep = topK ? [2, 0, 4] : [0, 1, 2, 3, 4];
    const w = keep.map((id) => Math.exp(logits[id] / temperature));
    const z = w.reduce((a, b) => a + b, 0);
    const counts = histogram(new Sampler(opts({ temperature, topK, seed: 5 }), 5), logits, n);
    for (let id = 0; id < 5; id++) {
      const i = keep.indexOf(id);
      const want = i < 0 ? 0 : w[i] / z;
      assert.ok(Math.abs(counts[id] / n - want) < 0.01, `T=${temperature} k=${topK}: id ${id} drawn ${counts[id] / n}, expected ${want.toFixed(4)}`);
    }
  }
});

test('top-k ties keep the lower ids; bad options are refused', () => {
  const s = new Sampler(opts({ topK: 2, seed: 1 }), 4);
  const counts = histogram(s, Float32Array.of(1, 1, 1, 0), 3000);
  assert.equal(counts[2], 0);
  assert.equal(counts[3], 0);
  assert.throws(() => new Sampler(opts({ topP: 0 }), 4), /top-p must lie in \(0, 1\]/);
  assert.throws(() => new Sampler(opts({ temperature: -1 }), 4), /temperature must be/);
  assert.throws(() => new Sampler(opts({ topK: 1.5 }), 4), /top-k must be an integer/);
  assert.throws(() => s.sample(new Float32Array(5)), /5 logits for a vocabulary of 4/);
});

// HF's RepetitionPenaltyLogitsProcessor by hand: every distinct context token's logit z becomes z/θ
// (z > 0) or z·θ (z ≤ 0), once however often it occurs; a sampled token joins the context.
test('repetition penalty: context logits divided (positive) or multiplied (negative) by θ, sampled tokens join', () => {
  const s = new Sampler(opts({ temperature: 0, repetitionPenalty: 2 }), 4, [0, 1, 0]);
  const row = Float32Array.of(2, -1, 0.5, 1.9);
  assert.equal(s.sample(row), 3); // [1, −2, 0.5, 1.9]: without the penalty, token 0
  assert.deepEqual(row, Float32Array.of(1, -2, 0.5, 1.9));
  assert.equal(s.sample(Float32Array.of(2, -1, 0.5, 1.9)), 0); // now 3 is in the context too: [1, −2, 0.5, 0.95]
  assert.equal(new Sampler(opts({ temperature: 0 }), 4, [0]).sample(Float32Array.of(2, -1, 0.5, 1.9)), 0, 'θ = 1: off');
  assert.throws(() => new Sampler(opts({ repetitionPenalty: 0 }), 4), /repetition penalty must be a finite number > 0/);
});
