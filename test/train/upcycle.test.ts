// Dense-then-sparse initialisation (§10): a dense tiny run is upcycled into an MoE model whose experts
// equal the dense FFN; with top-k and renormalised weights (Σw = 1) the MoE model computes the dense
// model's loss exactly — in a direct forward and as the trainer's first logged training loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecoderLM } from '../../src/models/index.js';
import { noGrad } from '../../src/tensor/index.js';
import { parseRunConfig } from '../../src/train/config.js';
import { train } from '../../src/train/trainer.js';
import { upcycleFrom } from '../../src/train/upcycle.js';
import { toyData } from './toy.js';

const B = 2;
const T = 8;
const dense = { vocab_size: 24, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: T };
const trainSection = { batch_size: B, seq_len: T, lr: 1e-2, warmup_steps: 0, log_interval: 1, eval_interval: 3, checkpoint_interval: 3, seed: 3 };
const moe = { ...dense, num_experts: 3, router: { type: 'top_k', k: 2, renormalize: true } };

async function denseRun(): Promise<{ dir: string; model: DecoderLM }> {
  const dir = mkdtempSync(join(tmpdir(), 'moekit-dense-'));
  const { model } = await train(parseRunConfig({ model: dense, train: { ...trainSection, steps: 3 } }), toyData(B, T), { outDir: dir });
  return { dir, model };
}

test('§10 upcycling: experts equal the dense FFN, the rest is copied, and the initial loss equals the dense loss', async () => {
  const { dir, model: denseModel } = await denseRun();
  const run = parseRunConfig({ model: moe, train: { ...trainSection, steps: 1, init: 'upcycle', init_from: dir } });
  const model = new DecoderLM(run.model, { seed: 99 });
  upcycleFrom(model, dir);
  for (const [name, p] of model.params) {
    const m = /^(.*\.mlp)\.experts\.\d+\.(.*)$/.exec(name);
    const source = m ? `${m[1]}.${m[2]}` : name;
    if (name.endsWith('.mlp.gate.weight')) continue; // the router keeps its random init
    assert.deepEqual(p.data, denseModel.params.get(source)!.data, `${name} ← ${source}`);
  }
  const batch = toyData(B, T).trainBatch(0);
  const loss = (m: DecoderLM) => noGrad(() => m.loss(batch.inputs, batch.targets, B, T).loss.item());
  const expected = loss(denseModel);
  assert.ok(Math.abs(loss(model) - expected) < 1e-5, `upcycled ${loss(model)} vs dense ${expected}`);
  // Through the trainer: the first step's training loss is the dense model's loss on that batch.
  const result = await train(run, toyData(B, T), { outDir: mkdtempSync(join(tmpdir(), 'moekit-upcycled-')) });
  assert.ok(Math.abs((result.metrics[0].train_loss as number) - expected) < 1e-5);
});

test('§10 upcycling refuses a missing or mismatched tensor by name; init and init_from go together', async () => {
  const { dir } = await denseRun();
  const wide = new DecoderLM(parseRunConfig({ model: { ...moe, moe_intermediate_size: 12 }, train: trainSection }).model, { seed: 1 });
  assert.throws(() => upcycleFrom(wide, dir), /"model\.layers\.0\.mlp\.gate_proj\.weight" is \[16, 8\].*experts\.0\.gate_proj\.weight is \[12, 8\]/);
  const deeper = new DecoderLM(parseRunConfig({ model: { ...moe, num_hidden_layers: 3 }, train: trainSection }).model, { seed: 1 });
  assert.throws(() => upcycleFrom(deeper, dir), /no tensor "model\.layers\.2\.input_layernorm\.weight"/);
  assert.throws(() => upcycleFrom(deeper, join(dir, 'nope')), /does not exist/);
  assert.throws(() => parseRunConfig({ model: moe, train: { ...trainSection, init: 'upcycle' } }), /"init" and "init_from" go together/);
  assert.throws(() => parseRunConfig({ model: moe, train: { ...trainSection, init: 'dense', init_from: dir } }), /"init" must be "upcycle" or null/);
});
