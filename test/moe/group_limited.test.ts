// DeepSeek-V2/V3 group-limited routing: hand-computed examples, config validation, finite-difference
// gradients of the weights and the balance loss, and the transformers 5.17 DeepseekV3 fixture
// (shared/fixtures/deepseek_v3: router logits of every MoE layer → the experts and weights the model used).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ConfigError, Rng, ShapeError } from '../../src/tensor/index.js';
import { createRouter, effectiveWeights, parseRouterConfig, routedExperts } from '../../src/moe/index.js';
import { readSafetensors, toFloat32 } from '../../src/io/safetensors/index.js';
import { assertClose, randn, TestRng } from '../helpers.js';
import { checkGradient } from './finite_difference.js';
import { logitsOf, routeWith } from './fixtures.js';
import { fixtureDir, fixtureSkip } from '../io/hf_fixture.js';

const dir = fixtureDir('deepseek_v3');

/** Logits z = logit(s) row by row, so sigmoid(z) = s. */
const sigmoidLogits = (s: number[]) => Float32Array.from(s, (p) => Math.log(p / (1 - p)));

const V3 = { type: 'group_limited', k: 3, scoring: 'sigmoid', n_group: 4, topk_group: 2, group_score: 'top2_sum',
  renormalize: true, routed_scaling_factor: 2.5 } as const;

test('V2 group_limited_greedy (softmax, group max, raw × scaling) vs plain greedy: hand-computed', () => {
  // groups {0,1} {2,3} {4,5}: maxima 0.30, 0.20, 0.25 → keep groups 0 and 2 → experts 1, 4, then 0 (not 2)
  const { logits, T, E } = logitsOf([[0.06, 0.30, 0.20, 0.15, 0.25, 0.04]]);
  const limited = routeWith({ type: 'group_limited', k: 3, n_group: 3, topk_group: 2, routed_scaling_factor: 2 }, logits, T, E).out;
  assert.deepEqual(Array.from(limited.assignment.expert), [1, 4, 0]);
  assertClose(limited.assignment.weight, [0.6, 0.5, 0.12], { abs: 1e-6 });
  const greedy = routeWith({ type: 'group_limited', k: 3, routed_scaling_factor: 2 }, logits, T, E).out;
  assert.deepEqual(Array.from(greedy.assignment.expert), [1, 4, 2]);
  assertClose(greedy.assignment.weight, [0.6, 0.5, 0.4], { abs: 1e-6 });
});

test('V3 noaux_tc (sigmoid, top-2 group sums, selection bias, renormalised × 2.5): hand-computed', () => {
  const logits = sigmoidLogits([0.9, 0.1, 0.6, 0.5, 0.7, 0.62, 0.2, 0.3]);
  const selectionBias = Float32Array.of(0, 0, 0, 0, 0, 0, 0.45, 0.5);
  // c = [0.9, 0.1, 0.6, 0.5, 0.7, 0.62, 0.65, 0.8]; top-2 sums 1.0, 1.1, 1.32, 1.45 → groups 2, 3
  // → experts 7 (0.8), 4 (0.7), 6 (0.65); weights s = 0.3, 0.7, 0.2 (no bias) / 1.2 × 2.5
  const biased = routeWith(V3, logits, 1, 8, { selectionBias }).out;
  assert.deepEqual(Array.from(biased.assignment.expert), [7, 4, 6]);
  assertClose(biased.assignment.weight, [0.625, 1.4583333, 0.4166667], { abs: 1e-6 });
  // no bias: sums 1.0, 1.1, 1.32, 0.5 → groups 1, 2 → experts 4, 5, 2
  const plain = routeWith(V3, logits, 1, 8).out;
  assert.deepEqual(Array.from(plain.assignment.expert), [4, 5, 2]);
  assertClose(plain.assignment.weight, [0.7, 0.62, 0.6].map((s) => (s / 1.92) * 2.5), { abs: 1e-6 });
  // group max with the bias: 0.9, 0.6, 0.7, 0.8 → groups 0, 3 → experts 0, 7, 6
  const max = routeWith({ ...V3, group_score: 'max' }, logits, 1, 8, { selectionBias }).out;
  assert.deepEqual(Array.from(max.assignment.expert), [0, 7, 6]);
});

test('config: defaults, shared experts, and clear errors for impossible groupings', () => {
  const d = parseRouterConfig({ type: 'group_limited' }, 6);
  assert.deepEqual([d.type === 'group_limited' && d.k, routedExperts(d, 6)], [2, 6]);
  const withShared = parseRouterConfig({ ...V3, shared_experts: 1, correction_bias: true }, 9);
  assert.equal(routedExperts(withShared, 9), 8);
  const bad: [object, RegExp][] = [
    [{ n_group: 3 }, /"n_group" \(3\) must divide the 8 routed experts/],
    [{ topk_group: 5 }, /"topk_group" must be an integer in \[1, 4\]/],
    [{ k: 5 }, /"k" \(5\) exceeds the 4 experts of the 2 kept groups of 2/],
    [{ n_group: 8, topk_group: 4 }, /"group_score" "top2_sum" needs at least 2 experts per group/],
    [{ scoring: 'tanh' }, /"scoring" must be one of "softmax", "sigmoid"/],
    [{ routed_scaling_factor: 0 }, /"routed_scaling_factor" must be a number > 0/],
    [{ n_groups: 4 }, /unknown key "n_groups" \(did you mean "n_group"\?\)/],
  ];
  for (const [extra, message] of bad) assert.throws(() => parseRouterConfig({ ...V3, ...extra }, 8), (e: unknown) => e instanceof ConfigError && message.test(e.message));
  assert.throws(() => routeWith(V3, new Float32Array(8), 1, 8, { selectionBias: new Float32Array(7) }), ShapeError);
});

