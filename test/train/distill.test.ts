// Staged distillation (§5, §12): the soft-target cross-entropy op against hand values and finite
// differences, and the trainer's first distillation step against (1 − w)·CE + w·CE(teacher ‖ student)
// computed directly from a fresh student and the teacher run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crossEntropy, softCrossEntropy } from '../../src/ops/index.js';
import { DecoderLM } from '../../src/models/index.js';
import { Tensor, noGrad, withGraph } from '../../src/tensor/index.js';
import { parseRunConfig } from '../../src/train/config.js';
import { loadRunModel } from '../../src/train/distill.js';
import { train } from '../../src/train/trainer.js';
import { toyData } from './toy.js';

test('softCrossEntropy: hand value, an all-zero row is ignored, one-hot targets give the ordinary CE, gradient = p − r', async () => {
  const z = Tensor.from([1, 2, 3, 0, 0, 0], [2, 3], true);
  const r = Float32Array.of(0.2, 0.3, 0.5, 0, 0, 0);
  withGraph((g) => {
    const loss = softCrossEntropy(z, r, 1);
    const lse = 3.407606; // log(e + e² + e³)
    const expected = 0.2 * (lse - 1) + 0.3 * (lse - 2) + 0.5 * (lse - 3);
    assert.ok(Math.abs(loss.item() - expected) < 1e-5);
    g.backward(loss);
    const p = [1, 2, 3].map((v) => Math.exp(v - lse));
    [0, 1, 2].forEach((v) => assert.ok(Math.abs(z.grad![v] - (p[v] - r[v])) < 1e-6));
    assert.deepEqual(Array.from(z.grad!.subarray(3)), [0, 0, 0]);
  });
  const logits = Tensor.from([0.3, -1, 2, 0.5, 0.1, -0.4], [2, 3]);
  noGrad(() => {
    const hard = crossEntropy(logits, Int32Array.of(2, 0)).loss.item();
    const soft = softCrossEntropy(logits, Float32Array.of(0, 0, 1, 1, 0, 0), 2).item();
    assert.ok(Math.abs(hard - soft) < 1e-6, `${hard} vs ${soft}`);
  });
});

test('§12 staged KD: the first step\'s loss is (1 − w)·CE + w·CE(teacher ‖ student); validation names the fields', async () => {
  const B = 2;
  const T = 8;
  const model = { vocab_size: 24, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: T };
  const trainSection = { batch_size: B, seq_len: T, lr: 1e-2, warmup_steps: 0, log_interval: 1, eval_interval: 2, checkpoint_interval: 2, seed: 3 };
  const teacherDir = mkdtempSync(join(tmpdir(), 'moekit-teacher-'));
  await train(parseRunConfig({ model, train: { ...trainSection, steps: 2 } }), toyData(B, T), { outDir: teacherDir });
  const w = 0.4;
  const run = parseRunConfig({
    model: { ...model, num_experts: 3, router: { type: 'top_k', k: 2 } },
    train: { ...trainSection, steps: 2, seed: 11, distill: { teacher: teacherDir, weight: w, stop_step: 1 } },
  });
  const batch = toyData(B, T).trainBatch(0);
  const student = new DecoderLM(run.model, { seed: 11 });
  const teacher = loadRunModel(teacherDir);
  const expected = noGrad(() => {
    const s = student.forward(batch.inputs, B, T, { training: true, step: 0 }).data;
    const q = teacher.forward(batch.inputs, B, T).data;
    const V = 24;
    let total = 0;
    for (let t = 0; t < B * T; t++) {
      const logSoftmax = (x: Float32Array) => {
        const row = Array.from(x.subarray(t * V, (t + 1) * V));
        const m = Math.max(...row);
        const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
        return row.map((v) => v - lse);
      };
      const ls = logSoftmax(s);
      const qt = logSoftmax(q).map(Math.exp);
      total += (1 - w) * -ls[batch.targets[t]] + w * -qt.reduce((a, qv, v) => a + qv * ls[v], 0);
    }
    return total / (B * T);
  });
  const result = await train(run, toyData(B, T), { outDir: mkdtempSync(join(tmpdir(), 'moekit-student-')) });
  assert.ok(Math.abs((result.metrics[0].train_loss as number) - expected) < 1e-5, `${result.metrics[0].train_loss} vs ${expected}`);
  assert.throws(() => parseRunConfig({ model, train: { ...trainSection, distill: { teacher: teacherDir, weight: 2, stop_step: 1 } } }), /distill: "weight" must be in \(0, 1\]/);
  assert.throws(() => parseRunConfig({ model, train: { ...trainSection, distill: { teacher: teacherDir, stop: 1 } } }), /did you mean "stop_step"/);
});
