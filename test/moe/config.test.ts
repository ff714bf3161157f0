// Router configs: defaults, range checks naming the option, unknown keys and types, NaN logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, Rng } from '../../src/tensor/index.js';
import { createRouter, parseRouterConfig, routedExperts, RoutingError, ROUTER_TYPES } from '../../src/moe/index.js';

test('defaults follow the spec: top_p 0.4 gt dropless, top_k 2 renormalised, α 1e-2, β 1e-4', () => {
  assert.deepEqual(parseRouterConfig({ type: 'top_p' }, 8), {
    type: 'top_p', top_p: 0.4, compare: 'gt', min_k: null, max_k: null, load_balance_coef: 0.01, f_norm: 'tokens',
    entropy_coef: 1e-4, z_loss_coef: 0, capacity_factor: null, eval_capacity_factor: null, capacity_mode: 'dynamic',
    k_ref: null, min_capacity: 0, bpr: false,
  });
  const topK = parseRouterConfig({ type: 'top_k' }, 8);
  assert.ok(topK.type === 'top_k' && topK.k === 2 && topK.renormalize);
  const ds = parseRouterConfig({ type: 'deepseek', shared_experts: 2, k: 6 }, 66);
  assert.equal(routedExperts(ds, 66), 64);
});

test('bad values are errors naming the option', () => {
  const bad: [object, RegExp][] = [
    [{ type: 'top_p', top_p: 0 }, /"top_p" must be in \(0, 1\], got 0/],
    [{ type: 'top_p', top_p: 1.5 }, /"top_p" must be in \(0, 1\]/],
    [{ type: 'top_p', compare: 'gte' }, /"compare" must be one of "gt", "ge"/],
    [{ type: 'top_p', min_k: 3, max_k: 2 }, /"min_k" \(3\) must not exceed "max_k"/],
    [{ type: 'top_k', k: 9 }, /"k" must be an integer in \[1, 8\], got 9/],
    [{ type: 'switch', capacity_factor: 0 }, /"capacity_factor" must be a number > 0 or null, got 0/],
    [{ type: 'switch', capacity_factor: -1 }, /"capacity_factor"/],
    [{ type: 'top_p', capacity_mode: 'static' }, /"k_ref" is required when "capacity_mode" is "static"/],
    [{ type: 'deepseek', shared_experts: 8 }, /"shared_experts" \(8\) must be less than the layer's 8 experts/],
    [{ type: 'deepseek', shared_experts: 2, k: 7 }, /"k" must be an integer in \[1, 6\]/],
    [{ type: 'deepseek', shared_experts: 2, devices: 4 }, /"devices" \(4\) must divide the 6 routed experts/],
    [{ type: 'hash', table: [0, 9] }, /"table" entry 1 must be an expert index in \[0, 8\), got 9/],
    [{ type: 'hash' }, /"table" is required/],
    [{ type: 'hash', table: [0, 1], vocab_size: 2 }, /"table" and "vocab_size"\/"seed" exclude each other/],
    [{ type: 'expert_choice', capacity_factor: 0 }, /"capacity_factor" must be a number > 0/],
    [{ type: 'dense_to_sparse', min_temperature: 3 }, /"min_temperature" \(3\) must not exceed "max_temperature"/],
  ];
  for (const [json, message] of bad) {
    assert.throws(() => parseRouterConfig(json, 8), (e: Error) => e instanceof ConfigError && message.test(e.message), JSON.stringify(json));
  }
});

test('unknown key names the nearest valid key; unknown type lists the known ones', () => {
  assert.throws(() => parseRouterConfig({ type: 'top_p', topp: 0.4 }, 8),
    (e: Error) => e instanceof ConfigError && /unknown key "topp" \(did you mean "top_p"\?\)/.test(e.message));
  assert.throws(() => parseRouterConfig({ type: 'switch', capacity_facter: 1 }, 8), /did you mean "capacity_factor"/);
  assert.throws(() => parseRouterConfig({ type: 'top_k', k: 2, capacity_mode: 'dynamic', renormalise: true }, 8), /did you mean "renormalize"/);
  assert.throws(() => parseRouterConfig({ type: 'foo' }, 8),
    (e: Error) => e instanceof ConfigError && e.message === `Unknown router "foo"; known: ${ROUTER_TYPES.join(', ')}`);
  assert.ok(ROUTER_TYPES.join(', ').startsWith('top_k, top_p'));
  assert.throws(() => parseRouterConfig({ type: 'top-p' }, 8), (e: Error) => (e as ConfigError).hint === 'did you mean "top_p"?');
  assert.throws(() => parseRouterConfig({ top_p: 0.4 }, 8), /missing "type"/);
  assert.throws(() => parseRouterConfig([], 8), /expected a JSON object/);
});

test('NaN logits are an error naming the token and expert; a wrong length is a shape error', () => {
  const router = createRouter(parseRouterConfig({ type: 'top_p' }, 3));
  const logits = Float32Array.of(0, 1, 2, 0, NaN, 1);
  assert.throws(() => router.route(logits, 2, 3, { training: true, rng: new Rng(0) }),
    (e: Error) => e instanceof RoutingError && /NaN at token 1, expert 1/.test(e.message));
  assert.throws(() => router.route(logits.subarray(0, 5), 2, 3, { training: true, rng: new Rng(0) }), /expected \[2, 3\] = 6 values, got 5/);
});
