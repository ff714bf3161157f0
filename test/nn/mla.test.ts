// Multi-head Latent Attention: against a direct float64 reading of the HF formulas (per head, RoPE on
// adjacent pairs for interleaved checkpoints), finite-difference gradients of every parameter and the
// input, and layer 0 of the transformers DeepseekV3 fixture (embeddings → residual stream after layer 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { referenceBackend, setBackend } from '../../src/backend/index.js';
import { MultiHeadLatentAttention, mlaSoftmaxScale, ParamBuilder, RMSNorm, SwiGLUMLP, type MlaShape } from '../../src/nn/index.js';
import { add, ropeTables } from '../../src/ops/index.js';
import { readSafetensors, toFloat32 } from '../../src/io/safetensors/index.js';
import { ConfigError, Rng, ShapeError, Tensor, noGrad, withGraph } from '../../src/tensor/index.js';
import { TestRng, assertClose, randn } from '../helpers.js';
import { fixtureDir, fixtureSkip } from '../io/hf_fixture.js';

const THETA = 10000;
const dir = fixtureDir('deepseek_v3');

/** q LoRA, dv < dk, interleaved rope (the DeepSeek-V3 layout) */
const lora: MlaShape = { hidden: 10, heads: 3, qLoraRank: 5, kvLoraRank: 4, qkNopeDim: 2, qkRopeDim: 4, vHeadDim: 3,
  ropeInterleave: true, scale: mlaSoftmaxScale(6), bias: false };
/** plain q_proj, dv > dk, rope halves, YaRN-corrected scale, attention biases */
const plain: MlaShape = { hidden: 7, heads: 2, qLoraRank: null, kvLoraRank: 3, qkNopeDim: 1, qkRopeDim: 2, vHeadDim: 5,
  ropeInterleave: false, scale: mlaSoftmaxScale(3, { factor: 4, mscaleAllDim: 0.7 }), bias: true };

function build(shape: MlaShape, seed: number) {
  const params = new Map<string, Tensor>();
  const mla = new MultiHeadLatentAttention(new ParamBuilder(params, new Rng(seed)), shape, 0.4);
  for (const [name, p] of params) {
    if (name.endsWith('layernorm.weight')) p.data.set(randn(new TestRng(seed), p.size, 0.3).map((v) => 1 + v));
    if (name.endsWith('.bias')) p.data.set(randn(new TestRng(seed + 1), p.size, 0.3));
  }
  return { mla, params };
}

/** The HF formulas, float64, one head and one query at a time. */
function oracle(shape: MlaShape, params: Map<string, Tensor>, x: Float32Array, B: number, T: number, positions: Int32Array): Float64Array {
  const { hidden: H, heads: nh, qkNopeDim: dn, qkRopeDim: dr, vHeadDim: dv, kvLoraRank: kvr } = shape;
  const dk = dn + dr;
  const W = (n: string) => params.get(n)!.data;
  const lin = (v: ArrayLike<number>, name: string, out: number) => Array.from({ length: out }, (_, o) => {
    const w = W(`${name}.weight`);
    let s = params.get(`${name}.bias`)?.data[o] ?? 0;
    for (let i = 0; i < v.length; i++) s += w[o * v.length + i] * v[i];
    return s;
  });
  const norm = (v: number[], w: ArrayLike<number>) => { const ms = v.reduce((s, a) => s + a * a, 0) / v.length; return v.map((a, i) => (a / Math.sqrt(ms + 1e-6)) * w[i]); };
  const rot = (v: number[], pos: number) => {
    const out = v.slice();
    for (let j = 0; j < dr / 2; j++) {
      const angle = pos * Math.fround(1 / Math.pow(THETA, (2 * j) / dr));
      const [a, b] = shape.ropeInterleave ? [2 * j, 2 * j + 1] : [j, j + dr / 2];
      out[a] = v[a] * Math.cos(angle) - v[b] * Math.sin(angle);
      out[b] = v[b] * Math.cos(angle) + v[a] * Math.sin(angle);
    }
    return out;
  };
  const rows = Array.from({ length: B * T }, (_, r) => {
    const xr = x.subarray(r * H, (r + 1) * H);
    const q = shape.qLoraRank === null ? lin(xr, 'q_proj', nh * dk)
      : lin(norm(lin(xr, 'q_a_proj', shape.qLoraRank), W('q_a_layernorm.weight')), 'q_b_proj', nh * dk);
    const kva = lin(xr, 'kv_a_proj_with_mqa', kvr + dr);
    const kv = lin(norm(kva.slice(0, kvr), W('kv_a_layernorm.weight')), 'kv_b_proj', nh * (dn + dv));
    const kRope = rot(kva.slice(kvr), positions[r]);
    return Array.from({ length: nh }, (_, h) => ({
      q: [...q.slice(h * dk, h * dk + dn), ...rot(q.slice(h * dk + dn, (h + 1) * dk), positions[r])],
      k: [...kv.slice(h * (dn + dv), h * (dn + dv) + dn), ...kRope],
      v: kv.slice(h * (dn + dv) + dn, (h + 1) * (dn + dv)),
    }));
  });
  const out = new Float64Array(B * T * H);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const heads: number[] = [];
      for (let h = 0; h < nh; h++) {
        const q = rows[b * T + t][h].q;
        const s = Array.from({ length: t + 1 }, (_, u) => rows[b * T + u][h].k.reduce((acc, k, i) => acc + k * q[i], 0) * shape.scale);
        const m = Math.max(...s);
        const e = s.map((v) => Math.exp(v - m));
        const z = e.reduce((a, c) => a + c, 0);
        for (let j = 0; j < dv; j++) heads.push(e.reduce((acc, p, u) => acc + (p / z) * rows[b * T + u][h].v[j], 0));
      }
      out.set(lin(heads, 'o_proj', H), (b * T + t) * H);
    }
  }
  return out;
}

