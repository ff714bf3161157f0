// moekit model → GGUF (interop.md §5): the §5.5 permutation example, the metadata keys with the exact
// types of §5.6 and the tokenizer keys of §5.8, tensor names / ne order / types of §5.3-§5.4-§5.7
// (stacked experts, a dense layer copied into every expert, F32 norms and router, the Q8_0 → F16
// fallback), raw top-k as qwen2moe, q/k norm as qwen3moe / olmoe, DeepSeekMoE as deepseek, MLA models as
// deepseek2 (the k_b / v_b split and rope-row pairing by hand, the routing and YaRN keys), the HF fixtures,
// every router and model llama.cpp cannot reproduce refused with its reason, and the convert command.
// That llama.cpp computes the same function from these files is gguf_llamacpp.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '../../src/data/index.js';
import { GgufError } from '../../src/io/errors.js';
import {
  decodeTensor, encodeF32, exportGguf, openGguf, permuteRotateHalfRows, planGguf, ropeSliceToPairs, splitKvB, unpermuteRotateHalfRows,
  type GgufExportOptions, type GgufReader,
} from '../../src/io/gguf/index.js';
import { loadModel } from '../../src/io/load.js';
import type { DecoderLM } from '../../src/models/index.js';
import { makeModel, tokenizer, writeRunDir } from './gguf_models.js';
import { assertClose } from '../helpers.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const V = tokenizer.vocabSize;

test('§5.5: rotate-half rows → adjacent pairs per head (hd = 4: [a0,a1,b0,b1] → [a0,b0,a1,b1]), and back', () => {
  assert.deepEqual([...permuteRotateHalfRows(Float32Array.from([10, 11, 20, 21]), 1, 4, 1)], [10, 20, 11, 21]);
  // 2 heads of hd 6, 2 columns: head h row r holds (100h + r, 100h + r + 0.5)
  const w = Float32Array.from({ length: 24 }, (_, i) => 100 * Math.floor(i / 12) + Math.floor((i % 12) / 2) + (i % 2) / 2);
  const p = permuteRotateHalfRows(w, 2, 6, 2);
  const rows = (x: Float32Array) => Array.from({ length: 12 }, (_, r) => x[2 * r]);
  assert.deepEqual(rows(p), [0, 3, 1, 4, 2, 5, 100, 103, 101, 104, 102, 105]);
  assert.deepEqual([...unpermuteRotateHalfRows(p, 2, 6, 2)], [...w]);
});

/** hidden 48 (not a whole Q8_0 block), experts of width 32, a narrower dense layer 1, heads of 12. */
const MOE_DIMS = {
  hidden_size: 48, intermediate_size: 24, num_attention_heads: 4, num_key_value_heads: 2,
  num_experts: 4, moe_intermediate_size: 32, expert_frequency: 2, router: { type: 'top_k', k: 2 },
};

