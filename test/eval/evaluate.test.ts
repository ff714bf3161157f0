// Model evaluation: a trained run loads back to identical logits; per-source and per-decile breakdowns
// against hand-computed values; the whole-set numbers agree with the trainer's evaluate(); a router
// override changes the experts per token and is refused for a dense model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, ConfigError } from '../../src/tensor/index.js';
import { DecoderLM } from '../../src/models/index.js';
import { loadModel, ModelLoadError } from '../../src/io/load.js';
import { parseRunConfig } from '../../src/train/config.js';
import { train, evaluate } from '../../src/train/trainer.js';
import { byDifficulty, evaluateModel, perSource, routedWith, type TokenRecords } from '../../src/eval/evaluate.js';
import { sweepRouter } from '../../src/eval/sweep.js';
import { writeSafetensors } from '../../src/io/safetensors/index.js';
import { toyData } from '../train/toy.js';

const B = 4;
const T = 16;

function moeRun(router: Record<string, unknown>, steps = 6) {
  return parseRunConfig({
    model: {
      vocab_size: 24, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4,
      num_key_value_heads: 2, max_position_embeddings: 32, num_experts: 4, router,
    },
    train: { steps, batch_size: B, seq_len: T, lr: 1e-2, warmup_steps: 1, log_interval: 1, eval_interval: steps, checkpoint_interval: steps, seed: 7 },
  }, 'test');
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'moekit-eval-'));
}

async function trainedRun(router: Record<string, unknown> = { type: 'top_k', k: 2 }) {
  const dir = tmp();
  const result = await train(moeRun(router), toyData(B, T), { outDir: dir });
  return { dir, model: result.model };
}

test('load(save(model)) gives identical logits', async () => {
  const { dir, model } = await trainedRun();
  const loaded = loadModel(dir);
  assert.deepEqual(loaded.config, model.config);
  assert.ok(loaded.run, 'run.json is read');
  const batch = toyData(B, T).validBatches()[0];
  const a = noGrad(() => Array.from(model.forward(batch.inputs, B, T).data));
  const b = noGrad(() => Array.from(loaded.model.forward(batch.inputs, B, T).data));
  assert.deepEqual(b, a);
});

test('a missing or misshapen tensor names the file and the tensor', async () => {
  const { dir, model } = await trainedRun();
  const path = join(dir, 'model.safetensors');
  const tensors = [...model.params].filter(([n]) => n !== 'model.norm.weight')
    .map(([name, p]) => ({ name, dtype: 'F32' as const, shape: [...p.shape], data: p.data }));
  writeSafetensors(path, tensors);
  assert.throws(() => loadModel(dir), (e: Error) => e instanceof ModelLoadError && e.message.includes(path) && e.message.includes('model.norm.weight'));
  const bad = [...model.params].map(([name, p]) => ({ name, dtype: 'F32' as const, shape: name === 'model.norm.weight' ? [2, 16] : [...p.shape], data: p.data }));
  writeSafetensors(path, bad);
  assert.throws(() => loadModel(dir), /model\.norm\.weight has shape \[2, 16\], config\.json gives \[32\]/);
  writeFileSync(join(dir, 'config.json'), '{"vocab_size": 24,');
  assert.throws(() => loadModel(dir), /config\.json is not valid JSON/);
});

test('per-source and per-decile aggregation match a hand computation', async () => {
  // 10 tokens: loss i/10 for token i (shuffled order below), sources alternate 0/1, two MoE layers.
  const order = [3, 7, 0, 9, 1, 5, 8, 2, 6, 4];
  const records: TokenRecords = {
    loss: Float32Array.from(order, (i) => i / 10),
    source: Int32Array.from(order, (_, j) => j % 2),
    k: [Int32Array.from(order, (i) => (i < 5 ? 1 : 3)), Int32Array.from(order, () => 2)],
    moeLayers: [0, 2],
  };
  const ps = perSource(records, ['news', 'fiction']);
  // source 0: positions 0,2,4,6,8 → tokens 3,0,1,8,6 ; source 1: 7,9,5,2,4
  const s0 = [3, 0, 1, 8, 6];
  const s1 = [7, 9, 5, 2, 4];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const kOf = (xs: number[]) => mean(xs.map((i) => (i < 5 ? 1 : 3)));
  assert.equal(ps.length, 2);
  assert.equal(ps[0].source, 'news');
  assert.equal(ps[0].tokens, 5);
  assert.ok(Math.abs(ps[0].loss - mean(s0.map((i) => Math.fround(i / 10)))) < 1e-7);
  assert.ok(Math.abs(ps[0].ppl - Math.exp(ps[0].loss)) < 1e-12);
  assert.deepEqual(ps[0].mean_k_per_layer, [kOf(s0), 2]);
  assert.equal(ps[0].mean_k, (kOf(s0) + 2) / 2);
  assert.equal(ps[1].source, 'fiction');
  assert.deepEqual(ps[1].mean_k_per_layer, [kOf(s1), 2]);

  const d = byDifficulty(records);
  assert.equal(d.length, 10);
  d.forEach((b, j) => {
    assert.equal(b.decile, j + 1);
    assert.equal(b.tokens, 1);
    assert.deepEqual(b.loss_range, [Math.fround(j / 10), Math.fround(j / 10)]);
    assert.deepEqual(b.mean_k_per_layer, [j < 5 ? 1 : 3, 2]);
  });

  // 20 tokens → 2 per decile; dense records → mean_k null.
  const dense: TokenRecords = { loss: Float32Array.from({ length: 20 }, (_, i) => 19 - i), source: new Int32Array(20), k: [], moeLayers: [] };
  const dd = byDifficulty(dense);
  assert.equal(dd.length, 10);
  assert.deepEqual(dd[0].loss_range, [0, 1]);
  assert.equal(dd[0].mean_loss, 0.5);
  assert.equal(dd[9].mean_loss, 18.5);
  assert.equal(dd[0].mean_k, null);
  assert.deepEqual(dd[0].mean_k_per_layer, []);
});

