// DeepSeekMoE routing (spec §13; Dai et al., arXiv 2401.06066): K_s shared experts are always active and
// unweighted (the MoE layer runs them as one dense MLP); the router sees only the N' = N − K_s routed
// experts: s = softmax over them, top-K' with the raw s as weights (no renormalisation).
// The logits are [T, N'] and the Assignment's expert indices are routed-expert indices 0..N'−1.
import { AssignmentBuilder } from '../assignment.js';
import { applyCapacity, DROPLESS } from '../capacity.js';
import { CAPACITY_KEYS, readCapacity, type CapacityConfig } from '../config.js';
import { deepseekDeviceBalanceLoss, deepseekExpertBalanceLoss, zLossTerm } from '../losses.js';
import { descendingOrder, softmaxRows } from '../math.js';
import { rawProbBackward } from './backward.js';
import type { AuxLoss, RouterModule } from './types.js';

export interface DeepSeekConfig extends CapacityConfig {
  type: 'deepseek';
  /** K_s: always-active shared experts (counted in the layer's experts). */
  shared_experts: number;
  /** K': routed experts per token. */
  k: number;
  /** α1 of the expert-level balance (2B: 0.01, 16B: 0.001, 145B: 0.003). */
  expert_balance_coef: number;
  /** α2 of the device-level balance over `devices` equal groups of routed experts (145B: 0.05). */
  device_balance_coef: number;
  devices: number;
  z_loss_coef: number;
}

export const deepseek: RouterModule<DeepSeekConfig> = {
  keys: ['shared_experts', 'k', 'expert_balance_coef', 'device_balance_coef', 'devices', 'z_loss_coef', ...CAPACITY_KEYS],

  parse(r, numExperts) {
    const shared = r.integer('shared_experts', 1, 0, Number.MAX_SAFE_INTEGER);
    if (shared >= numExperts) r.fail('shared_experts', `(${shared}) must be less than the layer's ${numExperts} experts`);
    const routed = numExperts - shared;
    const config: DeepSeekConfig = {
      type: 'deepseek',
      shared_experts: shared,
      k: r.integer('k', Math.min(2, routed), 1, routed),
      expert_balance_coef: r.coefficient('expert_balance_coef', 0.01),
      device_balance_coef: r.coefficient('device_balance_coef', 0),
      devices: r.integer('devices', 1, 1, routed),
      z_loss_coef: r.coefficient('z_loss_coef', 0),
      ...readCapacity(r, routed),
    };
    if (routed % config.devices !== 0) r.fail('devices', `(${config.devices}) must divide the ${routed} routed experts`);
    return config;
  },

  route(logits, T, E, config, ctx) {
    const s = softmaxRows(logits, T, E); // s_i = softmax over the routed experts [T, N']
    const pairs = new AssignmentBuilder();
    for (let t = 0; t < T; t++) {
      const top = descendingOrder(s, t * E, E).subarray(0, config.k); // g_i = s_i if s_i ∈ TopK(s, K')
      top.forEach((e, r) => pairs.push(t, e, s[t * E + e], r));
    }
    const assignment = pairs.finish();
    const capacity = applyCapacity(assignment, T, E, ctx.capacity ?? DROPLESS, ctx.training, config.k);
    return { assignment, capacity, probs: s, backward: (dWeight) => rawProbBackward(s, assignment, dWeight, T, E) };
  },

  auxLosses(out, logits, T, E, config) {
    const losses: AuxLoss[] = [
      { name: 'expert_balance', coefficient: config.expert_balance_coef, ...deepseekExpertBalanceLoss(logits, T, E, out.assignment, config.k) },
    ];
    if (config.device_balance_coef > 0) {
      losses.push({ name: 'device_balance', coefficient: config.device_balance_coef,
        ...deepseekDeviceBalanceLoss(logits, T, E, out.assignment, config.k, config.devices) });
    }
    return [...losses, ...zLossTerm(config.z_loss_coef, logits, T, E)];
  },
};
