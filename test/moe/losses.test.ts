// Aux losses (spec §6 z-loss, layer reduction of §0) and the combination of a layer's losses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClose } from '../helpers.js';
import { loadBalanceLoss, LOSS_COEFFICIENTS, poolLayers, reduceLayers, weightedTotal, zLoss } from '../../src/moe/index.js';
import { logitsOf, routeWith } from './fixtures.js';

test('§6 z-loss: lse [3.407606, 1.098612], L_z = 6.409364, ×1e-3, gradient for x0', () => {
  const L = zLoss(Float32Array.of(1, 2, 3, 0, 0, 0), 2, 3);
  assertClose(L.value, 6.409364);
  assertClose(LOSS_COEFFICIENTS.zLoss * L.value, 0.006409, { abs: 5e-7 });
  assertClose(L.grad.subarray(0, 3), [0.306789, 0.833938, 2.266879]);
});

test('coefficient defaults: LB 1e-2, entropy 1e-4, z 1e-3; weightedTotal = Σ coefficient · value', () => {
  assert.deepEqual([LOSS_COEFFICIENTS.loadBalance, LOSS_COEFFICIENTS.entropy, LOSS_COEFFICIENTS.zLoss], [1e-2, 1e-4, 1e-3]);
  const { logits, T, E } = logitsOf([[0.5, 0.2, 0.2, 0.1], [0.1, 0.35, 0.3, 0.25], [0.28, 0.26, 0.24, 0.22]]);
  const { losses } = routeWith({ type: 'top_p', z_loss_coef: 1e-3 }, logits, T, E);
  assert.deepEqual(losses.map((l) => l.name), ['load_balance', 'entropy', 'z_loss']);
  const total = weightedTotal(losses, T, E);
  assertClose(total.value, 1e-2 * 1.831111 + 1e-4 * 1.302785 + 1e-3 * losses[2].value, { abs: 1e-8 });
  for (let i = 0; i < T * E; i++) assertClose(total.grad[i], losses.reduce((s, l) => s + l.coefficient * l.grad[i], 0), { abs: 1e-9 });
});

test('layer reduction: sum, mean and pooled (pooled ≠ sum or mean of per-layer losses)', () => {
  const layer1 = logitsOf([[0.7, 0.1, 0.1, 0.1], [0.6, 0.2, 0.1, 0.1]]);
  const layer2 = logitsOf([[0.1, 0.5, 0.3, 0.1], [0.2, 0.2, 0.2, 0.4], [0.1, 0.1, 0.1, 0.7]]);
  const layers = [layer1, layer2].map(({ logits, T, E }) => ({ logits, T, assignment: routeWith({ type: 'switch' }, logits, T, E).out.assignment }));
  const perLayer = layers.map((l) => loadBalanceLoss(l.logits, l.T, 4, l.assignment));
  const sum = reduceLayers(perLayer, 'sum');
  const mean = reduceLayers(perLayer, 'mean');
  assertClose(sum.value, perLayer[0].value + perLayer[1].value);
  assertClose(mean.value, sum.value / 2);
  assertClose(mean.grads[1], perLayer[1].grad.map((g) => g / 2));
  const pooled = poolLayers(layers, 4);
  assert.equal(pooled.T, 5);
  assert.deepEqual(Array.from(pooled.assignment.token), [0, 1, 2, 3, 4]);
  const L = loadBalanceLoss(pooled.logits, pooled.T, 4, pooled.assignment);
  // one loss over the 5 pooled rows: f = [2, 1, 0, 2]/5, Q = column means of all rows
  const Q = [1.7 / 5, 1.1 / 5, 0.8 / 5, 1.4 / 5];
  assertClose(L.value, 4 * (0.4 * Q[0] + 0.2 * Q[1] + 0 * Q[2] + 0.4 * Q[3]));
  assert.ok(Math.abs(L.value - sum.value) > 0.1 && Math.abs(L.value - mean.value) > 1e-3);
  const [g1, g2] = pooled.split(L.grad);
  assert.deepEqual([g1.length, g2.length], [8, 12]);
  assertClose(g2, L.grad.subarray(8));
});
