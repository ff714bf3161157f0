// Switch routing (spec §5; Fedus, Zoph, Shazeer, arXiv 2101.03961): top-1 with the raw router
// probability as the weight (renormalising would give 1 and kill the router gradient).
import { AssignmentBuilder } from '../assignment.js';
import { applyCapacity, DROPLESS } from '../capacity.js';
import { CAPACITY_KEYS, readCapacity, type CapacityConfig } from '../config.js';
import { loadBalanceLoss, LOSS_COEFFICIENTS, zLossTerm } from '../losses.js';
import { descendingOrder, softmaxRows } from '../math.js';
import { rawProbBackward } from './backward.js';
import type { RandomSource, RouterModule } from './types.js';

export interface SwitchConfig extends CapacityConfig {
  type: 'switch';
  /** Multiplicative input jitter ε (training only, applied by the MoE layer; [recall] 1e-2; 0 = off). */
  jitter_eps: number;
  /** α of L = α · E · Σ_i f_i P_i (§5). */
  load_balance_coef: number;
  z_loss_coef: number;
}

/**
 * Input jitter factors U(1 − ε, 1 + ε) for n input values (§5 exploration): the MoE layer multiplies the
 * router input x by them in training, before computing the logits.
 */
export function jitterFactors(rng: RandomSource, n: number, eps: number): Float32Array {
  const factors = new Float32Array(n);
  for (let i = 0; i < n; i++) factors[i] = 1 - eps + 2 * eps * rng.uniform();
  return factors;
}

export const switchRouter: RouterModule<SwitchConfig> = {
  keys: ['jitter_eps', 'load_balance_coef', 'z_loss_coef', ...CAPACITY_KEYS],

  parse(r, numExperts) {
    return {
      type: 'switch',
      jitter_eps: r.number('jitter_eps', 0, (x) => x >= 0 && x < 1, 'in [0, 1)'),
      load_balance_coef: r.coefficient('load_balance_coef', LOSS_COEFFICIENTS.loadBalance),
      z_loss_coef: r.coefficient('z_loss_coef', 0),
      ...readCapacity(r, numExperts),
    };
  },

  route(logits, T, E, config, ctx) {
    const p = softmaxRows(logits, T, E); // [T, E] in float32 (selective precision)
    const pairs = new AssignmentBuilder();
    for (let t = 0; t < T; t++) {
      const best = descendingOrder(p, t * E, E)[0]; // i = argmax p
      pairs.push(t, best, p[t * E + best], 0); // y = p_i · E_i(x)
    }
    const assignment = pairs.finish();
    const capacity = applyCapacity(assignment, T, E, ctx.capacity ?? DROPLESS, ctx.training, 1); // C = ⌈cf·T/E⌉, token order
    return { assignment, capacity, probs: p, backward: (dWeight) => rawProbBackward(p, assignment, dWeight, T, E) };
  },

  auxLosses(out, logits, T, E, config) {
    return [
      { name: 'load_balance', coefficient: config.load_balance_coef, ...loadBalanceLoss(logits, T, E, out.assignment) },
      ...zLossTerm(config.z_loss_coef, logits, T, E),
    ];
  },
};