function exported(model: DecoderLM, opts: GgufExportOptions, check: (r: GgufReader) => void): void {
  const dir = writeRunDir(model);
  try {
    exportGguf(dir, join(dir, 'out.gguf'), opts);
    const r = openGguf(join(dir, 'out.gguf'));
    try {
      check(r);
    } finally {
      r.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('metadata: every §5.6 / §5.8 key with the type llama.cpp checks, and its value', () => {
  const model = makeModel(MOE_DIMS, 1);
  const eot = tokenizer.specialId('<|endoftext|>');
  exported(model, { dtype: 'f16' }, (r) => {
    const expected: [string, string, unknown][] = [
      ['general.architecture', 'string', 'llama'], ['general.type', 'string', 'model'], ['general.file_type', 'u32', 1],
      ['llama.vocab_size', 'u32', V], ['llama.context_length', 'u32', 64], ['llama.embedding_length', 'u32', 48],
      ['llama.block_count', 'u32', 3], ['llama.feed_forward_length', 'u32', 32], ['llama.attention.head_count', 'u32', 4],
      ['llama.attention.head_count_kv', 'u32', 2], ['llama.attention.layer_norm_rms_epsilon', 'f32', Math.fround(1e-5)],
      ['llama.rope.dimension_count', 'u32', 12], ['llama.rope.freq_base', 'f32', 10000],
      ['llama.expert_count', 'u32', 4], ['llama.expert_used_count', 'u32', 2],
      ['tokenizer.ggml.model', 'string', 'gpt2'], ['tokenizer.ggml.pre', 'string', 'gpt-2'],
      ['tokenizer.ggml.bos_token_id', 'u32', eot], ['tokenizer.ggml.eos_token_id', 'u32', eot],
      ['tokenizer.ggml.add_bos_token', 'bool', false], ['tokenizer.ggml.add_eos_token', 'bool', false],
      ['moekit.exact', 'bool', true],
    ];
    for (const [key, type, value] of expected) {
      const v = r.metadata.get(key);
      assert.ok(v, `missing ${key}`);
      assert.equal(v.type, type, key);
      assert.equal('value' in v ? v.value : undefined, value, key);
    }
    assert.ok(!r.metadata.has('general.quantization_version'), 'only quantised files carry it');
    assert.ok(!r.metadata.has('llama.attention.key_length'), 'head_dim = hidden / heads needs no key_length');
    assert.deepEqual(r.metadata.get('moekit.moe_layers'), { type: 'array', elementType: 'i32', values: [0, 2] });
    const router = r.metadata.get('moekit.router');
    assert.ok(router?.type === 'string');
    assert.deepEqual(JSON.parse(router.value), JSON.parse(JSON.stringify(model.config.moe!.router)), 'the exact router, for moekit\'s own reader');

    const tokens = r.metadata.get('tokenizer.ggml.tokens')!;
    const types = r.metadata.get('tokenizer.ggml.token_type')!;
    const merges = r.metadata.get('tokenizer.ggml.merges')!;
    assert.ok(tokens.type === 'array' && tokens.elementType === 'string' && types.type === 'array' && types.elementType === 'i32');
    assert.ok(merges.type === 'array' && merges.elementType === 'string');
    assert.equal(tokens.values.length, V);
    assert.equal(tokens.values[eot], '<|endoftext|>');
    assert.equal(tokens.values[32], tokenizer.idToToken(32));
    assert.deepEqual(new Set(types.values.filter((_, i) => i !== eot)), new Set([1]));
    assert.equal(types.values[eot], 3); // control
    assert.equal(merges.values.length, tokenizer.model.merges.length);
    assert.equal(merges.values[0], tokenizer.model.merges[0].join(' '));
  });
});

test('tensors: names, ne = reversed shape, stacked experts, the dense layer as E padded copies, Q/K permuted', () => {
  const model = makeModel(MOE_DIMS, 2);
  const P = (n: string) => model.params.get(n)!.data;
  exported(model, { dtype: 'f32' }, (r) => {
    const ne = (name: string) => r.info(name).ne;
    assert.deepEqual(ne('token_embd.weight'), [48, V]);
    assert.deepEqual(ne('output.weight'), [48, V]);
    assert.deepEqual(ne('blk.0.attn_q.weight'), [48, 48]);
    assert.deepEqual(ne('blk.0.attn_k.weight'), [48, 24]);
    assert.deepEqual(ne('blk.0.ffn_gate_inp.weight'), [48, 4]);
    assert.deepEqual(ne('blk.0.ffn_gate_exps.weight'), [48, 32, 4]);
    assert.deepEqual(ne('blk.0.ffn_down_exps.weight'), [32, 48, 4]);
    assert.deepEqual(ne('blk.1.ffn_up_exps.weight'), [48, 32, 4]);
    assert.equal(r.tensors.length, 3 + 3 * 10); // embd, output norm, output + 10 per layer
    assert.ok(!r.tensors.some((t) => /ffn_(gate|up|down)\.weight/.test(t.name)), 'llama MoE has experts in every layer');

    assert.deepEqual(r.read('blk.2.ffn_down_exps.weight').subarray(3 * 48 * 32), P('model.layers.2.mlp.experts.3.down_proj.weight'));
    assert.deepEqual(r.read('blk.0.ffn_gate_inp.weight'), P('model.layers.0.mlp.gate.weight'));
    assert.deepEqual(r.read('blk.0.attn_k.weight'), permuteRotateHalfRows(P('model.layers.0.self_attn.k_proj.weight'), 2, 12, 48));
    assert.deepEqual(unpermuteRotateHalfRows(r.read('blk.2.attn_q.weight'), 4, 12, 48), P('model.layers.2.self_attn.q_proj.weight'));
    assert.deepEqual(r.read('blk.1.attn_v.weight'), P('model.layers.1.self_attn.v_proj.weight'));

    // Dense layer 1: zero router; every expert = the dense FFN, gate/up rows 24..31 and down columns 24..31 zero
    assert.ok(r.read('blk.1.ffn_gate_inp.weight').every((x) => x === 0));
    const gate = r.read('blk.1.ffn_gate_exps.weight');
    const down = r.read('blk.1.ffn_down_exps.weight');
    const denseGate = P('model.layers.1.mlp.gate_proj.weight'); // [24, 48]
    const denseDown = P('model.layers.1.mlp.down_proj.weight'); // [48, 24]
    for (let e = 0; e < 4; e++) {
      for (let i = 0; i < 32; i++) {
        for (let h = 0; h < 48; h++) {
          assert.equal(gate[(e * 32 + i) * 48 + h], i < 24 ? denseGate[i * 48 + h] : 0);
          assert.equal(down[(e * 48 + h) * 32 + i], i < 24 ? denseDown[h * 24 + i] : 0);
        }
      }
    }
  });
});

test('types: norms and router F32; Q8_0 where ne[0] is a whole block, F16 where not (§5.3); tied output omitted', () => {
  const model = makeModel({ ...MOE_DIMS, tie_word_embeddings: true }, 3);
  exported(model, { dtype: 'q8_0' }, (r) => {
    const type = (name: string) => r.info(name).type;
    assert.equal(type('blk.0.attn_norm.weight'), 'F32');
    assert.equal(type('output_norm.weight'), 'F32');
    assert.equal(type('blk.0.ffn_gate_inp.weight'), 'F32');
    assert.equal(type('blk.0.ffn_down_exps.weight'), 'Q8_0'); // ne[0] = 32
    assert.equal(type('blk.0.ffn_gate_exps.weight'), 'F16'); // ne[0] = 48
    assert.equal(type('token_embd.weight'), 'F16');
    assert.ok(!r.tensors.some((t) => t.name === 'output.weight'), 'tied: llama falls back to token_embd');
    assert.deepEqual(r.metadata.get('general.file_type'), { type: 'u32', value: 7 });
    assert.deepEqual(r.metadata.get('general.quantization_version'), { type: 'u32', value: 2 });
  });
  exported(makeModel({ num_attention_heads: 2, head_dim: 16 }, 4), { dtype: 'bf16' }, (r) => {
    assert.equal(r.info('blk.0.attn_q.weight').type, 'BF16');
    assert.deepEqual(r.info('blk.0.attn_q.weight').ne, [64, 32]);
    assert.deepEqual(r.info('blk.0.ffn_gate.weight').ne, [64, 48]);
    assert.deepEqual(r.metadata.get('general.file_type'), { type: 'u32', value: 32 });
    assert.deepEqual(r.metadata.get('llama.attention.key_length'), { type: 'u32', value: 16 });
    assert.deepEqual(r.metadata.get('llama.rope.dimension_count'), { type: 'u32', value: 16 });
    assert.ok(!r.metadata.has('llama.expert_count'), 'a dense model has no experts');
  });
});

/** Each `${arch}.${key}` metadata value is the u32 given. */
function assertU32Keys(r: GgufReader, arch: string, expected: readonly (readonly [string, number])[]): void {
  for (const [key, value] of expected) assert.deepEqual(r.metadata.get(`${arch}.${key}`), { type: 'u32', value }, `${arch}.${key}`);
}

function plan(extra: Record<string, unknown>, opts: GgufExportOptions = {}, tok: Tokenizer = tokenizer) {
  const model = makeModel(extra, 5);
  return planGguf(model.config, model.params, tok, opts, 'run/dir');
}

function refused(fn: () => unknown, pattern: RegExp, hint?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof GgufError && e.code === 'Unexportable', String(e));
    assert.match(e.message, /^run\/dir: /);
    assert.match(e.message, pattern);
    if (hint) assert.match(e.hint ?? '', hint);
    return true;
  });
}

