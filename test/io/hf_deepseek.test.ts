// DeepSeek-V2/V3 checkpoints made by transformers — V3: shared/fixtures/deepseek_v3 (MLA with q LoRA, a
// dense first layer, group-limited sigmoid routing with the selection bias, one shared expert); V2:
// test/fixtures/hf/deepseek_v2 (scripts/ref/deepseek.py: plain q_proj, v_head_dim > qk head dim, attention
// biases, softmax group_limited_greedy × routed_scaling_factor, two shared experts) and
// test/fixtures/hf/deepseek_v3_yarn (YaRN, rope halves) — logits at every position, experts and weights per
// token and layer, LM loss and the greedy continuation, also through the KV cache; the config mappings and
// export round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HfConfigReader } from '../../src/io/hf/index.js';
import { deepseekV2, deepseekV3 } from '../../src/io/hf/deepseek_v2.js';
import { DecoderLM, parseModelConfig, toHfConfig } from '../../src/models/index.js';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../src/io/load.js';
import { DecodeSession, GREEDY, argmax, generateTokens } from '../../src/generate/index.js';
import { referenceBackend, setBackend, tryNativeBackend, backend } from '../../src/backend/index.js';
import { exportHf } from '../../src/io/hf/export.js';
import { fromFloat32, writeSafetensors } from '../../src/io/safetensors/index.js';
import { ConfigError } from '../../src/tensor/index.js';
import { checkTransformersFixture, fixtureDir, fixtureSkip, maxAbsDiff, readReference, run } from './hf_fixture.js';

test('deepseek_v3: logits, experts and weights per token and layer, LM loss, greedy tokens', { skip: fixtureSkip('deepseek_v3') }, () => {
  const { loaded } = checkTransformersFixture('deepseek_v3');
  assert.equal(loaded.architecture.modelType, 'deepseek_v3');
  const ref = readReference('deepseek_v3');
  assert.deepEqual(loaded.model.moeLayers().map((l) => l.layer), ref.moe_layers, 'layer 0 dense (first_k_dense_replace 1)');
  const moe = loaded.model.moeLayers()[0];
  assert.ok(moe.selectionBias && moe.selectionBias.data.some((b) => b !== 0), 'e_score_correction_bias loaded');
  assert.equal(moe.shared?.gate.weight.shape[0], 16, 'one shared expert of moe_intermediate_size');
});

test('deepseek_v2: logits, experts and weights per token and layer, LM loss, greedy tokens', () => {
  // dist/test/io/ → the repository root → test/fixtures/hf
  const dir = fileURLToPath(new URL('../../../test/fixtures/hf/deepseek_v2/', import.meta.url));
  const { loaded } = checkTransformersFixture('deepseek_v2', dir);
  assert.equal(loaded.architecture.modelType, 'deepseek_v2');
  assert.deepEqual(loaded.model.moeLayers().map((l) => l.layer), [1, 2, 3]);
  assert.ok(loaded.model.params.has('model.layers.0.self_attn.o_proj.bias'), 'attention_bias');
  assert.equal(loaded.model.moeLayers()[0].shared?.gate.weight.shape[0], 16, 'two shared experts of moe_intermediate_size');
  assert.throws(() => loaded.model.setRouter({ type: 'group_limited', k: 3, correction_bias: true }),
    (e: unknown) => e instanceof ConfigError && /mlp.gate.e_score_correction_bias/.test(e.message), 'no selection bias in a V2 checkpoint');
});

test('deepseek_v3 with YaRN (factor 4, mscale ≠ mscale_all_dim) and rope halves: every check of the fixture', () => {
  const dir = fileURLToPath(new URL('../../../test/fixtures/hf/deepseek_v3_yarn/', import.meta.url));
  const { loaded } = checkTransformersFixture('deepseek_v3_yarn', dir);
  assert.deepEqual(loaded.config.rope_scaling, { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 8, beta_fast: 32,
    beta_slow: 1, mscale: 1, mscale_all_dim: 0.8, attention_factor: null, truncate: true });
  assert.equal(loaded.config.mla?.rope_interleave, false);
});

