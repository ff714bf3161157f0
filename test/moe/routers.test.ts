// The worked examples of spec §2–§14, one test per section.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hungarianAssignment } from './hungarian.js';
import { assertClose, randn, TestRng } from '../helpers.js';
import {
  balancedAssignment, balancedHashTable, clusteredHashTable, dispersedHashTable, kMeans, residualCombineBackward, gumbelTemperature, jitterFactors, kPerToken, noisyLoadProbabilities,
  parseRouterConfig, randomHashTable, residualCombineForward, ROUTERS, gshardAuxLoss, type DenseToSparseConfig,
} from '../../src/moe/index.js';
import { Rng } from '../../src/tensor/index.js';
import { logitsOf, pairsOf, routeWith, scripted } from './fixtures.js';

test('§2 top-k: z = [2, 1, 0.5, −1], k = 2, renormalised and raw; Switch picks expert 0', () => {
  const logits = Float32Array.of(2, 1, 0.5, -1);
  const renorm = routeWith({ type: 'top_k', k: 2, renormalize: true }, logits, 1, 4).out;
  assertClose(renorm.probs, [0.609460, 0.224208, 0.135989, 0.030343]);
  assert.deepEqual(Array.from(renorm.assignment.expert), [0, 1]);
  assertClose(renorm.assignment.weight, [0.731059, 0.268941]);
  const raw = routeWith({ type: 'top_k', k: 2, renormalize: false }, logits, 1, 4).out;
  assertClose(raw.assignment.weight, [0.609460, 0.224208]);
  const sw = routeWith({ type: 'switch' }, logits, 1, 4).out;
  assert.deepEqual(pairsOf(sw.assignment).map(([t, e]) => [t, e]), [[0, 0]]);
  assertClose(sw.assignment.weight, [0.609460]);
  // renormalised: only the selected logits get gradient
  const d = renorm.backward(Float32Array.of(1, -1));
  assert.deepEqual([d[2], d[3]], [0, 0]);
});

test('§3 noisy top-k: H, G and the load probabilities of the worked example; CV² example', () => {
  const logits = Float32Array.of(1.0, 2.0, 0.5, -1.0);
  const noiseLogits = new Float32Array(4); // σ = softplus(0) = ln 2
  const { out } = routeWith({ type: 'noisy_top_k', k: 2 }, logits, 1, 4,
    { training: true, rng: scripted({ normal: [0.5, -1.0, 0.2, 0.0] }), noiseLogits });
  assertClose(out.noisy!.logits, [1.346574, 1.306853, 0.638629, -1.0]);
  assert.deepEqual(Array.from(out.assignment.expert), [0, 1]);
  assertClose(out.probs, [0.509929, 0.490071, 0, 0]);
  const load = noisyLoadProbabilities(logits, noiseLogits, out.noisy!.logits, 1, 4, 2);
  assertClose(Array.from(load.threshold, (j) => out.noisy!.logits[j]), [0.638629, 0.638629, 1.306853, 1.306853]);
  assertClose(load.zScore, [0.521348, 1.964043, -1.164043, -3.328085]);
  assertClose(load.prob, [0.698938, 0.975237, 0.122203, 0.000437]);
  // inference: no noise, H = z
  const clean = routeWith({ type: 'noisy_top_k', k: 2 }, logits, 1, 4).out;
  assert.deepEqual(Array.from(clean.assignment.expert), [1, 0]);
});

test('§3 CV²: Importance [0.6, 1.6, 0.3, 0.5] ⇒ 0.448889, × 0.1 = 0.044889', async () => {
  const { cvSquared } = await import('../../src/moe/losses.js');
  const cv = cvSquared([0.6, 1.6, 0.3, 0.5]);
  assertClose(cv.value, 0.448889);
  assertClose(0.1 * cv.value, 0.044889);
});

