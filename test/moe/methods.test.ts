// Training methods inside the MoE layer: Residual-MoE (§12), pooled aux losses (§0), Switch input
// jitter (§5) and expert dropout (§5) — worked examples, finite differences and eval invariance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecoderLM, parseModelConfig } from '../../src/models/index.js';
import { GroupedExperts, MoELayer, jitterFactors, parseRouterConfig, residualCombine, type MoeLayerOptions, type MoeRouting } from '../../src/moe/index.js';
import { ParamBuilder, type FfnContext } from '../../src/nn/index.js';
import { dropoutFactors, scaleBy } from '../../src/ops/index.js';
import { Rng, Tensor, noGrad, withGraph } from '../../src/tensor/index.js';

const base = {
  vocab_size: 13, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 2, num_attention_heads: 2,
  num_key_value_heads: 1, max_position_embeddings: 8, initializer_range: 0.3,
};

function close(actual: ArrayLike<number>, expected: number[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `[${i}] ${actual[i]} vs ${expected[i]}`);
}

test('§12 worked example through the residualCombine op: y = [2.408329, −0.300752], gradients to all inputs', () => {
  withGraph((g) => {
    const moe = Tensor.from([0.8, 1.6], [1, 2], true); // gate prob 0.8 · E(u) = [1, 2]
    const mlp = Tensor.from([3, -1], [1, 2], true);
    const z = Tensor.from([0, 1], [1, 2], true);
    const y = residualCombine(moe, mlp, z);
    close(y.data, [2.408329, -0.300752]);
    // L = Σ y: dL/dmoe = c₀, dL/dmlp = c₁, dL/dz₀ = c₀c₁(Σmoe − Σmlp) = −dL/dz₁.
    y.ensureGrad().fill(1);
    g.backward(y);
    close(moe.grad!, [0.268941, 0.268941]);
    close(mlp.grad!, [0.731059, 0.731059]);
    const dz0 = 0.268941 * 0.731059 * (2.4 - 2);
    close(z.grad!, [dz0, -dz0]);
  });
});

test('residual: parameter names and shapes; validation names the field', () => {
  const model = new DecoderLM(parseModelConfig({ ...base, num_experts: 3, router: { type: 'switch' }, residual: 'learned' }), { seed: 1 });
  assert.deepEqual(model.params.get('model.layers.0.mlp.residual_mlp.gate_proj.weight')!.shape, [12, 8]);
  assert.deepEqual(model.params.get('model.layers.1.mlp.coefficient.weight')!.shape, [2, 8]);
  assert.deepEqual(model.params.get('model.layers.1.mlp.coefficient.bias')!.shape, [2]);
  const sum = new DecoderLM(parseModelConfig({ ...base, num_experts: 3, router: { type: 'switch' }, residual: 'sum' }), { seed: 1 });
  assert.ok(!sum.params.has('model.layers.0.mlp.coefficient.weight'));
  assert.throws(() => parseModelConfig({ ...base, num_experts: 3, router: { type: 'switch' }, residual: 'mean' }), /"residual" must be "learned", "sum" or null/);
  assert.throws(() => parseModelConfig({ ...base, num_experts: 3, router: { type: 'switch' }, residuals: 'sum' }), /did you mean "residual"/);
});

