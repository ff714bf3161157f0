// HF checkpoints against their independent reference outputs (shared/fixtures): Mixtral made by
// transformers, and the Top-P paper's Dynamic-MoE format made by an independent float64 reading of its code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel } from '../../src/io/load.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkTransformersFixture, expertsByWeight, fixtureDir, fixtureSkip, greedy, lmLoss, maxAbsDiff, readReference, run } from './hf_fixture.js';
import type { MoeRouting } from '../../src/moe/index.js';
import { parseModelConfig, toHfConfig } from '../../src/models/index.js';

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

// Architectures without a shared fixture: tiny random models made and run by transformers itself
// (scripts/ref/make_hf_refs.py → test/fixtures/hf/<name>): llama (GQA, tied embeddings, attention biases,
// BF16 storage), olmoe (full-width q/k norm, raw weights, 5 shards), qwen2_moe (qkv bias, gated shared
// expert, a dense layer from mlp_only_layers), qwen3_moe (head_dim ≠ hidden/heads, per-head q/k norm,
// decoder_sparse_step 2, renormalised top-3); and DeepSeekMoE v1 (remote code, not in transformers:
// transformers' Llama decoder with the v1 MoE block written from the spec, scripts/ref/make_deepseek_v1_ref.py;
// first_k_dense_replace, 2 fused ungated shared experts, renormalised top-3).
const OWN_FIXTURES = fileURLToPath(new URL('../../../test/fixtures/hf/', import.meta.url));
// RoPE scaling (interop §3.7, `make_hf_refs.py --rope`): llama3 (a kept, a smoothed and two interpolated
// frequencies) on a llama, linear position interpolation on a mixtral.
const OWN: [string, string][] = [['llama', 'llama'], ['olmoe', 'olmoe'], ['qwen2_moe', 'qwen2_moe'], ['qwen3_moe', 'qwen3_moe'],
  ['deepseek', 'deepseek'], ['llama_rope_llama3', 'llama'], ['mixtral_rope_linear', 'mixtral']];
for (const [name, modelType] of OWN) {
  test(`${name}: logits at every position, LM loss and greedy tokens match transformers`, () => {
    const dir = OWN_FIXTURES + name;
    const loaded = loadModel(dir);
    const ref = JSON.parse(readFileSync(`${dir}/reference.json`, 'utf8'));
    assert.equal(loaded.architecture.modelType, modelType);
    for (const [s, seq] of (ref.sequences as any[]).entries()) {
      const { logits } = run(loaded, seq.input_ids);
      const diff = maxAbsDiff(logits, (seq.logits as number[][]).flat());
      assert.ok(diff <= 1e-4, `${name} sequence ${s}: max |logit − reference| = ${diff}`);
      assert.ok(Math.abs(lmLoss(logits, seq.input_ids, loaded.config.vocab_size) - seq.lm_loss) <= 1e-4, `${name} sequence ${s}: LM loss`);
    }
    assert.deepEqual(greedy(loaded, ref.greedy.prompt, ref.greedy.new_tokens.length), ref.greedy.new_tokens);
  });
}

test('a PyTorch .bin checkpoint (torch.save, tied head sharing the embedding storage, BF16) loads like its safetensors twin', () => {
  const loaded = loadModel(OWN_FIXTURES + 'llama_bin');
  const ref = JSON.parse(readFileSync(OWN_FIXTURES + 'llama/reference.json', 'utf8'));
  for (const seq of ref.sequences as any[]) {
    const diff = maxAbsDiff(run(loaded, seq.input_ids).logits, (seq.logits as number[][]).flat());
    assert.ok(diff <= 1e-4, `max |logit − reference| = ${diff}`);
  }
});

test('llama3 and linear RoPE scaling survive the moekit config round trip (what convert --to hf writes)', () => {
  for (const name of ['llama_rope_llama3', 'mixtral_rope_linear']) {
    const { config } = loadModel(OWN_FIXTURES + name);
    assert.ok(config.rope_scaling && config.rope_scaling.rope_type !== 'yarn', name);
    assert.deepEqual(parseModelConfig(toHfConfig(config)).rope_scaling, config.rope_scaling, name);
  }
});