const layout = (B: number, T: number) => ({ batch: B, seq: T, positions: Int32Array.from({ length: B * T }, (_, i) => i % T) });

test('MLA forward = the HF formulas computed directly (LoRA q, interleaved rope; plain q, halves, YaRN scale)', () => {
  setBackend(referenceBackend);
  for (const [shape, B, T] of [[lora, 2, 5], [plain, 1, 6]] as const) {
    const { mla, params } = build(shape, 2);
    const prefixed = new Map([...params].map(([n, p]) => [n, p]));
    const x = randn(new TestRng(8), B * T * shape.hidden);
    const l = layout(B, T);
    const y = noGrad(() => Float32Array.from(mla.forward(new Tensor(x, [B * T, shape.hidden]), l, ropeTables(shape.qkRopeDim, 16, THETA)).data));
    assertClose(y, oracle(shape, prefixed, x, B, T, l.positions), { abs: 2e-6, rel: 1e-5 }, `${shape.qLoraRank === null ? 'plain' : 'lora'} output`);
  }
});

test('MLA gradients of every parameter and of the input = central finite differences', () => {
  setBackend(referenceBackend);
  for (const shape of [lora, plain]) {
    const { mla, params } = build(shape, 5);
    const B = 2;
    const T = 3;
    const x = new Tensor(randn(new TestRng(1), B * T * shape.hidden), [B * T, shape.hidden], true);
    const r = randn(new TestRng(2), B * T * shape.hidden);
    const tables = ropeTables(shape.qkRopeDim, 8, THETA);
    const loss = () => noGrad(() => mla.forward(x, layout(B, T), tables).data.reduce((s, v, i) => s + r[i] * v, 0));
    withGraph((g) => {
      const y = mla.forward(x, layout(B, T), tables);
      g.record(() => { y.grad!.set(r); }); // replayed first: dL/dy = r
      g.backward(y, 0);
    });
    const rng = new TestRng(6);
    for (const [name, p] of [...params, ['input', x] as const]) {
      assert.ok(p.grad, `${name} has a gradient`);
      for (const i of rng.sample(p.size, 6)) {
        const keep = p.data[i];
        p.data[i] = keep + 1e-2; const up = loss();
        p.data[i] = keep - 1e-2; const down = loss();
        p.data[i] = keep;
        const numeric = (up - down) / 2e-2;
        assert.ok(Math.abs(numeric - p.grad[i]) <= 2e-3 + 2e-2 * Math.abs(numeric), `${name}[${i}]: analytic ${p.grad[i]}, numeric ${numeric}`);
      }
    }
  }
});

