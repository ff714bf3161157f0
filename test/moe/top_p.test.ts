// Top-P routing (spec §1): the worked example of §1.6, every bullet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose, randn, TestRng } from '../helpers.js';
import { entropyLoss, kPerToken, loadBalanceLoss, LOSS_COEFFICIENTS, parseRouterConfig, ROUTERS, softmaxRows, type TopPConfig } from '../../src/moe/index.js';
import { Rng } from '../../src/tensor/index.js';
import { backend, referenceBackend, setBackend, tryNativeBackend, type Backend } from '../../src/backend/index.js';
import { logitsOf, routeWith } from './fixtures.js';

const example = logitsOf([[0.5, 0.2, 0.2, 0.1], [0.1, 0.35, 0.3, 0.25], [0.28, 0.26, 0.24, 0.22]]);

test('§1.6: selections, raw weights, k per token, mean k', () => {
  const { logits, T, E } = example;
  const { out } = routeWith({ type: 'top_p', top_p: 0.4 }, logits, T, E);
  const a = out.assignment;
  assert.deepEqual(Array.from(a.token), [0, 1, 1, 2, 2]);
  assert.deepEqual(Array.from(a.expert), [0, 1, 2, 0, 1]);
  assert.deepEqual(Array.from(a.rank), [0, 0, 1, 0, 1]);
  assertClose(a.weight, [0.5, 0.35, 0.3, 0.28, 0.26]);
  assert.deepEqual(Array.from(kPerToken(a, T)), [1, 2, 2]);
  assertClose(a.token.length / T, 5 / 3);
});

test('§1.6: entropy per token and the layer dynamic loss; entropy gradient for t0', () => {
  const { logits, T, E } = example;
  const perToken = [0, 1, 2].map((t) => entropyLoss(logits.subarray(t * E, (t + 1) * E), 1, E).value);
  assertClose(perToken, [1.220607, 1.305462, 1.382286]);
  const L = entropyLoss(logits, T, E);
  assertClose(L.value, 1.302785);
  const t0 = entropyLoss(logits.subarray(0, E), 1, E).grad;
  assertClose(t0, [-0.263730, 0.077766, 0.077766, 0.108198]);
  assertClose(t0.reduce((s, g) => s + g, 0), 0);
});

test('§1.6: load balance with fNorm tokens and assignments, α·L_b', () => {
  const { logits, T, E } = example;
  const { out, losses } = routeWith({ type: 'top_p', top_p: 0.4 }, logits, T, E);
  const lb = loadBalanceLoss(logits, T, E, out.assignment);
  assertClose(lb.value, 1.831111);
  assertClose(lb.value / E, 0.457778); // Σ f Q with f = [2/3, 2/3, 1/3, 0], Q = [0.293333, 0.27, 0.246667, 0.19]
  assertClose(LOSS_COEFFICIENTS.loadBalance * lb.value, 0.018311);
  assertClose(loadBalanceLoss(logits, T, E, out.assignment, 'assignments').value, 1.098667);
  const byName = Object.fromEntries(losses.map((l) => [l.name, l]));
  assert.equal(byName.load_balance.coefficient, 1e-2);
  assert.equal(byName.entropy.coefficient, 1e-4);
  assertClose(byName.entropy.value, 1.302785);
  // entropy_coef 0 (the LB-only recipe) leaves the dynamic loss out instead of computing it for nothing
  const off = routeWith({ type: 'top_p', top_p: 0.4, entropy_coef: 0 }, logits, T, E).losses;
  assert.deepEqual(off.map((l) => l.name), ['load_balance']);
});

test('§1.6: E = 8 cumulative 0.16, 0.31, 0.45 ⇒ k = 3', () => {
  const { logits, T, E } = logitsOf([[0.16, 0.15, 0.14, 0.13, 0.12, 0.11, 0.10, 0.09]]);
  const { out } = routeWith({ type: 'top_p', top_p: 0.4 }, logits, T, E);
  assert.deepEqual(Array.from(out.assignment.expert), [0, 1, 2]);
});

/** The Top-P kernel's backends: the reference, and the native build when it loads. */
const BACKENDS: Backend[] = [referenceBackend, ...[tryNativeBackend()].filter((b) => b !== null)];