const base = {
  vocab_size: 50, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 4, num_attention_heads: 2,
  q_lora_rank: null, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 6,
  n_routed_experts: 8, n_shared_experts: 2, moe_intermediate_size: 6, num_experts_per_tok: 2,
};
const map = (arch: typeof deepseekV2, raw: object) => parseModelConfig(arch.config(new HfConfigReader(raw as Record<string, unknown>, 'config.json')), 'config.json');

test('deepseek_v2 config: softmax group_limited_greedy, MoE layers from first_k_dense_replace and moe_layer_freq', () => {
  const c = map(deepseekV2, { ...base, topk_method: 'group_limited_greedy', n_group: 4, topk_group: 2, routed_scaling_factor: 16,
    first_k_dense_replace: 1, moe_layer_freq: 2 });
  assert.deepEqual(c.mla, { q_lora_rank: null, kv_lora_rank: 8, qk_nope_head_dim: 4, qk_rope_head_dim: 4, v_head_dim: 6, rope_interleave: true });
  assert.equal(c.head_dim, 4, 'RoPE tables for the rope slice');
  assert.deepEqual(c.moe!.moe_layers, [2]);
  assert.equal(c.moe!.shared_expert_intermediate_size, 12);
  assert.deepEqual(c.moe!.router, { type: 'group_limited', shared_experts: 0, k: 2, scoring: 'softmax', n_group: 4, topk_group: 2,
    group_score: 'max', renormalize: false, routed_scaling_factor: 16, correction_bias: false, balance_coef: 0.001,
    capacity_factor: null, eval_capacity_factor: null, capacity_mode: 'dynamic', k_ref: null, min_capacity: 0, bpr: false });
  const greedy = map(deepseekV2, { ...base, n_group: null, topk_group: null });
  assert.deepEqual([greedy.moe!.router.type === 'group_limited' && greedy.moe!.router.n_group, greedy.moe!.moe_layers], [1, [0, 1, 2, 3]]);
});

test('YaRN from a v4 rope_scaling object (DeepSeek-V2 hub form) survives the moekit config round trip', () => {
  const c = map(deepseekV3, { ...base, n_group: 4, topk_group: 2, max_position_embeddings: 163840,
    rope_scaling: { type: 'yarn', factor: 40, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1, mscale: 0.707, mscale_all_dim: 0.707 } });
  assert.deepEqual(c.rope_scaling, { rope_type: 'yarn', factor: 40, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1,
    mscale: 0.707, mscale_all_dim: 0.707, attention_factor: null, truncate: true });
  assert.deepEqual(parseModelConfig(toHfConfig(c)).rope_scaling, c.rope_scaling);
  // factor left out: max / original positions, as transformers derives it
  const implicit = map(deepseekV3, { ...base, n_group: 4, topk_group: 2, max_position_embeddings: 64,
    rope_parameters: { rope_type: 'yarn', rope_theta: 10000, original_max_position_embeddings: 16 } });
  assert.equal(implicit.rope_scaling?.factor, 4);
  assert.throws(() => map(deepseekV3, { ...base, n_group: 4, topk_group: 2, rope_scaling: { type: 'yarn', factor: 4 } }),
    /config\.json: "rope_scaling" \(YaRN\) needs "original_max_position_embeddings"/);
  assert.throws(() => map(deepseekV3, { ...base, n_group: 4, topk_group: 2, rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 8, mscale_alldim: 1 } }),
    /unknown key "mscale_alldim" \(did you mean "mscale_all_dim"\?\)/);
});

test('deepseek configs refuse what moekit would compute differently', () => {
  const refused: [typeof deepseekV2, object, RegExp][] = [
    [deepseekV2, { norm_topk_prob: true }, /"norm_topk_prob" = true is not supported: transformers ignores/],
    [deepseekV2, { topk_method: 'noaux_tc' }, /"topk_method" = "noaux_tc" is not supported/],
    [deepseekV2, { scoring_func: 'sigmoid' }, /"scoring_func" = "sigmoid" is not supported/],
    [deepseekV3, { scoring_func: 'softmax' }, /"scoring_func" = "softmax" is not supported/],
    [deepseekV3, { n_group: 3, topk_group: 1 }, /"n_group" \(3\) must divide the 8 routed experts/],
    [deepseekV3, { rope_scaling: { type: 'dynamic', factor: 2 } }, /rope type "dynamic" is not supported/],
  ];
  for (const [arch, extra, message] of refused) {
    assert.throws(() => map(arch, { ...base, n_group: 4, topk_group: 2, ...extra }), (e: unknown) => e instanceof ConfigError && message.test(e.message), JSON.stringify(extra));
  }
});

