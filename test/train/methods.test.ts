// Training methods of the trainer: freezing for fine-tuning (§6), expert gradient / learning-rate
// scaling (§11). Oracles: bit-identical frozen weights, exact gradient multiples, the clipped norm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecoderLM } from '../../src/models/index.js';
import { withGraph } from '../../src/tensor/index.js';
import { parseRunConfig, type RunConfig } from '../../src/train/config.js';
import { isExpertParam, scaleExpertGrads } from '../../src/train/methods.js';
import { train } from '../../src/train/trainer.js';
import { toyData } from './toy.js';

const B = 2;
const T = 8;

function run(trainExtra: Record<string, unknown>, steps = 4): RunConfig {
  return parseRunConfig({
    model: { vocab_size: 24, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 2,
      max_position_embeddings: T, num_experts: 3, router: { type: 'top_k', k: 2 } },
    train: { steps, batch_size: B, seq_len: T, lr: 1e-2, warmup_steps: 0, log_interval: 1, eval_interval: steps,
      checkpoint_interval: steps, seed: 7, ...trainExtra },
  });
}

/** Train, and tell for every parameter whether it changed from its initial value. */
async function changed(r: RunConfig): Promise<Map<string, boolean>> {
  const initial = new DecoderLM(r.model, { seed: r.train.seed });
  const trained = (await train(r, toyData(B, T), { outDir: mkdtempSync(join(tmpdir(), 'moekit-methods-')) })).model;
  return new Map([...trained.params].map(([name, p]) => [name, !p.data.every((v, i) => v === initial.params.get(name)!.data[i])]));
}

const ROUTER = 'model.layers.0.mlp.gate.weight';

test('§6 freeze "experts": every expert bit-identical after training; routers and the rest change', async () => {
  const c = await changed(run({ freeze: 'experts' }));
  for (const [name, moved] of c) {
    if (isExpertParam(name)) assert.equal(moved, false, `${name} must stay frozen`);
  }
  assert.ok(c.get(ROUTER), 'routers stay trainable');
  assert.ok(c.get('model.layers.1.self_attn.q_proj.weight') && c.get('model.embed_tokens.weight'));
});

test('§6 freeze "non_experts": only experts and routers change', async () => {
  const c = await changed(run({ freeze: 'non_experts' }));
  for (const [name, moved] of c) {
    const trainable = isExpertParam(name) || name.endsWith('.mlp.gate.weight');
    assert.equal(moved, trainable, `${name}: changed ${moved}`);
  }
});

test('§11 expert_lr_scale 0 leaves the experts bit-identical under AdamW; the rest trains', async () => {
  const c = await changed(run({ expert_lr_scale: 0 }));
  for (const [name, moved] of c) assert.equal(moved, !isExpertParam(name), `${name}: changed ${moved}`);
});

test('§11 expert_grad_scale multiplies exactly the expert gradients, and shows in the clipped norm', async () => {
  const r = run({}, 1);
  const model = new DecoderLM(r.model, { seed: r.train.seed });
  const batch = toyData(B, T).trainBatch(0);
  withGraph((g) => g.backward(model.loss(batch.inputs, batch.targets, B, T, { training: true, step: 0 }).loss));
  const before = new Map([...model.params].map(([n, p]) => [n, Float32Array.from(p.grad ?? [])]));
  scaleExpertGrads(model, 3);
  let expertSq = 0;
  let otherSq = 0;
  for (const [name, p] of model.params) {
    const g0 = before.get(name)!;
    const expert = isExpertParam(name);
    g0.forEach((v, i) => assert.equal(p.grad![i], expert ? Math.fround(v * 3) : v, name));
    for (const v of g0) if (expert) expertSq += v * v; else otherSq += v * v;
  }
  assert.ok(expertSq > 0);
  // The trainer's logged grad_norm (before clipping) of step 1: sqrt(other² + s²·expert²).
  const norm = async (s: number) => (await train(run({ expert_grad_scale: s }, 1), toyData(B, T), { outDir: mkdtempSync(join(tmpdir(), 'moekit-gs-')) })).metrics[0].grad_norm as number;
  const one = await norm(1);
  assert.ok(Math.abs(one - Math.sqrt(otherSq + expertSq)) < 1e-4 * one);
  const three = await norm(3);
  assert.ok(Math.abs(three - Math.sqrt(otherSq + 9 * expertSq)) < 1e-4 * three);
});

test('train config: freeze and the expert scales are validated by name', async () => {
  assert.throws(() => run({ freeze: 'routers' }), /"freeze" must be "experts", "non_experts" or null/);
  assert.throws(() => run({ expert_lr_scale: -1 }), /"expert_lr_scale" must be a non-negative number/);
  assert.throws(() => run({ expert_grad_scal: 2 }), /did you mean "expert_grad_scale"/);
});