test('§4 GShard: pass 1/pass 2 with the draws u = [0.9, 0.5, 0.1, 0.7], C = 2; aux loss', () => {
  const { logits, T, E } = logitsOf([[0.5, 0.3, 0.1, 0.1], [0.45, 0.15, 0.3, 0.1], [0.6, 0.1, 0.1, 0.2], [0.1, 0.2, 0.3, 0.4]]);
  const { out, losses } = routeWith({ type: 'gshard', capacity_factor: 1 }, logits, T, E,
    { training: true, rng: scripted({ uniform: [0.9, 0.5, 0.1, 0.7] }) });
  const a = out.assignment;
  // all pairs (dropped included): t0 e0; t1 e0, e2; t2 e0 (overflow), e3; t3 e3, e2
  assert.deepEqual(pairsOf(a).map(([t, e]) => [t, e]), [[0, 0], [1, 0], [1, 2], [2, 0], [2, 3], [3, 3], [3, 2]]);
  assert.deepEqual(Array.from(a.dropped), [0, 0, 0, 1, 0, 0, 0]);
  const survivors = pairsOf(a, true);
  assert.deepEqual(survivors.map(([t, e]) => [t, e]), [[0, 0], [1, 0], [1, 2], [2, 3], [3, 3], [3, 2]]);
  assertClose(survivors.map(([, , w]) => w), [0.625, 0.6, 0.4, 0.25, 0.571429, 0.428571]);
  const aux = gshardAuxLoss(logits, T, E, a);
  assertClose(aux.value, 1.4375); // scaled form = E · Σ (c_e/S) m_e, c = [3, 0, 0, 1], m = [0.4125, 0.1875, 0.2, 0.2]
  assertClose(aux.value / (E * E), 0.08984375); // paper form
  assertClose(losses[0].value, 1.4375);
  // two groups of S = 2: each has its own C = 2S/E = 1 and its own aux loss (mean over groups)
  const grouped = routeWith({ type: 'gshard', capacity_factor: 1, groups: 2 }, logits, T, E, { training: true, rng: scripted({ uniform: [0.9, 0.5, 0.1, 0.7] }) });
  assert.equal(grouped.out.capacity, 1);
  // group {t0, t1}: t1's first choice e0 overflows; group {t2, t3}: t2 keeps e0, its second choice e3 overflows
  assert.deepEqual(Array.from(grouped.out.assignment.dropped), [0, 1, 0, 0, 1, 0, 0]);
  const g1 = gshardAuxLoss(logits.subarray(0, 8), 2, E, routeWith({ type: 'gshard' }, logits.subarray(0, 8), 2, E).out.assignment);
  const g2 = gshardAuxLoss(logits.subarray(8), 2, E, routeWith({ type: 'gshard' }, logits.subarray(8), 2, E).out.assignment);
  assertClose(grouped.losses[0].value, (g1.value + g2.value) / 2);
  assert.throws(() => routeWith({ type: 'gshard', groups: 3 }, logits, T, E), /4 tokens do not split into 3 equal groups/);
  // inference: the second expert always
  assert.equal(routeWith({ type: 'gshard' }, logits, T, E).out.assignment.token.length, 8);
});

test('§4 GShard fairseq mode: raw g2 compared, weights normalised over the surviving pairs', () => {
  const { logits, T, E } = logitsOf([[0.5, 0.3, 0.1, 0.1]]);
  // raw g2 = 0.3: 2·0.3 = 0.6 > 0.5 ⇒ dispatched (the normalised 0.375 would be too: 0.75 > 0.5)
  const kept = routeWith({ type: 'gshard', normalize_before_drop: false }, logits, T, E, { training: true, rng: scripted({ uniform: [0.5] }) }).out;
  assertClose(kept.assignment.weight, [0.625, 0.375]);
  // 2·0.3 = 0.6 ≤ 0.7 skips (normalised 0.75 would have dispatched); the lone first choice gets weight 1
  const skipped = routeWith({ type: 'gshard', normalize_before_drop: false }, logits, T, E, { training: true, rng: scripted({ uniform: [0.7] }) }).out;
  assertClose(skipped.assignment.weight, [1]);
});