test('backward of the weights and the balance loss = finite differences (V2 and V3 forms)', () => {
  const T = 7;
  const E = 8;
  const rng = new TestRng(3);
  const z = randn(rng, T * E, 1.5);
  const selectionBias = randn(rng, E, 0.1);
  const configs = [
    { ...V3, balance_coef: 1e-3 },
    { ...V3, renormalize: false, capacity_factor: 1, eval_capacity_factor: 1 },
    { type: 'group_limited', k: 3, n_group: 4, topk_group: 2, routed_scaling_factor: 16, balance_coef: 1e-3 },
    { type: 'group_limited', k: 2, renormalize: true, routed_scaling_factor: 1.5 },
  ];
  for (const json of configs) {
    const router = createRouter(parseRouterConfig(json, E));
    const ctx = { training: true, rng: new Rng(1), selectionBias };
    const r = randn(rng, T * 3);
    const run = (x: Float32Array) => {
      const out = router.route(x, T, E, ctx);
      return { out, a: out.assignment, losses: router.auxLosses(out, x, T, E, ctx) };
    };
    const { out, losses } = run(z);
    const weighted = (x: Float32Array) => {
      const o = run(x);
      return { value: effectiveWeights(o.a).reduce((s, w, i) => s + r[i] * w, 0), assignment: o.a };
    };
    assert.ok(checkGradient('Σ r·w', z, out.backward(r.subarray(0, out.assignment.token.length)), weighted, out.assignment, E) >= z.length / 2, JSON.stringify(json));
    assert.equal(losses.length, 'balance_coef' in json ? 1 : 0);
    for (const [li, loss] of losses.entries()) {
      assert.ok(checkGradient(loss.name, z, loss.grad, (x) => { const o = run(x); return { value: o.losses[li].value, assignment: o.a }; }, out.assignment, E) >= z.length / 2);
    }
  }
});

test('DeepSeek-V3 balance loss, sigmoid form: a hand-computed value', () => {
  // T = 1, E = 2, k = 1: s = [0.75, 0.25] → s' = s (Σ = 1); expert 0 chosen: f = [2, 0] → Σ f P = 1.5
  const { losses } = routeWith({ type: 'group_limited', k: 1, scoring: 'sigmoid', balance_coef: 1 }, sigmoidLogits([0.75, 0.25]), 1, 2);
  assertClose(losses[0].value, 1.5, { abs: 1e-6 });
});

interface FixtureMoe { layer: number; router_logits: number[][]; topk_indices: number[][]; topk_weights: number[][] }

test('transformers DeepseekV3 fixture: same experts and weights for every token of every MoE layer', { skip: fixtureSkip('deepseek_v3') }, () => {
  const reference = JSON.parse(readFileSync(`${dir}reference.json`, 'utf8')) as { sequences: { moe: FixtureMoe[] }[] };
  const config = JSON.parse(readFileSync(`${dir}config.json`, 'utf8')) as Record<string, number>;
  const weights = readSafetensors(`${dir}model.safetensors`);
  const E = config.n_routed_experts;
  const router = createRouter(parseRouterConfig({
    ...V3, k: config.num_experts_per_tok, n_group: config.n_group, topk_group: config.topk_group,
    routed_scaling_factor: config.routed_scaling_factor, shared_experts: config.n_shared_experts, correction_bias: true,
  }, E + config.n_shared_experts));
  let tokens = 0;
  for (const [si, seq] of reference.sequences.entries()) {
    for (const moe of seq.moe) {
      const bias = weights.tensors.get(`model.layers.${moe.layer}.mlp.gate.e_score_correction_bias`);
      assert.ok(bias, `bias of layer ${moe.layer}`);
      const T = moe.router_logits.length;
      const out = router.route(Float32Array.from(moe.router_logits.flat()), T, E, { training: false, rng: new Rng(0), selectionBias: toFloat32(bias) });
      const k = config.num_experts_per_tok;
      for (let t = 0; t < T; t++) {
        // the fixture lists a token's experts by descending weight (ties: lower id)
        const pairs = Array.from({ length: k }, (_, j) => [out.assignment.expert[t * k + j], out.assignment.weight[t * k + j]]);
        pairs.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
        const where = `sequence ${si}, layer ${moe.layer}, token ${t}`;
        assert.deepEqual(pairs.map((p) => p[0]), moe.topk_indices[t], where);
        assertClose(pairs.map((p) => p[1]), moe.topk_weights[t], { abs: 1e-6, rel: 1e-5 }, where);
        tokens++;
      }
    }
  }
  assert.equal(tokens, 2 * (7 + 12));
});