test('evaluateModel agrees with the trainer and is consistent across breakdowns', async () => {
  const { model } = await trainedRun({ type: 'top_p', top_p: 0.6 });
  const valid = toyData(B, T).validBatches();
  const batches = valid.map((b) => ({ ...b, sources: Int32Array.from(b.targets, (_, i) => (i % T < T / 2 ? 0 : 1)) }));
  const ev = evaluateModel(model, { batches, seqLen: T, sources: ['first half', 'second half'] });
  const ref = evaluate(model, valid, T);
  assert.ok(Math.abs(ev.loss - ref.loss) < 1e-6, `${ev.loss} vs ${ref.loss}`);
  assert.deepEqual(ev.routing, ref.routing);
  assert.equal(ev.tokens, 2 * B * T);
  assert.deepEqual(ev.moe_layers, [0, 1]);
  // Token-weighted means of the breakdowns give back the whole-set numbers.
  const wLoss = ev.per_source.reduce((s, x) => s + x.loss * x.tokens, 0) / ev.tokens;
  assert.ok(Math.abs(wLoss - ev.loss) < 1e-6);
  for (const [j, layer] of ev.routing!.layers.entries()) {
    const fromSources = ev.per_source.reduce((s, x) => s + x.mean_k_per_layer[j] * x.tokens, 0) / ev.tokens;
    const fromDeciles = ev.by_difficulty.reduce((s, x) => s + x.mean_k_per_layer[j] * x.tokens, 0) / ev.tokens;
    assert.ok(Math.abs(fromSources - layer.mean_k_after_drops) < 1e-9);
    assert.ok(Math.abs(fromDeciles - layer.mean_k_after_drops) < 1e-9);
  }
  assert.equal(ev.by_difficulty.length, 10);
  for (let j = 1; j < 10; j++) assert.ok(ev.by_difficulty[j].loss_range[0] >= ev.by_difficulty[j - 1].loss_range[1]);
});

test('a router override changes the experts per token; a dense model refuses it', async () => {
  const { model } = await trainedRun({ type: 'top_k', k: 1 });
  const batches = toyData(B, T).validBatches();
  const base = evaluateModel(model, { batches, seqLen: T });
  assert.equal(base.routing!.mean_k, 1);
  const over = evaluateModel(model, { batches, seqLen: T, router: { type: 'top_p', top_p: 0.9 } });
  assert.ok(over.routing!.mean_k > 1, `top_p 0.9 activates more experts: ${over.routing!.mean_k}`);
  assert.equal(over.routing!.total_params, base.routing!.total_params);
  assert.equal(routedWith(model, { type: 'top_k', k: 3 }, () => evaluateModel(model, { batches, seqLen: T })).routing!.mean_k, 3);
  assert.equal(model.config.moe!.router.type, 'top_k', 'the trained router is restored');
  assert.equal(evaluateModel(model, { batches, seqLen: T }).routing!.mean_k, 1);
  assert.throws(() => routedWith(model, { type: 'top_p', top_p: 2 }, () => 0), ConfigError);

  const dense = new DecoderLM(parseRunConfig({ model: { vocab_size: 24, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 1, num_attention_heads: 4 } }).model, { seed: 1 });
  assert.throws(() => evaluateModel(dense, { batches, seqLen: T, router: { type: 'top_p' } }), /needs an MoE model/);
  const ev = evaluateModel(dense, { batches, seqLen: T });
  assert.equal(ev.routing, null);
  assert.throws(() => sweepRouter(dense, { batches, seqLen: T }, ev, { type: 'top_p' }, [0.5]), /needs an MoE model/);
  assert.equal(ev.per_source[0].mean_k, null);
});