/** Runs f with b as the process backend. */
function using<R>(b: Backend, f: () => R): R {
  const before = backend();
  setBackend(b);
  try { return f(); } finally { setBackend(before); }
}

test('§1.6: float32 boundary P = [0.4, 0.3, 0.2, 0.1], p = 0.4: gt ⇒ k = 2, ge ⇒ k = 1 (every backend)', () => {
  const logits = Float32Array.from([4, 3, 2, 1], Math.log);
  for (const b of BACKENDS) {
    const probs = new Float32Array(4), order = new Int32Array(4), count = new Int32Array(1);
    for (const [inclusive, k] of [[false, 2], [true, 1]] as const) {
      b.topPRoute(probs, order, count, logits, 1, 4, 0.4, inclusive, 1, 4);
      assert.equal(probs[0], Math.fround(0.4), `${b.name}: the first mass is 0.4 in float32`);
      assert.deepEqual(Array.from(order), [0, 1, 2, 3], b.name);
      assert.equal(count[0], k, `${b.name} ${inclusive ? 'ge' : 'gt'}`);
    }
    // through the router too, on this backend: compare gt keeps {0, 1}, ge keeps {0}
    for (const [compare, experts] of [['gt', [0, 1]], ['ge', [0]]] as const) {
      const a = using(b, () => routeWith({ type: 'top_p', top_p: 0.4, compare }, logits, 1, 4).out.assignment);
      assert.deepEqual(Array.from(a.expert), experts, `${b.name} ${compare}`);
    }
  }
  // a float64 comparison would differ: 0.4f = 0.4000000059604645 > 0.4
  assert.ok(Math.fround(0.4) > 0.4);
});

/**
 * §1.1 written out directly (the oracle for the kernels): softmax, experts by probability descending
 * (ties → lower index), float32 cumulative mass until it exceeds p, clamp, raw weights.
 */
function topPByHand(logits: Float32Array, T: number, E: number, p: number, ge: boolean, minK: number, maxK: number) {
  const P = softmaxRows(logits, T, E);
  const pairs: { token: number; expert: number; weight: number; rank: number }[] = [];
  for (let t = 0; t < T; t++) {
    const order = Array.from({ length: E }, (_, j) => j).sort((a, b) => (P[t * E + b] - P[t * E + a]) || (a - b));
    let k = E;
    let c = 0;
    for (let j = 0; j < E; j++) {
      c = Math.fround(c + P[t * E + order[j]]);
      if (ge ? c >= Math.fround(p) : c > Math.fround(p)) { k = j + 1; break; }
    }
    k = Math.min(Math.max(k, minK), maxK);
    for (let r = 0; r < k; r++) pairs.push({ token: t, expert: order[r], weight: P[t * E + order[r]], rank: r });
  }
  return pairs;
}

test('§1.1: the router matches the rule written out, bit for bit, on every backend (odd T and E, gt/ge, clamps)', () => {
  const rng = new TestRng(7);
  for (const b of BACKENDS) {
    for (const [T, E] of [[1, 1], [7, 7], [33, 33], [257, 7], [5, 257]]) {
      for (const [p, compare, min_k, max_k] of [[0.4, 'gt', null, null], [0.7, 'ge', null, null], [0.2, 'gt', 1, Math.min(2, E)], [1, 'gt', Math.min(3, E), null]] as const) {
        // tied probabilities too: logits on a coarse grid
        const logits = Float32Array.from(randn(rng, T * E, 2), (z, i) => (i % 3 === 0 ? Math.round(z) : z));
        const a = using(b, () => routeWith({ type: 'top_p', top_p: p, compare, min_k, max_k }, logits, T, E).out.assignment);
        const want = topPByHand(logits, T, E, p, compare === 'ge', min_k ?? 1, max_k ?? E);
        const where = `${b.name} T=${T} E=${E} p=${p} ${compare} [${min_k}, ${max_k}]`;
        assert.deepEqual(Array.from(a.token), want.map((x) => x.token), where);
        assert.deepEqual(Array.from(a.expert), want.map((x) => x.expert), where);
        assert.deepEqual(Array.from(a.rank), want.map((x) => x.rank), where);
        assert.deepEqual(Array.from(a.weight), want.map((x) => x.weight), where);
      }
    }
  }
});