test('§0 pooled: one load-balance loss over the concatenated (layer, token) rows, by hand; not the per-layer sum', () => {
  const E = 4;
  const extra = { num_experts: E, router: { type: 'top_k', k: 2, load_balance_coef: 1 } };
  const pooled = new DecoderLM(parseModelConfig({ ...base, ...extra, router_aux_loss_reduction: 'pooled' }), { seed: 4 });
  const summed = new DecoderLM(parseModelConfig({ ...base, ...extra }), { seed: 4 }); // same weights
  const ids = Int32Array.from([1, 5, 2, 9, 4, 4, 0, 12]);
  const targets = Int32Array.from([5, 2, 9, 4, 4, 0, 12, 3]);
  noGrad(() => {
    const r = pooled.loss(ids, targets, 2, 4);
    // By hand: f_i = pairs of expert i / ΣT, P_i = mean over the ΣT rows of softmax(z), L = E·Σ f_i P_i.
    const layers = r.reports.map((rep) => rep.routing as MoeRouting);
    assert.ok(layers.every((l) => l.deferred));
    const rows = layers.reduce((s, l) => s + l.T, 0);
    const f = new Float64Array(E);
    const P = new Float64Array(E);
    for (const l of layers) {
      for (const e of l.output.assignment.expert) f[e] += 1 / rows;
      const z = l.deferred!.logits;
      for (let t = 0; t < l.T; t++) {
        const row = Array.from(z.subarray(t * E, (t + 1) * E));
        const m = Math.max(...row);
        const ex = row.map((v) => Math.exp(v - m));
        const s = ex.reduce((a, b) => a + b, 0);
        ex.forEach((v, i) => { P[i] += v / s / rows; });
      }
    }
    const expected = E * f.reduce((s, fi, i) => s + fi * P[i], 0);
    assert.ok(Math.abs(r.auxTotal - expected) < 1e-5, `pooled ${r.auxTotal} vs by hand ${expected}`);
    assert.equal(r.reports[0].auxLosses.load_balance, r.auxTotal);
    const perLayer = summed.loss(ids, targets, 2, 4).auxTotal;
    assert.ok(Math.abs(perLayer - r.auxTotal) > 1e-4, `pooled ${r.auxTotal} must differ from the per-layer sum ${perLayer}`);
  });
  assert.throws(() => parseModelConfig({ ...base, num_experts: [2, 4], router: { type: 'top_k', k: 1 }, router_aux_loss_reduction: 'pooled' }),
    /"pooled" needs one expert count/);
  assert.throws(() => parseModelConfig({ ...base, num_experts: 4, router: { type: 'noisy_top_k' }, router_aux_loss_reduction: 'pooled' }),
    /not defined for the noisy_top_k/);
});

/** One MoE layer on its own (d = 6, E = 3, expert width 5) and a context for it. */
function soloLayer(router: Record<string, unknown>, extra: Partial<MoeLayerOptions> = {}) {
  const rng = new Rng(77);
  const layer = new MoELayer(new ParamBuilder(new Map(), new Rng(2)), 0, {
    numExperts: 3, hidden: 6, expertWidth: 5, router: parseRouterConfig(router, 3), initStd: 0.5, routerInitStd: 0.5, auxScale: 1,
    pooledAux: false, residual: null, residualWidth: 0, expertDropout: 0, sharedWidth: 0, sharedGate: false, rng, ...extra,
  });
  const T = 4;
  const u = Tensor.from(Array.from({ length: T * 6 }, (_, i) => Math.sin(i + 1)), [T, 6], true);
  const ctx = (training: boolean): FfnContext => ({
    layer: 0, ids: new Int32Array(T), layout: { batch: 1, seq: T, positions: new Int32Array(T) }, training, step: 0, reports: [],
  });
  return { layer, rng, u, T, ctx };
}

/** FFN_e(x) = W_down,e (silu(W_gate,e x) ⊙ W_up,e x) for one row, by hand (§0). */
function expertByHand(layer: MoELayer, e: number, x: ArrayLike<number>): number[] {
  const { gate, up, down } = layer.experts;
  const [, I, d] = gate.shape;
  const h = Array.from({ length: I }, (_, j) => {
    let g = 0;
    let v = 0;
    for (let i = 0; i < d; i++) {
      g += gate.data[(e * I + j) * d + i] * x[i];
      v += up.data[(e * I + j) * d + i] * x[i];
    }
    return (g / (1 + Math.exp(-g))) * v;
  });
  return Array.from({ length: d }, (_, i) => h.reduce((s, hj, j) => s + down.data[(e * d + i) * I + j] * hj, 0));
}

