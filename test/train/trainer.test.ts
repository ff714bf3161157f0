// The training loop on a synthetic next-token task (independent of the data layer): the loss falls,
// an interrupted + resumed run repeats the straight run bit for bit, a corrupt checkpoint is refused
// by name and the previous checkpoint stays untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, truncateSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backend } from '../../src/backend/index.js';
import { Rng } from '../../src/tensor/index.js';
import { parseRunConfig, type RunConfig } from '../../src/train/config.js';
import { train, evaluate, type Batch, type TrainData } from '../../src/train/trainer.js';
import { DecoderLM } from '../../src/models/index.js';
import { CheckpointError } from '../../src/train/checkpoint.js';

const B = 4;
const T = 16;
const V = 32;

/** A learnable toy language: token t+1 = (a·token t + b) mod V with a per-sequence (a, b) from a small set. */
function syntheticData(): TrainData {
  const make = (index: number, split: number): Batch => {
    const rng = new Rng(index * 2 + split);
    const inputs = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const a = [1, 3, 5][rng.int(3)];
      const c = rng.int(4);
      let tok = rng.int(V);
      for (let t = 0; t < T; t++) {
        const next = (a * tok + c) % V;
        inputs[b * T + t] = tok;
        targets[b * T + t] = next;
        tok = next;
      }
    }
    return { inputs, targets };
  };
  return {
    trainBatch: (i) => make(i, 0),
    validBatches: () => [make(1_000_000, 1), make(1_000_001, 1)],
    tokenizerJson: '{"model": {"type": "BPE", "vocab": {}, "merges": []}}',
  };
}

function runConfig(steps: number, extra: Record<string, unknown> = {}): RunConfig {
  return parseRunConfig({
    model: { vocab_size: V, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: T },
    train: { steps, batch_size: B, seq_len: T, lr: 1e-2, warmup_steps: 5, log_interval: 1, eval_interval: 10, checkpoint_interval: 10, seed: 42, ...extra },
  }, 'test');
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'moekit-train-'));
}

test('training on a learnable task lowers the validation loss', async () => {
  const run = runConfig(60, { eval_interval: 60, checkpoint_interval: 60 });
  const data = syntheticData();
  const before = evaluate(new DecoderLM(run.model, { seed: run.train.seed }), data.validBatches(), T).loss;
  const result = await train(run, data, { outDir: tmp() });
  assert.ok(result.finalValLoss !== null);
  assert.ok(result.finalValLoss! < before - 1.0, `validation loss ${before} → ${result.finalValLoss}`);
  const rec = result.metrics.at(-1)!;
  for (const k of ['step', 'tokens', 'train_loss', 'lr', 'tok_per_s', 'val_loss']) assert.ok(k in rec, `metrics has ${k}`);
  assert.equal(rec.tokens, 60 * B * T);
});

test('an interrupted and resumed run repeats the straight run exactly', async () => {
  const run = runConfig(20);
  const straightDir = tmp();
  const straight = await train(run, syntheticData(), { outDir: straightDir });

  const dir = tmp();
  let calls = 0;
  const first = await train(run, syntheticData(), { outDir: dir, shouldStop: () => ++calls >= 7 });
  assert.equal(first.stopped, true);
  assert.equal(first.steps, 7);
  const resumed = await train(run, syntheticData(), { outDir: dir, resume: true });
  assert.equal(resumed.steps, 20);

  const losses = (m: typeof straight.metrics) => m.map((r) => [r.step, r.train_loss, r.val_loss ?? null]);
  assert.deepEqual(losses(resumed.metrics), losses(straight.metrics));
  for (const [name, p] of straight.model.params) {
    assert.deepEqual(resumed.model.params.get(name)!.data, p.data, `${name} is bit-identical`);
  }
  assert.deepEqual(readFileSync(join(dir, 'model.safetensors')), readFileSync(join(straightDir, 'model.safetensors')));
});

test('a truncated checkpoint is refused by name and the earlier checkpoint stays untouched', async () => {
  const run = runConfig(20);
  const dir = tmp();
  await train(run, syntheticData(), { outDir: dir });
  const ckRoot = join(dir, 'checkpoints');
  const names = readdirSync(ckRoot).filter((f) => f.startsWith('step-')).sort();
  assert.deepEqual(names, ['step-00000010', 'step-00000020']);
  const olderBytes = readFileSync(join(ckRoot, names[0], 'model.safetensors'));
  const broken = join(ckRoot, names[1], 'model.safetensors');
  truncateSync(broken, 100);
  await assert.rejects(train(run, syntheticData(), { outDir: dir, resume: true }),
    (e: Error) => e instanceof CheckpointError && e.message.includes(broken));
  assert.deepEqual(readFileSync(join(ckRoot, names[0], 'model.safetensors')), olderBytes);
  writeFileSync(join(ckRoot, 'latest'), 'garbage\n');
  await assert.rejects(train(run, syntheticData(), { outDir: dir, resume: true }), /latest is corrupt/);
});

test('resume refuses a changed configuration and a fresh run refuses an existing run directory', async () => {
  const dir = tmp();
  await train(runConfig(10), syntheticData(), { outDir: dir });
  await assert.rejects(train(runConfig(10, { lr: 5e-3 }), syntheticData(), { outDir: dir, resume: true }), /different configuration/);
  await assert.rejects(train(runConfig(10), syntheticData(), { outDir: dir }), /already holds a training run/);
  await assert.rejects(train(runConfig(10), syntheticData(), { outDir: tmp(), resume: true }), /no checkpoint to resume from/);
});

test('an unwritable output directory is a one-line error', async (t) => {
  if (process.getuid?.() === 0) {
    // root ignores permission bits: use a path under a regular file instead
    const file = join(tmp(), 'file');
    writeFileSync(file, '');
    await assert.rejects(train(runConfig(1), syntheticData(), { outDir: join(file, 'out') }), /cannot write to output directory/);
    return;
  }
  const dir = tmp();
  chmodSync(dir, 0o500);
  await assert.rejects(train(runConfig(1), syntheticData(), { outDir: join(dir, 'out') }), /cannot write to output directory/);
  t.diagnostic(`backend ${backend().name}`);
});
