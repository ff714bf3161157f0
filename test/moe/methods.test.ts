// Training methods inside the MoE layer: Residual-MoE (§12), pooled aux losses (§0), Switch input
// jitter (§5) and expert dropout (§5) — worked examples, finite differences and eval invariance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecoderLM, parseModelConfig } from '../../src/models/index.js';
import { residualCombine, type MoeRouting } from '../../src/moe/index.js';
import { Tensor, noGrad, withGraph } from '../../src/tensor/index.js';

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
