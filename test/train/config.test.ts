// Configuration validation: unknown keys name the nearest valid key; bad values name the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRunConfig } from '../../src/train/config.js';
import { preset, presetNames } from '../../src/train/presets.js';
import { learningRate } from '../../src/train/schedule.js';
import { ConfigError } from '../../src/tensor/index.js';

const model = { vocab_size: 64, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2 };

test('an unknown key is an error naming it and the nearest valid key', () => {
  assert.throws(() => parseRunConfig({ model: { ...model, hiden_size: 3 } }),
    (e: Error) => e instanceof ConfigError && /unknown key "hiden_size"/.test(e.message) && /did you mean "hidden_size"/.test(e.message));
  assert.throws(() => parseRunConfig({ model, train: { stesp: 3 } }), /unknown key "stesp".*"steps"/);
  assert.throws(() => parseRunConfig({ model, trian: {} }), /unknown key "trian".*"train"/);
});

test('bad values name the field and the expectation', () => {
  assert.throws(() => parseRunConfig({ model: { ...model, num_attention_heads: 3 } }), /hidden_size.*multiple of num_attention_heads/);
  assert.throws(() => parseRunConfig({ model: { ...model, num_key_value_heads: 3 } }), /num_key_value_heads.*must divide/);
  assert.throws(() => parseRunConfig({ model: { ...model, vocab_size: -1 } }), /vocab_size.*positive integer/);
  assert.throws(() => parseRunConfig({ model, train: { lr: 0 } }), /"lr" must be a positive number/);
  assert.throws(() => parseRunConfig({ model, train: { steps: 1.5 } }), /"steps" must be a positive integer/);
  assert.throws(() => parseRunConfig({ model: { ...model, max_position_embeddings: 8 }, train: { seq_len: 16 } }), /seq_len.*exceeds/);
  assert.throws(() => parseRunConfig({ train: {} }), /missing the "model" section/);
  assert.throws(() => parseRunConfig({ model: { hidden_size: 8 } }), /missing required key "vocab_size"/);
  assert.throws(() => parseRunConfig([]), /expected a JSON object/);
});

test('every preset validates; bench is the reference dense model', () => {
  for (const name of presetNames()) preset(name);
  const b = preset('bench');
  assert.deepEqual([b.model.vocab_size, b.model.hidden_size, b.model.num_hidden_layers, b.model.num_attention_heads, b.model.intermediate_size],
    [8192, 256, 4, 4, 688]);
  assert.deepEqual([b.train.batch_size, b.train.seq_len, b.train.lr, b.train.weight_decay], [8, 256, 3e-4, 0.1]);
  assert.throws(() => preset('tinny'), /unknown preset "tinny" \(did you mean "tiny"\?\)/);
});

test('learning rate: linear warm-up, cosine to 10 % at the last step', () => {
  assert.equal(learningRate(0, 100, 1, 10, 0.1), 0.1);
  assert.equal(learningRate(9, 100, 1, 10, 0.1), 1);
  assert.ok(Math.abs(learningRate(10, 100, 1, 10, 0.1) - 1) < 1e-12);
  assert.ok(Math.abs(learningRate(99, 100, 1, 10, 0.1) - 0.1) < 1e-12);
  // halfway through the decay: min + (max − min)/2
  assert.ok(Math.abs(learningRate(10 + 44.5, 100, 1, 10, 0.1) - 0.55) < 1e-12);
});
