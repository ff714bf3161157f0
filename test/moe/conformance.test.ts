// One conformance suite for every registered router (design.md example 3). It iterates ROUTER_TYPES, so
// a new router is covered by registering it: default config, training and inference, with and without
// capacity where the router accepts it, on random logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/index.js';
import {
  createRouter, effectiveWeights, kPerToken, parseRouterConfig, routedExperts, validateAssignment,
  ROUTER_TYPES, ROUTERS, type RouterConfig, type RouterContext, type RouterType,
} from '../../src/moe/index.js';
import { TestRng, randn, randInt } from '../helpers.js';
import { checkGradient } from './finite_difference.js';

const T = 9;
const NUM_EXPERTS = 6;
const VOCAB = 50;
/** Options a router cannot run without (everything else is its defaults). */
const REQUIRED: Partial<Record<RouterType, object>> = { hash: { vocab_size: VOCAB, seed: 7 } };
/** Routers whose tokens may get no expert even without capacity (expert choice: experts pick tokens). */
const ZERO_K_ALLOWED: ReadonlySet<RouterType> = new Set(['expert_choice']);

interface Case { name: string; config: RouterConfig; E: number; training: boolean; capacityOn: boolean }

function cases(): Case[] {
  const out: Case[] = [];
  for (const type of ROUTER_TYPES) {
    const variants: [string, object][] = [['default', {}]];
    if (ROUTERS[type].keys.includes('capacity_mode')) variants.push(['capacity 1.0', { capacity_factor: 1.0, eval_capacity_factor: 1.0 }]);
    if (ROUTERS[type].keys.includes('groups')) variants.push(['3 groups, capacity 1.0', { groups: 3, capacity_factor: 1.0, eval_capacity_factor: 1.0 }]);
    for (const [label, extra] of variants) {
      const config = parseRouterConfig({ type, ...REQUIRED[type], ...extra }, NUM_EXPERTS);
      const E = routedExperts(config, NUM_EXPERTS);
      for (const training of [true, false]) {
        out.push({ name: `${type} (${label}, ${training ? 'training' : 'inference'})`, config, E, training, capacityOn: label.includes('capacity') });
      }
    }
  }
  return out;
}

function inputs(seed: number, E: number) {
  const rng = new TestRng(seed);
  return { logits: randn(rng, T * E, 1.5), noiseLogits: randn(rng, T * E, 0.5), tokenIds: randInt(rng, T, 0, VOCAB) };
}

function run(c: Case, logits: Float32Array, noiseLogits: Float32Array, tokenIds: Int32Array, seed = 11) {
  const router = createRouter(c.config);
  const ctx: RouterContext = { training: c.training, rng: new Rng(seed), tokenIds, noiseLogits, step: 3 };
  const out = router.route(logits, T, c.E, ctx);
  return { out, losses: router.auxLosses(out, logits, T, c.E, ctx) };
}

for (const c of cases()) {
  test(`conformance: ${c.name}`, () => {
    const { logits, noiseLogits, tokenIds } = inputs(5, c.E);
    const { out, losses } = run(c, logits, noiseLogits, tokenIds);
    const a = out.assignment;

    // valid pairs, weights finite and >= 0, probs finite
    validateAssignment(a, T, c.E);
    assert.equal(out.probs.length, T * c.E);
    assert.ok(out.probs.every((p) => Number.isFinite(p) && p >= 0), 'probs finite and >= 0');

    // 1 ≤ k ≤ E before drops (0 only where the method allows it)
    for (const k of kPerToken(a, T)) {
      assert.ok(k <= c.E && (k >= 1 || ZERO_K_ALLOWED.has(c.config.type)), `k = ${k} outside [1, ${c.E}]`);
    }
    if (!c.capacityOn) assert.ok(a.dropped.every((d) => d === 0), 'dropless by default');

    // capacity respected: no expert keeps more than C pairs of a routing group
    if (c.capacityOn) {
      assert.equal(typeof out.capacity, 'number', 'capacity reported');
      const groups = 'groups' in c.config ? c.config.groups : 1;
      const load = new Int32Array(groups * c.E);
      for (let i = 0; i < a.token.length; i++) if (!a.dropped[i]) load[Math.floor(a.token[i] / (T / groups)) * c.E + a.expert[i]]++;
      for (const n of load) assert.ok(n <= out.capacity!, `load ${n} > C = ${out.capacity}`);
    }

    // same seed ⇒ same result (bit for bit)
    const again = run(c, logits, noiseLogits, tokenIds).out;
    assert.deepEqual(again.assignment, a);
    assert.deepEqual(again.probs, out.probs);

    // backward = finite-difference gradient of Σ r · (effective) weights w.r.t. the logits
    const r = randn(new TestRng(9), a.token.length);
    const weighted = (x: Float32Array) => {
      const o = run(c, x, noiseLogits, tokenIds).out;
      return { value: effectiveWeights(o.assignment).reduce((s, w, i) => s + r[i] * w, 0), assignment: o.assignment };
    };
    const checked = checkGradient('Σ r·w', logits, out.backward(r), weighted, a, c.E);
    assert.ok(checked >= logits.length / 2, `only ${checked} of ${logits.length} coordinates checked`);
    if (out.backwardNoise) {
      const noisy = (n: Float32Array) => {
        const o = run(c, logits, n, tokenIds).out;
        return { value: effectiveWeights(o.assignment).reduce((s, w, i) => s + r[i] * w, 0), assignment: o.assignment };
      };
      checkGradient('Σ r·w (noise logits)', noiseLogits, out.backwardNoise(r), noisy, a, c.E);
    }

    // every aux loss: finite value, gradient = finite differences w.r.t. the logits (and noise logits)
    for (const [li, loss] of losses.entries()) {
      assert.ok(Number.isFinite(loss.value) && loss.coefficient >= 0, `${loss.name} finite`);
      const value = (x: Float32Array) => { const o = run(c, x, noiseLogits, tokenIds); return { value: o.losses[li].value, assignment: o.out.assignment }; };
      checkGradient(`${loss.name}`, logits, loss.grad, value, a, c.E);
      if (loss.gradNoise) {
        const valueN = (n: Float32Array) => { const o = run(c, logits, n, tokenIds); return { value: o.losses[li].value, assignment: o.out.assignment }; };
        checkGradient(`${loss.name} (noise logits)`, noiseLogits, loss.gradNoise, valueN, a, c.E);
      }
    }
  });
}

test('conformance covers every registered router', () => {
  assert.deepEqual([...new Set(cases().map((c) => c.config.type))], ROUTER_TYPES);
});