test('§5 Switch: argmax, f, P, L = 0.01225, C = 1 drops t1, gradient for t0', () => {
  const { logits, T, E } = logitsOf([[0.7, 0.1, 0.1, 0.1], [0.6, 0.2, 0.1, 0.1], [0.1, 0.5, 0.3, 0.1], [0.2, 0.2, 0.2, 0.4]]);
  const { out, losses } = routeWith({ type: 'switch', capacity_factor: 1 }, logits, T, E, { training: true });
  assert.deepEqual(Array.from(out.assignment.expert), [0, 0, 1, 3]);
  assert.deepEqual(Array.from(out.assignment.dropped), [0, 1, 0, 0]);
  assertClose(pairsOf(out.assignment, true).map(([, , w]) => w), [0.7, 0.5, 0.4]);
  const lb = losses.find((l) => l.name === 'load_balance')!;
  assertClose(lb.value, 1.225);
  assertClose(lb.coefficient * lb.value, 0.01225);
  assertClose(Array.from(lb.grad.subarray(0, 4), (g) => g * lb.coefficient), [0.0007, -0.00015, -0.0004, -0.00015]);
  // jitter factors lie in [1 − ε, 1 + ε)
  for (const f of jitterFactors(new Rng(1), 100, 0.01)) assert.ok(f >= 0.99 && f < 1.01);
});

test('§7 hash: balanced table by frequency [0, 1, 1, 1, 1, 1] with loads 50/50; dispersed; routing by token id', () => {
  const table = balancedHashTable([50, 30, 10, 5, 3, 2], 2);
  assert.deepEqual(Array.from(table), [0, 1, 1, 1, 1, 1]);
  assert.deepEqual(Array.from(dispersedHashTable([0, 0, 1, 0, 1], 2)), [0, 1, 0, 0, 1]);
  const random = randomHashTable(1000, 4, new Rng(3));
  assert.deepEqual(random, randomHashTable(1000, 4, new Rng(3)));
  assert.ok(random.every((e) => e >= 0 && e < 4));
  const { out, losses } = routeWith({ type: 'hash', table: Array.from(table) }, new Float32Array(3 * 2), 3, 2, { tokenIds: Int32Array.of(0, 5, 1) });
  assert.deepEqual(pairsOf(out.assignment), [[0, 0, 1], [1, 1, 1], [2, 1, 1]]);
  assert.deepEqual(losses, []);
  assert.throws(() => routeWith({ type: 'hash', table: [0, 1] }, new Float32Array(2), 1, 2, { tokenIds: Int32Array.of(7) }), /token 0 has id 7/);
  assert.throws(() => routeWith({ type: 'hash', table: [0, 1] }, new Float32Array(2), 1, 2), /needs the 1 input token ids/);
});

test('§7 clustered / dispersed hash from k-means clusters of token embeddings', () => {
  // ids 0, 2, 4 near (0, 0); ids 1, 3 near (10, 10)
  const embeddings = Float32Array.of(0, 0, 10, 10, 0.1, 0, 10, 10.2, 0, 0.2);
  const clusters = kMeans(embeddings, 5, 2, 2, new Rng(1));
  assert.equal(new Set([clusters[0], clusters[2], clusters[4]]).size, 1);
  assert.equal(new Set([clusters[1], clusters[3]]).size, 1);
  assert.notEqual(clusters[0], clusters[1]);
  assert.deepEqual(Array.from(clusteredHashTable(clusters)), Array.from(clusters)); // similar tokens share an expert
  assert.deepEqual(Array.from(dispersedHashTable(clusters, 2)), [0, 0, 1, 1, 0]); // and are spread by dispersed
});

test('§8 BASE: balanced optimum objective 10, greedy [0, 0, 0, 1], gate σ(3) = 0.952574', () => {
  const s = Float32Array.of(3, 1, 2, 0, 4, 3, 1, 2);
  const balanced = balancedAssignment(s, 4, 2);
  assert.equal(Array.from(balanced).reduce((sum, e, t) => sum + s[t * 2 + e], 0), 10);
  assert.deepEqual(Array.from(balanced), [0, 0, 1, 1]); // unique optimum
  const train = routeWith({ type: 'base' }, s, 4, 2, { training: true }).out.assignment;
  assert.deepEqual(Array.from(train.expert), [0, 0, 1, 1]);
  assertClose(train.weight[2], 0.952574);
  const greedy = routeWith({ type: 'base' }, s, 4, 2).out.assignment;
  assert.deepEqual(Array.from(greedy.expert), [0, 0, 0, 1]);
});