test('routers llama.cpp cannot reproduce are refused with the router and the reason (§5.9)', () => {
  const moe = (router: Record<string, unknown>, more: Record<string, unknown> = {}) => ({ num_experts: 4, moe_intermediate_size: 48, router, ...more });
  const APPROX = /pass --approximate/;
  const NONE = /no approximate export exists/;
  refused(() => plan(moe({ type: 'top_p', top_p: 0.4 })), /router "top_p" has no exact llama.cpp equivalent: Top-P \(p = 0.4\) picks a variable number of experts/, APPROX);
  refused(() => plan(moe({ type: 'dense_to_sparse' })), /router "dense_to_sparse".*variable number per token/, APPROX);
  // raw weights with dense layers are deepseek's layout, but only with the dense layers first
  refused(() => plan(moe({ type: 'top_k', k: 2, renormalize: false }, { expert_frequency: 2 })),
    /dense layers after an MoE layer \(MoE layers 0, 2 of 3\) have no llama.cpp form: deepseek has dense layers only before the first MoE layer/);
  refused(() => plan(moe({ type: 'switch', eval_capacity_factor: 2 })), /router "switch".*eval_capacity_factor 2 drops tokens/, APPROX);
  refused(() => plan(moe({ type: 'top_k', k: 2, eval_capacity_factor: 1.25 })), /eval_capacity_factor 1.25 drops tokens/, APPROX);
  refused(() => plan(moe({ type: 'hash' })), /router "hash".*by token id/, NONE);
  refused(() => plan(moe({ type: 'base' })), /router "base".*balanced assignment/, NONE);
  refused(() => plan(moe({ type: 'expert_choice' })), /router "expert_choice".*not causal/, NONE);
  refused(() => plan(moe({ type: 'hash' }), { approximate: true }), /router "hash"/, NONE);
  refused(() => plan(moe({ type: 'top_k', k: 2 }, { residual: 'sum' })), /Residual-MoE/);
  refused(() => plan(moe({ type: 'top_k', k: 2 }, { shared_expert_intermediate_size: 16, shared_expert_gate: true })),
    /a gated shared expert beside renormalised top-k weights has no llama.cpp form/);
  refused(() => plan(moe({ type: 'top_k', k: 2 }, { shared_expert_intermediate_size: 16 })),
    /an ungated shared expert beside renormalised top-k weights has no llama.cpp form \(qwen2moe: raw weights \+ a gated shared expert; deepseek: raw weights \+ an ungated one; deepseek2, whose weights may be renormalised, needs multi-head latent attention\)/);
  refused(() => plan(moe({ type: 'top_k', k: 2, renormalize: false }, { shared_expert_intermediate_size: 16 })),
    /the shared expert's width 16 is not a multiple of the expert width 48: llama.cpp's deepseek sizes it expert_shared_count × expert_feed_forward_length/);
  refused(() => plan(moe({ type: 'top_k', k: 1 }, { num_experts: [2, 4], moe_layers: [0, 2] })), /different expert counts \(2, 4\)/);
  refused(() => plan(moe({ type: 'top_k', k: 1 }, { moe_intermediate_size: 16, expert_frequency: 2 })), /dense layers \(intermediate_size 48\) are wider than the experts \(moe_intermediate_size 16\)/);
});

test('raw top-k weights → qwen2moe: NEOX RoPE (no permutation), a zero shared expert, output.weight even when tied', () => {
  const model = makeModel({ ...MOE_DIMS, expert_frequency: 1, router: { type: 'top_k', k: 2, renormalize: false }, tie_word_embeddings: true }, 8);
  exported(model, { dtype: 'f32' }, (r) => {
    assert.deepEqual(r.metadata.get('general.architecture'), { type: 'string', value: 'qwen2moe' });
    assertU32Keys(r, 'qwen2moe', [['expert_count', 4], ['expert_used_count', 2], ['expert_feed_forward_length', 32],
      ['expert_shared_feed_forward_length', 32], ['feed_forward_length', 24], ['block_count', 3]]);
    assert.deepEqual(r.read('blk.0.attn_q.weight'), model.params.get('model.layers.0.self_attn.q_proj.weight')!.data, 'no Q/K permutation for NEOX');
    assert.deepEqual(r.read('output.weight'), model.params.get('model.embed_tokens.weight')!.data, 'qwen2moe requires output.weight');
    assert.deepEqual(r.info('blk.2.ffn_gate_inp_shexp.weight').ne, [48]);
    assert.deepEqual(r.info('blk.2.ffn_down_shexp.weight').ne, [32, 48]);
    assert.ok(r.read('blk.2.ffn_up_shexp.weight').every((x) => x === 0), 'the shared expert adds 0');
    assert.ok(r.read('blk.2.ffn_gate_inp_shexp.weight').every((x) => x === 1), 'its gate is nonzero (silu(z)/z is NaN at 0)');
  });
});

test('Qwen2-MoE shape → qwen2moe with its own gated shared expert and q/k/v biases (unpermuted: NEOX)', () => {
  const model = makeModel({ ...MOE_DIMS, expert_frequency: 1, router: { type: 'top_k', k: 2, renormalize: false },
    shared_expert_intermediate_size: 40, shared_expert_gate: true, qkv_bias: true }, 9);
  const P = (n: string) => model.params.get(n)!.data;
  exported(model, { dtype: 'f32' }, (r) => {
    assert.deepEqual(r.metadata.get('qwen2moe.expert_shared_feed_forward_length'), { type: 'u32', value: 40 });
    assert.deepEqual(r.read('blk.1.ffn_gate_inp_shexp.weight'), P('model.layers.1.mlp.shared_expert_gate.weight'));
    assert.deepEqual(r.info('blk.1.ffn_gate_inp_shexp.weight').ne, [48]);
    assert.deepEqual(r.read('blk.1.ffn_down_shexp.weight'), P('model.layers.1.mlp.shared_experts.down_proj.weight'));
    assert.deepEqual(r.info('blk.1.ffn_down_shexp.weight').ne, [40, 48]);
    assert.deepEqual(r.read('blk.0.attn_q.bias'), P('model.layers.0.self_attn.q_proj.bias'));
    assert.deepEqual(r.info('blk.0.attn_k.bias').ne, [24]);
    assert.ok(!r.tensors.some((t) => t.name.endsWith('attn_output.bias')), 'qkv_bias: no o_proj bias');
  });
  exported(makeModel({ attention_bias: true }, 10), { dtype: 'f16' }, (r) => {
    assert.equal(r.info('blk.0.attn_q.bias').type, 'F32', '1-D tensors stay F32');
    assert.deepEqual(r.info('blk.0.attn_output.bias').ne, [64]);
  });
});

