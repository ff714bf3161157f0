// HF checkpoints against their independent reference outputs (shared/fixtures): Mixtral made by
// transformers, and the Top-P paper's Dynamic-MoE format made by an independent float64 reading of its code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/io/load.js';
import { checkTransformersFixture, expertsByWeight, fixtureDir, fixtureSkip, maxAbsDiff, readReference, run } from './hf_fixture.js';
import type { MoeRouting } from '../../src/moe/index.js';

test('mixtral: logits, experts and weights per token and layer, LM loss, greedy tokens', { skip: fixtureSkip('mixtral') }, () => {
  const { loaded, reports } = checkTransformersFixture('mixtral');
  assert.equal(loaded.architecture.modelType, 'mixtral');
  assert.equal(loaded.config.rope_theta, 1e6, 'rope_parameters.rope_theta (transformers 5) is read');
  // transformers' aux loss is pooled over all layers (moe-methods §0): the unscaled load-balance value.
  const ref = readReference('mixtral');
  for (const [s, seq] of (ref.sequences as any[]).entries()) {
    const value = reports[s].find((r) => r.routing)!.auxLosses.load_balance;
    assert.ok(Math.abs(value - seq.aux_loss) <= 1e-4, `sequence ${s}: pooled aux ${value} vs ${seq.aux_loss}`);
  }
});

test('dynmoe: Top-P checkpoints of the paper load with their own names and route with p = 0.4', { skip: fixtureSkip('dynmoe') }, () => {
  const loaded = loadModel(fixtureDir('dynmoe'));
  assert.equal(loaded.architecture.modelType, 'dynmoe');
  assert.deepEqual(loaded.model.moeLayers().map((l) => l.layer), [0, 2], 'MoE iff layer % expert_frequency == 0');
  const ref = readReference('dynmoe');
  const V = loaded.config.vocab_size;
  for (const [s, ids] of (ref.ids as number[][]).entries()) {
    const { logits, reports } = run(loaded, ids);
    const diff = maxAbsDiff(logits, (ref.logits[s] as number[][]).flat());
    assert.ok(diff <= 1e-4, `sequence ${s}: max |logit − reference| = ${diff} (vocab ${V})`);
    const moe = reports.filter((r) => r.routing);
    for (const [m, experts] of (ref.experts[s] as number[][][]).entries()) {
      assert.deepEqual(expertsByWeight(moe[m].routing as MoeRouting).experts, experts, `sequence ${s}, MoE layer ${m}`);
    }
  }
});