test('MLA names its parameters as HF does and rejects impossible shapes', () => {
  assert.deepEqual([...build(lora, 1).params.keys()].sort(), ['kv_a_layernorm.weight', 'kv_a_proj_with_mqa.weight', 'kv_b_proj.weight',
    'o_proj.weight', 'q_a_layernorm.weight', 'q_a_proj.weight', 'q_b_proj.weight']);
  assert.deepEqual(build(lora, 1).params.get('kv_b_proj.weight')!.shape, [3 * (2 + 3), 4]);
  // attention_bias: q_a_proj, kv_a_proj_with_mqa and o_proj only (q_proj, q_b_proj and kv_b_proj never)
  assert.deepEqual([...build(plain, 1).params.keys()].sort(), ['kv_a_layernorm.weight', 'kv_a_proj_with_mqa.bias',
    'kv_a_proj_with_mqa.weight', 'kv_b_proj.weight', 'o_proj.bias', 'o_proj.weight', 'q_proj.weight']);
  assert.ok(build({ ...lora, bias: true }, 1).params.has('q_a_proj.bias'));
  assert.throws(() => build({ ...lora, qkRopeDim: 3 }, 1), (e: unknown) => e instanceof ConfigError && /qk_rope_head_dim must be even/.test(e.message));
  const { mla } = build(lora, 1);
  assert.throws(() => noGrad(() => mla.forward(Tensor.zeros([2, 10]), layout(1, 2), ropeTables(6, 4, THETA))), ShapeError);
  // YaRN: mscale = 0.1·0.7·ln 4 + 1, squared
  assertClose(plain.scale, (1 / Math.sqrt(3)) * (0.1 * 0.7 * Math.log(4) + 1) ** 2, { abs: 1e-12 });
});

test('DeepseekV3 fixture, layer 0: MLA + dense MLP reproduce the residual stream after layer 0', { skip: fixtureSkip('deepseek_v3') }, () => {
  setBackend(referenceBackend);
  const config = JSON.parse(readFileSync(`${dir}config.json`, 'utf8')) as Record<string, number>;
  const reference = JSON.parse(readFileSync(`${dir}reference.json`, 'utf8')) as { hidden_states_seq0: { embeddings: number[][]; layer_outputs: number[][][] } };
  const weights = readSafetensors(`${dir}model.safetensors`);
  const H = config.hidden_size;
  const params = new Map<string, Tensor>();
  const b = new ParamBuilder(params, new Rng(0)).pp('model.layers.0');
  const shape: MlaShape = { hidden: H, heads: config.num_attention_heads, qLoraRank: config.q_lora_rank, kvLoraRank: config.kv_lora_rank,
    qkNopeDim: config.qk_nope_head_dim, qkRopeDim: config.qk_rope_head_dim, vHeadDim: config.v_head_dim, ropeInterleave: true,
    scale: mlaSoftmaxScale(config.qk_nope_head_dim + config.qk_rope_head_dim), bias: false };
  const attn = new MultiHeadLatentAttention(b.pp('self_attn'), shape, 0);
  const inNorm = new RMSNorm(b.pp('input_layernorm'), H, config.rms_norm_eps);
  const postNorm = new RMSNorm(b.pp('post_attention_layernorm'), H, config.rms_norm_eps);
  const mlp = new SwiGLUMLP(b.pp('mlp'), H, config.intermediate_size, 0);
  for (const [name, p] of params) {
    const t = weights.tensors.get(name);
    assert.ok(t, `fixture has ${name}`);
    assert.deepEqual(t.shape, p.shape, name);
    p.data.set(toFloat32(t));
  }
  const { embeddings, layer_outputs } = reference.hidden_states_seq0;
  const T = embeddings.length;
  const out = noGrad(() => {
    const h = new Tensor(Float32Array.from(embeddings.flat()), [T, H]);
    const h1 = add(h, attn.forward(inNorm.forward(h), layout(1, T), ropeTables(shape.qkRopeDim, config.max_position_embeddings, THETA)));
    return Float32Array.from(add(h1, mlp.forward(postNorm.forward(h1))).data);
  });
  assertClose(out, layer_outputs[0].flat(), { abs: 1e-4, rel: 1e-4 }, 'layer 0 output');
});