test('q/k norm → qwen3moe (renormalised, per head) and olmoe (raw, full width): keys, norms, no permutation (§5.6, §5.7, §5.9)', () => {
  const moe = { ...MOE_DIMS, expert_frequency: 1 };
  // hidden 48 = 4 heads × 12: qwen3moe still states key_length / value_length (= head_dim)
  const qwen3 = makeModel({ ...moe, qk_norm: 'per_head', router: { type: 'top_k', k: 3, renormalize: true }, tie_word_embeddings: true }, 11);
  exported(qwen3, { dtype: 'f16' }, (r) => {
    assert.deepEqual(r.metadata.get('general.architecture'), { type: 'string', value: 'qwen3moe' });
    assertU32Keys(r, 'qwen3moe', [['expert_count', 4], ['expert_used_count', 3], ['expert_feed_forward_length', 32], ['feed_forward_length', 24],
      ['attention.key_length', 12], ['attention.value_length', 12], ['attention.head_count_kv', 2], ['rope.dimension_count', 12]]);
    assert.deepEqual(r.metadata.get('qwen3moe.attention.layer_norm_rms_epsilon'), { type: 'f32', value: Math.fround(1e-5) });
    assert.deepEqual(r.info('blk.1.attn_q_norm.weight'), { ...r.info('blk.1.attn_q_norm.weight'), type: 'F32', ne: [12] });
    assert.deepEqual(r.read('blk.1.attn_k_norm.weight'), qwen3.params.get('model.layers.1.self_attn.k_norm.weight')!.data);
    assert.deepEqual(r.info('blk.0.attn_q.weight').ne, [48, 48]);
    assert.ok(!r.tensors.some((t) => t.name === 'output.weight' || t.name.includes('shexp')), 'tied: qwen3moe falls back to token_embd; no shared expert');
    assert.equal(r.tensors.length, 2 + 3 * 12);
  });
  const olmoe = makeModel({ ...moe, qk_norm: 'full', num_key_value_heads: 4, router: { type: 'top_k', k: 2, renormalize: false }, tie_word_embeddings: true }, 12);
  exported(olmoe, { dtype: 'f32' }, (r) => {
    assert.deepEqual(r.metadata.get('general.architecture'), { type: 'string', value: 'olmoe' });
    assertU32Keys(r, 'olmoe', [['expert_count', 4], ['expert_used_count', 2], ['feed_forward_length', 32], ['attention.head_count_kv', 4]]);
    for (const key of ['expert_feed_forward_length', 'attention.key_length', 'expert_shared_feed_forward_length']) assert.ok(!r.metadata.has(`olmoe.${key}`), key);
    assert.deepEqual(r.info('blk.2.attn_k_norm.weight').ne, [48]);
    assert.deepEqual(r.read('blk.2.attn_q_norm.weight'), olmoe.params.get('model.layers.2.self_attn.q_norm.weight')!.data);
    assert.deepEqual(r.read('blk.0.attn_k.weight'), olmoe.params.get('model.layers.0.self_attn.k_proj.weight')!.data, 'NEOX: no Q/K permutation');
    assert.deepEqual(r.read('output.weight'), olmoe.params.get('model.embed_tokens.weight')!.data, 'olmoe requires output.weight');
    assert.ok(!r.tensors.some((t) => t.name.includes('shexp')));
  });
  // Approximate Top-P (llama's renormalised top-k) keeps its per-head q/k norm as qwen3moe.
  assert.equal(plan({ num_experts: 4, moe_intermediate_size: 48, qk_norm: 'per_head', router: { type: 'top_p', top_p: 0.4 } }, { approximate: true }).arch, 'qwen3moe');
});