const IDS = [3, 9, 1, 14, 7, 2, 11, 5, 12];

test('deepseek_v3 written back as deepseek_v3 reloads with identical logits', { skip: fixtureSkip('deepseek_v3') }, () => {
  const src = loadModel(fixtureDir('deepseek_v3'));
  const out = join(mkdtempSync(join(tmpdir(), 'moekit-ds-')), 'out');
  assert.equal(exportHf(src.model, out, { sourceDir: src.dir, source: src }).architecture, 'deepseek_v3');
  assert.equal(maxAbsDiff(run(loadModel(out), IDS).logits, run(src, IDS).logits), 0);
});

test('a moekit model with MLA, YaRN and group-limited routing round-trips through its own config.json', () => {
  const config = parseModelConfig({
    vocab_size: 16, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 2, num_attention_heads: 2, max_position_embeddings: 16,
    initializer_range: 0.4, mla: { q_lora_rank: 6, kv_lora_rank: 4, qk_nope_head_dim: 2, qk_rope_head_dim: 4, v_head_dim: 3 },
    rope_scaling: { rope_type: 'yarn', factor: 2, original_max_position_embeddings: 8, mscale: 1, mscale_all_dim: 1 },
    num_experts: 4, moe_intermediate_size: 6, shared_expert_intermediate_size: 6,
    router: { type: 'group_limited', k: 2, scoring: 'sigmoid', n_group: 2, topk_group: 1, group_score: 'top2_sum', correction_bias: true },
  });
  const model = new DecoderLM(config, { seed: 4 });
  model.moeLayers().forEach((l) => l.selectionBias!.data.set([0.3, -0.2, 0.1, 0]));
  const dir = mkdtempSync(join(tmpdir(), 'moekit-mla-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(config)));
  writeSafetensors(join(dir, 'model.safetensors'), [...model.params].map(([n, p]) => fromFloat32(n, p.shape, p.data)));
  const back = loadModel(dir);
  assert.deepEqual(back.config, config);
  assert.equal(maxAbsDiff(run(back, IDS).logits, run({ ...back, model }, IDS).logits), 0);
});

const OWN = fileURLToPath(new URL('../../../test/fixtures/hf/', import.meta.url));
const FIXTURES: [string, string][] = [['deepseek_v3', fixtureDir('deepseek_v3')], ['deepseek_v2', OWN + 'deepseek_v2/'], ['deepseek_v3_yarn', OWN + 'deepseek_v3_yarn/']];

for (const [name, dir] of FIXTURES) {
  test(`${name}: KV-cache decode (MLA through attendCached) = full forward logits at every step, on every backend; transformers' greedy tokens`,
    { skip: existsSync(dir) ? false : `no fixture at ${dir}` }, () => {
    const initial = backend();
    const loaded = loadModel(dir);
    const ref = readReference(name, dir).greedy as { prompt: number[]; new_tokens: number[] };
    try {
      for (const be of [referenceBackend, ...(tryNativeBackend() ? [tryNativeBackend()!] : [])]) {
        setBackend(be);
        const V = loaded.config.vocab_size;
        const session = new DecodeSession(loaded.model, ref.prompt.length + ref.new_tokens.length);
        const seq = [...ref.prompt];
        let logits = session.prefill(Int32Array.from(seq));
        for (const want of ref.new_tokens) {
          const full = run(loaded, seq).logits.subarray((seq.length - 1) * V);
          assert.ok(maxAbsDiff(logits, full) <= 1e-4, `${be.name}, position ${seq.length}: cached vs full logits differ by ${maxAbsDiff(logits, full)}`);
          assert.equal(argmax(logits), want, `${be.name}, position ${seq.length}`);
          seq.push(want);
          logits = session.step(want);
        }
      }
    } finally {
      setBackend(initial);
    }
    const gen = generateTokens(loaded.model, ref.prompt, { maxTokens: ref.new_tokens.length, sampling: GREEDY });
    assert.deepEqual([...gen.stream], ref.new_tokens);
  });
}