test('§8 BASE: the auction solution matches brute force on random balanced problems (T = 6, E = 3)', () => {
  const rng = new TestRng(8);
  for (let trial = 0; trial < 20; trial++) {
    const s = randn(rng, 6 * 3);
    const objective = (a: ArrayLike<number>) => Array.from(a).reduce((sum: number, e, t) => sum + s[t * 3 + e], 0);
    let best = -Infinity;
    const search = (t: number, a: number[], load: number[]) => {
      if (t === 6) { best = Math.max(best, objective(a)); return; }
      for (let e = 0; e < 3; e++) if (load[e] < 2) { load[e]++; a.push(e); search(t + 1, a, load); a.pop(); load[e]--; }
    };
    search(0, [], [0, 0, 0]);
    const solved = balancedAssignment(s, 6, 3);
    assert.deepEqual([0, 1, 2].map((e) => solved.filter((x) => x === e).length), [2, 2, 2]);
    assertClose(objective(solved), best, { abs: 1e-5 });
  }
});

// Larger problems, against the Hungarian algorithm (test/moe/hungarian.ts): the auction's objective is
// within n·ε_min = 1e-7 × the score range of the optimum, every expert holds at most ⌈T/E⌉ tokens
// (exactly T/E when E divides T), including near-ties (scores rounded to a coarse grid) and T not a
// multiple of E (padding tokens).
test('§8 BASE: the auction reaches the Hungarian optimum on random problems, near-ties and padding included', () => {
  const rng = new TestRng(81);
  for (const [T, E, grid] of [[64, 4, 0], [50, 3, 0], [97, 8, 0], [60, 5, 0.5], [33, 2, 1]]) {
    const s = randn(rng, T * E);
    if (grid) for (let i = 0; i < s.length; i++) s[i] = Math.round(s[i] / grid) * grid;
    const objective = (a: Int32Array) => a.reduce((sum: number, e, t) => sum + s[t * E + e], 0);
    const solved = balancedAssignment(s, T, E);
    const loads = Array.from({ length: E }, (_, e) => solved.filter((x) => x === e).length);
    assert.ok(loads.every((l) => l <= Math.ceil(T / E)), `T=${T} E=${E}: loads ${loads}`);
    if (T % E === 0) assert.ok(loads.every((l) => l === T / E));
    const optimum = objective(hungarianAssignment(s, T, E));
    const range = Math.max(...s, 0) - Math.min(...s, 0);
    assert.ok(objective(solved) >= optimum - 1e-7 * range - 1e-9, `T=${T} E=${E}: ${objective(solved)} < optimum ${optimum}`);
    assert.deepEqual(balancedAssignment(s, T, E), solved, 'deterministic');
  }
});

test('§9 DTS gate: τ = 2.0 selects all 4, τ = 0.3 selects {0, 1, 2}; inference top-1', () => {
  const logits = Float32Array.of(2, 1, 0, -1);
  const g = [0.1, -0.2, 0.3, 0.0];
  const uniform = g.map((x) => Math.exp(-Math.exp(-x))); // U with −log(−log U) = g
  const config = { type: 'dense_to_sparse', max_temperature: 2.0, min_temperature: 0.3, decay_steps: 100 };
  const hot = routeWith(config, logits, 1, 4, { training: true, step: 0, rng: scripted({ uniform }) }).out;
  assertClose(hot.probs, [0.467101, 0.243848, 0.189909, 0.099141]);
  assert.deepEqual(Array.from(hot.assignment.expert), [0, 1, 2, 3]);
  const cold = routeWith(config, logits, 1, 4, { training: true, step: 100, rng: scripted({ uniform }) }).out;
  assertClose(cold.probs, [0.984606, 0.012922, 0.002441, 0.000032]);
  assert.deepEqual(Array.from(cold.assignment.expert), [0, 1, 2]);
  assertClose(cold.assignment.weight, [0.984606, 0.012922, 0.002441]);
  const parsed = parseRouterConfig(config, 4) as DenseToSparseConfig;
  assertClose(gumbelTemperature(parsed, 50), 1.15);
  assertClose(gumbelTemperature({ ...parsed, schedule: 'exponential' }, 50), 2 * Math.sqrt(0.15));
  const inference = routeWith(config, logits, 1, 4).out.assignment;
  assert.deepEqual(pairsOf(inference).map(([t, e]) => [t, e]), [[0, 0]]);
});