test('q/k norm and attention biases llama.cpp cannot hold are refused (§5.7, §5.9)', () => {
  const moe = (router: Record<string, unknown>, more: Record<string, unknown> = {}) => ({ num_experts: 4, moe_intermediate_size: 48, router, ...more });
  const raw = { type: 'top_k', k: 2, renormalize: false };
  const renorm = { type: 'top_k', k: 2, renormalize: true };
  refused(() => plan(moe(raw, { qk_norm: 'per_head' })),
    /qk_norm "per_head" with raw top-k weights \(router "top_k"\) has no llama.cpp form: qwen3moe, the architecture with that q\/k norm, hard-codes renormalised weights/);
  refused(() => plan(moe({ type: 'switch' }, { qk_norm: 'per_head' })), /qk_norm "per_head" with raw top-k weights \(router "switch"\)/);
  refused(() => plan(moe(renorm, { qk_norm: 'full', num_key_value_heads: 4 })), /qk_norm "full" with renormalised top-k weights .*olmoe.*hard-codes raw weights/);
  refused(() => plan({ qk_norm: 'per_head' }), /a dense model with qk_norm "per_head" needs llama.cpp's qwen3 \/ olmo2 architectures/);
  refused(() => plan(moe(raw, { qk_norm: 'full' })), /olmoe sizes both q\/k norms to hidden_size \(64\).*got 2 kv heads, 4 heads of 16/);
  refused(() => plan(moe(raw, { qk_norm: 'full', num_key_value_heads: 4, head_dim: 8 })), /got 4 kv heads, 4 heads of 8/);
  refused(() => plan(moe(raw, { qk_norm: 'full', num_key_value_heads: 4, expert_frequency: 2 })), /dense layers inside an MoE with raw top-k weights/);
  refused(() => plan(moe(renorm, { qk_norm: 'per_head', qkv_bias: true })), /qkv_bias \(q\/k\/v biases\): llama.cpp's qwen3moe has no attention biases/);
  // llama.cpp's qwen2moe fails to load a file with attn_output.bias (checked with node-llama-cpp)
  refused(() => plan(moe(raw, { attention_bias: true })), /attention_bias \(q\/k\/v\/o biases\): llama.cpp's qwen2moe has only q\/k\/v biases/);
});

test('MLA layouts (gguf/mla.ts): kv_b_proj split into k_b (transposed per head) and v_b; rotate-half rope rows → pairs', () => {
  // 2 heads, dn 2, dv 1, kvr 3: rows per head k0, k1, v0; W[row][c] = 10·row + c
  const w = Float32Array.from({ length: 6 * 3 }, (_, i) => 10 * Math.floor(i / 3) + (i % 3));
  const { kB, vB } = splitKvB(w, 2, 2, 1, 3);
  // kB [h, c, j] = W[h·3 + j][c]
  assert.deepEqual([...kB], [0, 10, 1, 11, 2, 12, 30, 40, 31, 41, 32, 42]);
  assert.deepEqual([...vB], [20, 21, 22, 50, 51, 52]);
  // 2 groups of 5 rows (1 column), rope slice rows 1..4 (dr 4): [x, a0, a1, b0, b1] → [x, a0, b0, a1, b1]
  assert.deepEqual([...ropeSliceToPairs(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 2, 5, 1, 4, 1)], [0, 1, 3, 2, 4, 5, 6, 8, 7, 9]);
});

/** DeepSeekMoE-16B's layout in small: raw top-2 of 6 routed experts, 2 shared experts fused, a leading dense layer. */
const DEEPSEEK_DIMS = { hidden_size: 48, intermediate_size: 40, num_attention_heads: 4, num_key_value_heads: 4, num_experts: 6, moe_intermediate_size: 16,
  shared_expert_intermediate_size: 32, first_k_dense_replace: 1, router: { type: 'top_k', k: 2, renormalize: false } };

test('DeepSeekMoE → deepseek: leading dense layer, stacked experts, ungated shared expert, keys, Q/K permuted (§5.6, §5.7, §5.9)', () => {
  const model = makeModel(DEEPSEEK_DIMS, 13);
  const P = (n: string) => model.params.get(n)!.data;
  exported(model, { dtype: 'f32' }, (r) => {
    assert.deepEqual(r.metadata.get('general.architecture'), { type: 'string', value: 'deepseek' });
    assertU32Keys(r, 'deepseek', [['expert_count', 6], ['expert_used_count', 2], ['expert_feed_forward_length', 16], ['feed_forward_length', 40],
      ['expert_shared_count', 2], ['leading_dense_block_count', 1], ['attention.head_count_kv', 4]]);
    assert.deepEqual(r.metadata.get('deepseek.expert_weights_scale'), { type: 'f32', value: 1 });
    assert.deepEqual(r.info('blk.0.ffn_gate.weight').ne, [48, 40]);
    assert.ok(!r.tensors.some((t) => t.name.startsWith('blk.0.ffn_') && t.name.includes('exps')), 'layer 0 is dense');
    assert.deepEqual(r.info('blk.1.ffn_gate_exps.weight').ne, [48, 16, 6]);
    assert.deepEqual(r.info('blk.2.ffn_up_shexp.weight').ne, [48, 32]);
    assert.deepEqual(r.read('blk.2.ffn_down_shexp.weight'), P('model.layers.2.mlp.shared_experts.down_proj.weight'));
    assert.ok(!r.tensors.some((t) => t.name.includes('gate_inp_shexp')), 'ungated');
    assert.deepEqual(r.read('blk.1.attn_k.weight'), permuteRotateHalfRows(P('model.layers.1.self_attn.k_proj.weight'), 4, 12, 48), 'NORM RoPE');
    assert.equal(r.tensors.length, 3 + 9 + 2 * 13);
  });
  // moekit's own DeepSeekMoE router counts its shared experts among num_experts (§13)
  const own = plan({ num_experts: 6, moe_intermediate_size: 16, router: { type: 'deepseek', shared_experts: 2, k: 2 } });
  assert.equal(own.arch, 'deepseek');
  assert.deepEqual([own.metadata.get('deepseek.expert_count'), own.metadata.get('deepseek.expert_shared_count')], [{ type: 'u32', value: 4 }, { type: 'u32', value: 2 }]);
  // no shared expert: one zero expert of the routed width (deepseek requires the tensors)
  const none = plan({ num_experts: 4, moe_intermediate_size: 16, first_k_dense_replace: 1, router: { type: 'top_k', k: 2, renormalize: false } });
  assert.deepEqual(none.metadata.get('deepseek.expert_shared_count'), { type: 'u32', value: 1 });
  const down = none.tensors.find((t) => t.name === 'blk.2.ffn_down_shexp.weight')!;
  assert.deepEqual(down.ne, [16, 64]);
  assert.ok(Array.from(new Float32Array((down.data() as Uint8Array).buffer.slice(0))).every((x) => x === 0));
});

/** DeepSeek-V3's layout in small: q LoRA, rotate-half rope slices, sigmoid + bias, 4 groups of 2 keep 2, renormalised × 2.5. */
const V3_DIMS = {
  hidden_size: 48, intermediate_size: 40, num_attention_heads: 4, rms_norm_eps: 1e-6,
  mla: { q_lora_rank: 24, kv_lora_rank: 16, qk_nope_head_dim: 8, qk_rope_head_dim: 6, v_head_dim: 10, rope_interleave: false },
  num_experts: 8, moe_intermediate_size: 16, shared_expert_intermediate_size: 16, first_k_dense_replace: 1,
  router: { type: 'group_limited', k: 3, scoring: 'sigmoid', correction_bias: true, n_group: 4, topk_group: 2, group_score: 'top2_sum', renormalize: true, routed_scaling_factor: 2.5 },
};

test('DeepSeek-V3 shape → deepseek2: MLA keys and tensors (absorbed k_b / v_b, rope rows paired), routing keys, exp_probs_b', () => {
  const model = makeModel(V3_DIMS, 14);
  const P = (n: string) => model.params.get(n)!.data;
  exported(model, { dtype: 'f16' }, (r) => {
    assert.deepEqual(r.metadata.get('general.architecture'), { type: 'string', value: 'deepseek2' });
    assertU32Keys(r, 'deepseek2', [['attention.head_count', 4], ['attention.head_count_kv', 1], ['attention.q_lora_rank', 24], ['attention.kv_lora_rank', 16],
      ['attention.key_length', 22], ['attention.value_length', 16], ['attention.key_length_mla', 14], ['attention.value_length_mla', 10],
      ['rope.dimension_count', 6], ['expert_count', 8], ['expert_used_count', 3], ['expert_feed_forward_length', 16], ['feed_forward_length', 40],
      ['expert_shared_count', 1], ['leading_dense_block_count', 1], ['expert_gating_func', 2], ['expert_group_count', 4], ['expert_group_used_count', 2]]);
    assert.deepEqual(r.metadata.get('deepseek2.expert_weights_scale'), { type: 'f32', value: 2.5 });
    assert.deepEqual(r.metadata.get('deepseek2.expert_weights_norm'), { type: 'bool', value: true });
    const a = 'model.layers.1.self_attn';
    assert.deepEqual(r.info('blk.1.attn_q_a.weight').ne, [48, 24]);
    assert.deepEqual(r.info('blk.1.attn_q_a_norm.weight'), { ...r.info('blk.1.attn_q_a_norm.weight'), ne: [24], type: 'F32' });
    assert.deepEqual(r.info('blk.1.attn_q_b.weight').ne, [24, 4 * 14]);
    const f16 = (x: Float32Array) => decodeTensor('t', { name: 't', type: 'F16', typeId: 1, ne: [x.length], offset: 0, nbytes: 0 }, encodeF32(x, 'F16'));
    assert.deepEqual(r.read('blk.1.attn_q_b.weight'), f16(ropeSliceToPairs(P(`${a}.q_b_proj.weight`), 4, 14, 8, 6, 24)));
    assert.deepEqual(r.read('blk.1.attn_kv_a_mqa.weight'), f16(ropeSliceToPairs(P(`${a}.kv_a_proj_with_mqa.weight`), 1, 22, 16, 6, 48)));
    assert.deepEqual(r.info('blk.1.attn_kv_a_norm.weight').ne, [16]);
    assert.deepEqual(r.info('blk.1.attn_k_b.weight').ne, [8, 16, 4]);
    assert.deepEqual(r.info('blk.1.attn_v_b.weight').ne, [16, 10, 4]);
    assert.deepEqual(r.read('blk.1.attn_v_b.weight'), f16(splitKvB(P(`${a}.kv_b_proj.weight`), 4, 8, 10, 16).vB));
    assert.deepEqual(r.info('blk.1.attn_output.weight').ne, [40, 48]);
    assert.deepEqual(r.info('blk.2.exp_probs_b.bias'), { ...r.info('blk.2.exp_probs_b.bias'), ne: [8], type: 'F32' });
    assert.deepEqual(r.read('blk.2.exp_probs_b.bias'), P('model.layers.2.mlp.gate.e_score_correction_bias'));
    assert.ok(!r.tensors.some((t) => /attn_(q|k|v|kv_b)\.weight/.test(t.name)), 'absorbed MLA: no attn_q, attn_kv_b');
    assert.ok(!r.tensors.some((t) => t.name.startsWith('blk.0.') && t.name.includes('exp')), 'layer 0 is dense');
  });
  // V2: plain q_proj (q_lora_rank 0), interleaved rope (no permutation), softmax raw × 1.5; every group kept = no groups
  const v2 = makeModel({ ...V3_DIMS, mla: { ...V3_DIMS.mla, q_lora_rank: null, rope_interleave: true }, num_key_value_heads: 4,
    router: { type: 'group_limited', k: 2, scoring: 'softmax', n_group: 2, topk_group: 2, routed_scaling_factor: 1.5 } }, 15);
  exported(v2, { dtype: 'f32' }, (r) => {
    assert.deepEqual(r.metadata.get('deepseek2.attention.q_lora_rank'), { type: 'u32', value: 0 });
    assert.deepEqual(r.read('blk.0.attn_q.weight'), v2.params.get('model.layers.0.self_attn.q_proj.weight')!.data);
    assert.deepEqual(r.read('blk.0.attn_k_b.weight'), splitKvB(v2.params.get('model.layers.0.self_attn.kv_b_proj.weight')!.data, 4, 8, 10, 16).kB);
    assert.deepEqual(r.metadata.get('deepseek2.expert_gating_func'), { type: 'u32', value: 1 });
    assert.deepEqual(r.metadata.get('deepseek2.expert_weights_norm'), { type: 'bool', value: false });
    assert.deepEqual(r.metadata.get('deepseek2.expert_weights_scale'), { type: 'f32', value: 1.5 });
    assert.ok(!r.metadata.has('deepseek2.expert_group_count') && !r.tensors.some((t) => t.name.includes('exp_probs_b')));
    assert.ok(!r.metadata.has('deepseek2.rope.scaling.type'));
  });
  // --approximate Top-P on MLA: deepseek2 with renormalised softmax top-k
  const approx = plan({ ...V3_DIMS, router: { type: 'top_p', top_p: 0.5, max_k: 3 } }, { approximate: true });
  assert.deepEqual([approx.arch, approx.exact, approx.metadata.get('deepseek2.expert_weights_norm'), approx.metadata.get('deepseek2.expert_used_count')],
    ['deepseek2', false, { type: 'bool', value: true }, { type: 'u32', value: 3 }]);
  // YaRN (DeepSeek's mscale = mscale_all_dim): llama.cpp's rope.scaling keys, the log multiplier as its converter writes it
  const yarn = plan({ ...V3_DIMS, max_position_embeddings: 64, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16, beta_fast: 24, mscale: 0.7, mscale_all_dim: 0.7 } });
  const key = (k: string) => yarn.metadata.get(`deepseek2.rope.scaling.${k}`);
  assert.deepEqual([key('type'), key('factor'), key('original_context_length'), key('yarn_beta_fast'), key('yarn_beta_slow'), key('yarn_log_multiplier')], [
    { type: 'string', value: 'yarn' }, { type: 'f32', value: 4 }, { type: 'u32', value: 16 }, { type: 'f32', value: 24 }, { type: 'f32', value: 1 },
    { type: 'f32', value: 0.1 * 0.7 }]); // 0.1 · mscale_all_dim
});

test('DeepSeek models llama.cpp cannot express are refused with the reason', () => {
  const v3 = (patch: Record<string, unknown>, router: Record<string, unknown> = {}) => plan({ ...V3_DIMS, ...patch, router: { ...V3_DIMS.router, ...router } });
  refused(() => v3({}, { group_score: 'max' }), /router "group_limited" has no llama.cpp form: group_score "max" \(DeepSeek-V2 group_limited_greedy\) over 4 groups: .*sum of its two best experts/);
  refused(() => v3({ mla: null, num_key_value_heads: 4 }), /router "group_limited" \(sigmoid scores, .*\) has a llama.cpp form only in deepseek2, which needs multi-head latent attention/);
  // without MLA, plain greedy softmax (DeepSeek-V2's "greedy") is DeepSeekMoE's routing
  assert.equal(v3({ mla: null, num_key_value_heads: 4 }, { scoring: 'softmax', correction_bias: false, n_group: 1, topk_group: 1, renormalize: false, routed_scaling_factor: 1 }).arch, 'deepseek');
  refused(() => v3({ rms_norm_eps: 1e-5 }), /rms_norm_eps 0.00001: llama.cpp's deepseek2 also normalises the MLA latents with it, where DeepSeek \(and moekit\) use 0.000001/);
  refused(() => v3({ attention_bias: true }), /attention_bias on multi-head latent attention .*: llama.cpp's deepseek2 has no attention biases/);
  refused(() => v3({ first_k_dense_replace: 0, expert_frequency: 2 }), /dense layers after an MoE layer \(MoE layers 0, 2 of 3\) .*deepseek2 has dense layers only before/);
  refused(() => v3({ shared_expert_intermediate_size: 24 }), /shared expert's width 24 is not a multiple of the expert width 16: llama.cpp's deepseek2/);
  // llama.cpp's deepseek fails to load a file with attention biases (checked with node-llama-cpp)
  refused(() => plan({ ...DEEPSEEK_DIMS, attention_bias: true }), /attention_bias \(q\/k\/v\/o biases\): llama.cpp's deepseek has no attention biases/);
  refused(() => v3({}, { eval_capacity_factor: 1 }), /router "group_limited" has no exact llama.cpp equivalent: eval_capacity_factor 1 drops tokens/);
  const model = makeModel(V3_DIMS, 16);
  refused(() => planGguf({ ...model.config, num_hidden_layers: 27 }, model.params, tokenizer, {}, 'run/dir'),
    /a q LoRA \(q_lora_rank 24\) in a 27-layer model: llama.cpp's deepseek2 treats 27-layer models as DeepSeek-V2-Lite/);
  refused(() => planGguf({ ...model.config, moe: null }, model.params, tokenizer, {}, 'run/dir'), /a dense model with multi-head latent attention \(mla\) has no llama.cpp form/);
  const yarn = { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 16, beta_fast: 32, beta_slow: 1, mscale: 1, mscale_all_dim: 1, attention_factor: null, truncate: true } as const;
  const withYarn = (patch: Record<string, unknown>, config = model.config) => () => planGguf({ ...config, rope_scaling: { ...yarn, ...patch } }, model.params, tokenizer, {}, 'run/dir');
  assert.equal(withYarn({})().arch, 'deepseek2');
  // yarnMscale(4, 1) / yarnMscale(4, 0.8) = 1.1386 / 1.1109
  refused(withYarn({ mscale_all_dim: 0.8 }), /rope_scaling "yarn" \(factor 4, mscale 1, mscale_all_dim 0.8\) scales cos\/sin by 1.024\d*: llama.cpp's deepseek2 keeps them at magnitude 1/);
  refused(withYarn({ attention_factor: 1.2 }), /scales cos\/sin by 1.2: /);
  refused(withYarn({ truncate: false }), /with truncate = false: llama.cpp rounds YaRN's correction range outwards/);
  const dense = makeModel({}, 17);
  refused(() => planGguf({ ...dense.config, rope_scaling: yarn }, dense.params, tokenizer, {}, 'run/dir'), /rope_scaling "yarn" .* is exported only for multi-head latent attention \(deepseek2\)/);
});

test('RoPE scaling: linear as rope.scaling keys; llama3 as rope_freqs.weight (plain / scaled frequencies) on llama only; neither with MLA', () => {
  const llama3 = { rope_type: 'llama3', factor: 4, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
  const linear = plan({ rope_scaling: { rope_type: 'linear', factor: 3 } });
  assert.deepEqual([linear.metadata.get('llama.rope.scaling.type'), linear.metadata.get('llama.rope.scaling.factor')], [{ type: 'string', value: 'linear' }, { type: 'f32', value: 3 }]);
  assert.ok(!linear.tensors.some((t) => t.name === 'rope_freqs.weight'));
  const l3 = plan({ rope_scaling: llama3 });
  assert.equal(l3.metadata.get('llama.rope.scaling.type'), undefined, 'llama.cpp reads llama3 from the tensor alone');
  const freqs = l3.tensors.find((t) => t.name === 'rope_freqs.weight')!;
  assert.deepEqual([freqs.type, freqs.ne], ['F32', [8]]);
  // head_dim 16, theta 1e4: wavelength 2π·10^(j/2); < 16 kept (1), > 64 interpolated (factor 4), between:
  // s = (64/λ − 1)/3 mixes them, the divisor is 1 / ((1 − s)/4 + s)
  const divisors = Array.from(new Float32Array((freqs.data() as Uint8Array).slice().buffer));
  const wavelength = (j: number) => 2 * Math.PI * Math.pow(10, j / 2);
  const expected = Array.from({ length: 8 }, (_, j) => {
    const lambda = wavelength(j);
    if (lambda < 16) return 1;
    if (lambda > 64) return 4;
    const smooth = (64 / lambda - 1) / 3;
    return 1 / ((1 - smooth) / 4 + smooth);
  });
  assertClose(divisors, expected, { rel: 1e-5 });
  assert.ok(expected.some((d) => d > 1 && d < 4), 'a smoothed frequency is covered');
  refused(() => plan({ ...MOE_DIMS, expert_frequency: 1, router: { type: 'top_k', k: 2, renormalize: false }, rope_scaling: llama3 }), /rope_scaling "llama3" on llama.cpp's qwen2moe: only its llama architecture reads the rope_freqs.weight tensor/);
  const v3 = makeModel(V3_DIMS, 16);
  refused(() => planGguf({ ...v3.config, rope_scaling: { rope_type: 'linear', factor: 2 } }, v3.params, tokenizer, {}, 'run/dir'),
    /rope_scaling "linear" with multi-head latent attention: the exporter writes only YaRN for deepseek2/);
});

test('the committed HF fixtures: qwen3_moe (dense layers wider than its experts) and the three DeepSeek ones are refused with their reasons', () => {
  const root = fileURLToPath(new URL('../../../test/fixtures/hf/', import.meta.url));
  const planOf = (name: string) => () => {
    const m = loadModel(join(root, name));
    return planGguf(m.config, m.model.params, tokenizer, {}, 'run/dir');
  };
  refused(planOf('qwen3_moe'), /dense layers \(intermediate_size 40\) are wider than the experts \(moe_intermediate_size 16\); qwen3moe stores them as experts/);
  // norm_topk_prob with k = 3: renormalised weights, which deepseek never does
  refused(planOf('deepseek'), /an ungated shared expert beside renormalised top-k weights has no llama.cpp form .*deepseek: raw weights/);
  // group_limited_greedy over 4 groups (group score = max); attention_bias
  refused(planOf('deepseek_v2'), /group_score "max" \(DeepSeek-V2 group_limited_greedy\)/);
  // YaRN with mscale 1 ≠ mscale_all_dim 0.8
  refused(planOf('deepseek_v3_yarn'), /rope_scaling "yarn" \(factor 4, mscale 1, mscale_all_dim 0.8\) scales cos\/sin by 1.024/);
});

test('--approximate: a Top-P model becomes llama top-k with a warning, marked inexact', () => {
  const p = plan({ num_experts: 4, moe_intermediate_size: 48, router: { type: 'top_p', top_p: 0.4, max_k: 3 } }, { approximate: true });
  assert.equal(p.exact, false);
  assert.equal(p.warnings.length, 1);
  assert.match(p.warnings[0], /approximate export: router "top_p".*softmax → top-3 → renormalise/);
  assert.deepEqual(p.metadata.get('llama.expert_used_count'), { type: 'u32', value: 3 });
  assert.deepEqual(p.metadata.get('moekit.exact'), { type: 'bool', value: false });
  const capped = plan({ num_experts: 4, moe_intermediate_size: 48, router: { type: 'top_k', k: 1, eval_capacity_factor: 1 } }, { approximate: true, approximateK: 2 });
  assert.equal(capped.arch, 'llama');
  assert.deepEqual(capped.metadata.get('llama.expert_used_count'), { type: 'u32', value: 2 });
  refused(() => plan({ num_experts: 4, moe_intermediate_size: 48, router: { type: 'top_p', top_p: 0.5 } }, { approximate: true, approximateK: 5 }), /k = 5 must be in \[1, 4\]/);
});

test('tokenizers: pre-tokenizer without a llama.cpp label, normalizers, extra specials refused; vocab padding; add_bos/add_eos from the post-processor', () => {
  const prefixed = Tokenizer.fromJSON({ ...tokenizer.toJSON(), pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true } });
  refused(() => plan({}, {}, prefixed), /pre_tokenizer .*"add_prefix_space":true.* has no llama.cpp equivalent/, /gpt-2/);
  refused(() => plan({ vocab_size: V - 1 }), new RegExp(`the tokenizer has ${V} ids but the model's vocab_size is ${V - 1}`));
  const padded = plan({ vocab_size: V + 10 });
  const tokens = padded.metadata.get('tokenizer.ggml.tokens')!;
  const types = padded.metadata.get('tokenizer.ggml.token_type')!;
  assert.ok(tokens.type === 'array' && types.type === 'array');
  assert.deepEqual(tokens.values.slice(V), Array.from({ length: 10 }, (_, i) => `[PAD${V + i}]`));
  assert.deepEqual(types.values.slice(V - 1), [3, ...new Array(10).fill(5)]); // <|endoftext|> is the last real id

  const withJson = (patch: Record<string, unknown>) => Tokenizer.fromJSON({ ...tokenizer.toJSON(), ...patch });
  refused(() => plan({}, {}, withJson({ normalizer: { type: 'NFC' } })), /normalizer "NFC": llama.cpp's gpt2 vocabulary normalizes nothing/);
  refused(() => plan({}, {}, withJson({ model: { ...tokenizer.toJSON().model as object, byte_fallback: true } })), /byte_fallback = true is SentencePiece-style/);
  const eot = tokenizer.specialId('<|endoftext|>');
  const template = (single: unknown[]) => withJson({ post_processor: {
    type: 'TemplateProcessing', single, pair: single,
    special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [eot], tokens: ['<|endoftext|>'] } },
  } });
  const EOT = { SpecialToken: { id: '<|endoftext|>', type_id: 0 } };
  const A = { Sequence: { id: 'A', type_id: 0 } };
  const keys = (tok: Tokenizer) => {
    const m = plan({ bos_token_id: 3 }, {}, tok).metadata;
    return ['bos_token_id', 'add_bos_token', 'add_eos_token'].map((k) => (m.get(`tokenizer.ggml.${k}`) as { value: unknown }).value);
  };
  assert.deepEqual(keys(tokenizer), [3, false, false], 'ByteLevel adds nothing; bos_token_id from config.json');
  assert.deepEqual(keys(template([EOT, A])), [eot, true, false], 'a template that prepends <|endoftext|>: add_bos with that id');
  assert.deepEqual(keys(template([A, EOT])), [3, false, true]);
  refused(() => plan({}, {}, template([EOT, EOT, A])), /post-processor turns \[\d+\] into \[\d+,\d+,\d+\]; llama.cpp can only add one BOS and one EOS/);
});

function moekit(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { ...process.env, MOEKIT_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('moekit convert: writes a GGUF with a progress line; refuses Top-P in one line unless --approximate', () => {
  const dense = writeRunDir(makeModel({}, 6));
  const topP = writeRunDir(makeModel({ num_experts: 4, moe_intermediate_size: 48, router: { type: 'top_p', top_p: 0.4 } }, 7));
  try {
    const out = join(dense, 'm.gguf');
    const ok = moekit('convert', '--model', dense, '--to', 'gguf', '--dtype', 'f16', '--out', out);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^wrote .*m\.gguf: GGUF v3, arch llama, 30 tensors, f16, [\d.]+ MiB\n$/);
    assert.match(ok.stderr, /convert .* → m\.gguf \[=+\] 30\/30 \| tensor output\.weight/);
    const r = openGguf(out);
    assert.equal(r.info('blk.0.attn_q.weight').type, 'F16');
    r.close();

    const no = moekit('convert', '--model', topP, '--to', 'gguf');
    assert.equal(no.code, 1);
    const lines = no.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('moekit: native kernels unavailable'));
    assert.equal(lines.length, 1, no.stderr);
    assert.match(lines[0], /^moekit convert: error: .*router "top_p" has no exact llama.cpp equivalent.*\(pass --approximate/);

    const approx = moekit('convert', '--model', topP, '--to', 'gguf', '--approximate', '--k', '2');
    assert.equal(approx.code, 0, approx.stderr);
    assert.match(approx.stderr, /moekit convert: warning: approximate export: router "top_p"/);
    assert.match(approx.stdout, /model-f32\.gguf: .*\(approximate: see the warnings above\)/);

    assert.match(moekit('convert', '--model', dense, '--to', 'onnx').stderr, /--to must be "gguf" or "hf", got "onnx"/);
    assert.match(moekit('convert', '--model', dense, '--to', 'gguf', '--dtype', 'q4').stderr, /--dtype must be one of f32, f16, bf16, q8_0/);
  } finally {
    rmSync(dense, { recursive: true, force: true });
    rmSync(topP, { recursive: true, force: true });
  }
});