test('§5 Switch jitter: in training the router sees u ⊙ U(1−ε, 1+ε) from the layer rng; experts see u; eval has none', () => {
  const eps = 0.5;
  const { layer, rng, u, T, ctx } = soloLayer({ type: 'switch', jitter_eps: eps });
  const replay = new Rng(0);
  replay.setState(rng.getState());
  const factors = jitterFactors(replay, u.size, eps);
  noGrad(() => {
    const c = ctx(true);
    const y = layer.forward(u, c);
    const out = (c.reports[0].routing as MoeRouting).output;
    const W = layer.gate.weight.data; // [E, d]
    for (let t = 0; t < T; t++) {
      const z = [0, 1, 2].map((e) => { let s = 0; for (let i = 0; i < 6; i++) s += W[e * 6 + i] * u.data[t * 6 + i] * factors[t * 6 + i]; return s; });
      const m = Math.max(...z);
      const p = z.map((v) => Math.exp(v - m));
      const sum = p.reduce((a, b) => a + b, 0);
      close(out.probs.subarray(t * 3, t * 3 + 3), p.map((v) => v / sum));
      const e = out.assignment.expert[t];
      close(y.data.subarray(t * 6, t * 6 + 6), expertByHand(layer, e, u.data.subarray(t * 6, t * 6 + 6)).map((v) => (v * p[e]) / sum), 1e-4);
    }
    assert.deepEqual(rng.getState(), replay.getState(), 'the draws come from the layer rng');
    const before = rng.getState();
    layer.forward(u, ctx(false));
    assert.deepEqual(rng.getState(), before, 'no jitter (no draws) in evaluation');
  });
});

test('§5 expert dropout: factors are 0 w.p. p else 1/(1−p); the experts\' gradient through a fixed mask matches finite differences', () => {
  const f = dropoutFactors(new Rng(3), 20000, 0.4);
  const zeros = f.filter((v) => v === 0).length / f.length;
  assert.ok(Math.abs(zeros - 0.4) < 0.02, `dropped fraction ${zeros}`);
  assert.ok(f.every((v) => v === 0 || Math.abs(v - 1 / 0.6) < 1e-6));

  const experts = new GroupedExperts(new ParamBuilder(new Map(), new Rng(4)), 2, 3, 4, 0.7);
  const offsets = Int32Array.of(0, 2, 5);
  const x = Tensor.from(Array.from({ length: 15 }, (_, i) => Math.cos(i)), [5, 3], true);
  const c = Array.from({ length: 15 }, (_, i) => 0.3 * i - 2); // L = Σ c ⊙ y
  const loss = () => noGrad(() => experts.forward(x, offsets, { p: 0.5, rng: new Rng(11) }).data.reduce((s, v, i) => s + c[i] * v, 0));
  withGraph((g) => {
    const y = experts.forward(x, offsets, { p: 0.5, rng: new Rng(11) }); // the same mask every call
    g.backward(scaleBy(y, Float32Array.from(c))); // seed 1 on c ⊙ y ⇒ dL/dy = c
  });
  const eps = 1e-3;
  for (const t of [x, experts.gate, experts.down]) {
    for (let i = 0; i < t.size; i += 3) {
      const keep = t.data[i];
      t.data[i] = keep + eps;
      const up = loss();
      t.data[i] = keep - eps;
      const down = loss();
      t.data[i] = keep;
      const numeric = (up - down) / (2 * eps);
      assert.ok(Math.abs(numeric - t.grad![i]) < 2e-3 + 2e-2 * Math.abs(numeric), `[${i}] analytic ${t.grad![i]} vs numeric ${numeric}`);
    }
  }
});

test('§5 expert dropout acts in training only: evaluation output equals the model without dropout, no rng draws', () => {
  const plain = soloLayer({ type: 'top_k', k: 2 });
  const dropped = soloLayer({ type: 'top_k', k: 2 }, { expertDropout: 0.4 });
  noGrad(() => {
    const before = dropped.rng.getState();
    close(dropped.layer.forward(dropped.u, dropped.ctx(false)).data, Array.from(plain.layer.forward(plain.u, plain.ctx(false)).data), 0);
    assert.deepEqual(dropped.rng.getState(), before);
    const train = dropped.layer.forward(dropped.u, dropped.ctx(true)).data;
    const evalOut = plain.layer.forward(plain.u, plain.ctx(false)).data;
    assert.ok(train.some((v, i) => Math.abs(v - evalOut[i]) > 1e-6), 'training output is perturbed');
  });
  assert.throws(() => parseModelConfig({ ...base, num_experts: 3, router: { type: 'switch' }, expert_dropout: 1 }), /"expert_dropout" must be a number in \[0, 1\)/);
});