test('§12 residual-MoE learned combine: c = [0.268941, 0.731059], y = [2.408329, −0.300752]', () => {
  const moe = Float32Array.of(0.8 * 1, 0.8 * 2); // MoE_top1 includes the gate prob 0.8
  const { y, coef } = residualCombineForward(moe, Float32Array.of(3, -1), Float32Array.of(0, 1), 1, 2);
  assertClose(coef, [0.268941, 0.731059]);
  assertClose(y, [2.408329, -0.300752]);
  assertClose(residualCombineForward(moe, Float32Array.of(3, -1), null, 1, 2).y, [3.8, 0.6]); // `sum`
  // backward: d(Σ y)/d coefficient logits against finite differences
  const mlp = Float32Array.of(3, -1);
  const sumY = (z: Float32Array) => residualCombineForward(moe, mlp, z, 1, 2).y.reduce((s, v) => s + v, 0);
  const { dCoefLogits, dMoe, dMlp } = residualCombineBackward(Float32Array.of(1, 1), moe, mlp, coef, true, 1, 2);
  const h = 1e-3;
  assertClose(dCoefLogits![0], (sumY(Float32Array.of(h, 1)) - sumY(Float32Array.of(-h, 1))) / (2 * h), { abs: 1e-4 });
  assertClose(dCoefLogits![1], -dCoefLogits![0]);
  assertClose(dMoe, [coef[0], coef[0]]);
  assertClose(dMlp, [coef[1], coef[1]]);
});

test('§13 DeepSeekMoE: routed softmax, top-K\' raw, expert- and device-level balance', () => {
  const { logits, T, E } = logitsOf([[0.4, 0.3, 0.2, 0.1], [0.35, 0.05, 0.2, 0.4]]);
  const config = { type: 'deepseek', shared_experts: 1, k: 2, devices: 2, device_balance_coef: 0.05 };
  const { out, losses } = routeWith(config, logits, T, E, {}, 5); // K_s = 1 + N' = 4 experts
  assert.deepEqual(pairsOf(out.assignment).map(([t, e]) => [t, e]), [[0, 0], [0, 1], [1, 3], [1, 0]]);
  assertClose(out.assignment.weight, [0.4, 0.3, 0.4, 0.35]);
  const byName = Object.fromEntries(losses.map((l) => [l.name, l.value]));
  assertClose(byName.expert_balance, 1.175); // f = [2, 1, 0, 1], P = [0.375, 0.175, 0.2, 0.25]
  assertClose(byName.device_balance, 1.05); // f' = [1.5, 0.5], P' = [0.55, 0.45]
});

test('§14 expert choice: T = 3, E = 3, c = 1 ⇒ t0 {e0: 0.5, e1: 0.4}, t1 nothing, t2 {e2: 0.7}', () => {
  const { logits, T, E } = logitsOf([[0.5, 0.4, 0.1], [0.3, 0.3, 0.4], [0.2, 0.1, 0.7]]);
  const { out } = routeWith({ type: 'expert_choice', capacity_factor: 1 }, logits, T, E);
  assert.deepEqual(pairsOf(out.assignment).map(([t, e]) => [t, e]), [[0, 0], [0, 1], [2, 2]]);
  assertClose(out.assignment.weight, [0.5, 0.4, 0.7]);
  assert.deepEqual(Array.from(kPerToken(out.assignment, T)), [2, 0, 1]);
  assert.equal(ROUTERS.expert_choice.keys.includes('capacity_factor'), true);
});
