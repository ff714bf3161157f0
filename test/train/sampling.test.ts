// Temperature-heated source sampling (§10): the schedule and p_l ∝ q_l^{1/T} by hand, and the sampled
// source mix of real batches at the start and the end of the schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDataConfig } from '../../src/train/config.js';
import { TemperatureBatches, sourceProbabilities, splitBySource, temperatureAt } from '../../src/train/sampling.js';

test('§10 schedule: T(step) linear and sqrt from T₀ to T_max; p ∝ q^{1/T}', () => {
  const s = { t0: 1, t_max: 5, steps: 100, shape: 'linear' as const };
  assert.equal(temperatureAt(s, 0), 1);
  assert.equal(temperatureAt(s, 50), 3);
  assert.equal(temperatureAt(s, 400), 5);
  assert.ok(Math.abs(temperatureAt({ ...s, shape: 'sqrt' }, 50) - (1 + 4 * Math.SQRT1_2)) < 1e-12);
  const p1 = sourceProbabilities([90, 10], 1);
  assert.ok(Math.abs(p1[0] - 0.9) < 1e-12 && Math.abs(p1[1] - 0.1) < 1e-12);
  const p2 = sourceProbabilities([90, 10], 2); // √.9 : √.1 = 3 : 1
  assert.ok(Math.abs(p2[0] - 0.75) < 1e-12 && Math.abs(p2[1] - 0.25) < 1e-12);
});

test('§10 batches: the source mix follows the schedule; a batch is a pure function of its index', () => {
  // Source 0 holds 900 tokens of value 1, source 1 holds 100 tokens of value 2, interleaved in documents.
  const n = 1000;
  const sources = Int32Array.from({ length: n }, (_, i) => (i % 10 === 9 ? 1 : 0));
  const stream = { tokens: Int32Array.from(sources, (s) => s + 1), sources };
  const split = splitBySource(stream, 2);
  assert.equal(split[0].tokens.length, 900);
  assert.ok(split[1].tokens.every((t) => t === 2));
  const schedule = { t0: 1, t_max: 5, steps: 10000, shape: 'linear' as const };
  const batches = new TemperatureBatches(stream, ['big', 'small'], schedule, { seqLen: 4, batchSize: 50, seed: 3, gradAccum: 1 });
  const smallShare = (from: number) => {
    let rows = 0;
    let small = 0;
    for (let i = from; i < from + 40; i++) {
      const b = batches.batch(i);
      for (let r = 0; r < 50; r++, rows++) if (b.inputs[r * 4] === 2) small++;
    }
    return small / rows;
  };
  const late = sourceProbabilities([900, 100], 5)[1]; // ≈ 0.392
  assert.ok(Math.abs(smallShare(20000) - late) < 0.03, `late share ${smallShare(20000)} vs ${late}`);
  assert.ok(Math.abs(smallShare(0) - 0.1) < 0.03, `early share ${smallShare(0)}`);
  assert.deepEqual(batches.batch(7), batches.batch(7));
  assert.throws(() => new TemperatureBatches(stream, ['big', 'small'], schedule, { seqLen: 200, batchSize: 1, seed: 1, gradAccum: 1 }),
    /source "small" has fewer than seq_len \+ 1/);
});

test('data.temperature_schedule is validated by name', () => {
  assert.equal(parseDataConfig({ temperature_schedule: { t_max: 5, steps: 100 } }).temperature_schedule!.t0, 1);
  assert.throws(() => parseDataConfig({ temperature_schedule: { t_max: 5 } }), /"steps" must be a positive integer/);
  assert.throws(() => parseDataConfig({ temperature_schedule: { t_max: 5, steps: 10, shape: 'cosine' } }), /"shape" must be "linear" or "sqrt"/);
  assert.throws(() => parseDataConfig({ temperature_schedule: { tmax: 5, steps: 10 } }), /did you mean "t_max"/);
});