test('§1.2: the gradient w.r.t. the logits matches finite differences of Σ c·w (selection constant), every backend', () => {
  const rng = new TestRng(11);
  const T = 9, E = 7;
  const logits = randn(rng, T * E, 1.5);
  for (const b of BACKENDS) {
    const { out } = using(b, () => routeWith({ type: 'top_p', top_p: 0.6 }, logits, T, E));
    const a = out.assignment;
    const c = randn(rng, a.token.length);
    const dLogits = using(b, () => out.backward(c));
    // L(z) = Σ_i c_i softmax(z)[t_i, e_i] over the pairs selected at z, in float64
    const L = (z: Float32Array) => {
      const P = softmaxRows(z, T, E, 1, new Float64Array(T * E));
      return a.token.reduce((s, t, i) => s + c[i] * P[t * E + a.expert[i]], 0);
    };
    const h = 1e-3;
    for (let i = 0; i < T * E; i++) {
      const plus = logits.slice(), minus = logits.slice();
      plus[i] += h;
      minus[i] -= h;
      const fd = (L(plus) - L(minus)) / (plus[i] - minus[i]);
      assert.ok(Math.abs(dLogits[i] - fd) <= 1e-4 + 1e-3 * Math.abs(fd), `${b.name} dz[${i}]: ${dLogits[i]} vs ${fd}`);
    }
  }
});

test('§1.6: p = 1 keeps all 4 experts; p = 0 keeps the best one with weight P_max', () => {
  const { logits, T, E } = logitsOf([[0.1, 0.35, 0.3, 0.25]]);
  const all = routeWith({ type: 'top_p', top_p: 1 }, logits, T, E).out.assignment;
  assert.deepEqual(Array.from(all.expert), [1, 2, 3, 0]);
  assertClose(all.weight, [0.35, 0.3, 0.25, 0.1]);
  // p = 0 is rejected by the config parser (§1.5: p ∈ (0, 1]); the rule itself gives k = 1
  const config = { ...(parseRouterConfig({ type: 'top_p' }, E) as TopPConfig), top_p: 0 };
  const best = ROUTERS.top_p.route(logits, T, E, config, { training: false, rng: new Rng(0) }).assignment;
  assert.deepEqual(Array.from(best.expert), [1]);
  assertClose(best.weight, [0.35]);
});

test('§1.5: uniform P hits the bound k = ⌊pE⌋ + 1 (E = 16 ⇒ 7, E = 4 ⇒ 2); min_k / max_k clamp', () => {
  for (const [E, bound] of [[16, 7], [4, 2]]) {
    const { logits, T } = logitsOf([new Array(E).fill(1 / E)]);
    assert.equal(routeWith({ type: 'top_p' }, logits, T, E).out.assignment.token.length, bound);
  }
  const { logits, T, E } = example;
  assert.deepEqual(Array.from(kPerToken(routeWith({ type: 'top_p', max_k: 1 }, logits, T, E).out.assignment, T)), [1, 1, 1]);
  assert.deepEqual(Array.from(kPerToken(routeWith({ type: 'top_p', min_k: 2 }, logits, T, E).out.assignment, T)), [2, 2, 2]);
});

test('§1.5: k ≤ ⌊pE⌋ + 1 on random logits, for several p and E', () => {
  const rng = new TestRng(42);
  for (const E of [4, 8, 16]) {
    for (const p of [0.1, 0.4, 0.7]) {
      const T = 50;
      const { out } = routeWith({ type: 'top_p', top_p: p }, randn(rng, T * E, 2), T, E);
      for (const k of kPerToken(out.assignment, T)) assert.ok(k >= 1 && k <= Math.floor(p * E) + 1, `E ${E}, p ${p}: k = ${k}`);
    }
  }
});

test('§1.2: raw weights send gradient to every logit (unselected ones too)', () => {
  const { logits, T, E } = example;
  const { out } = routeWith({ type: 'top_p' }, logits, T, E);
  const dLogits = out.backward(new Float32Array(out.assignment.token.length).fill(1));
  assert.notEqual(dLogits[3], 0); // t0's expert 3 is not selected but gets gradient through the normaliser
});
