// Top-P dynamic routing (spec §1; Huang, An et al., arXiv 2403.07652): each token activates the fewest
// experts whose probability mass exceeds p — harder (flatter) tokens get more experts.
import { backend } from '../../backend/index.js';
import { AssignmentBuilder, type Assignment } from '../assignment.js';
import { applyCapacity, DROPLESS } from '../capacity.js';
import { CAPACITY_KEYS, readCapacity, type CapacityConfig } from '../config.js';
import { entropyLoss, loadBalanceLoss, LOSS_COEFFICIENTS, zLossTerm } from '../losses.js';
import { rankedRawProbBackward } from './backward.js';
import type { RouterModule } from './types.js';

export interface TopPConfig extends CapacityConfig {
  type: 'top_p';
  /** Threshold p ∈ (0, 1] on the cumulative probability (§1.5 default 0.4). */
  top_p: number;
  /** `gt`: first c_j > p (released code, default); `ge`: c_j ≥ p (paper's formula). */
  compare: 'gt' | 'ge';
  /** moekit extras (§1.5), off by default: clamp k_t to [min_k, max_k]. */
  min_k: number | null;
  max_k: number | null;
  /** Load-balance α (§1.3) and its f normalisation. */
  load_balance_coef: number;
  f_norm: 'tokens' | 'assignments';
  /** Dynamic (entropy) loss β (§1.3). */
  entropy_coef: number;
  /** Router z-loss c_z (§6; off by default, not part of the Top-P recipe). */
  z_loss_coef: number;
}

/**
 * Token t's experts order[t, 0 .. k_t) with their raw softmax probabilities as weights — never
 * renormalised (§1.1 step 4) — as pairs, token-major and rank ascending.
 */
function selectedPairs(P: Float32Array, order: Int32Array, k: Int32Array, T: number, E: number): Assignment {
  const pairs = new AssignmentBuilder();
  for (let t = 0; t < T; t++) {
    for (let r = 0; r < k[t]; r++) pairs.push(t, order[t * E + r], P[t * E + order[t * E + r]], r);
  }
  return pairs.finish();
}

export const topP: RouterModule<TopPConfig> = {
  keys: ['top_p', 'compare', 'min_k', 'max_k', 'load_balance_coef', 'f_norm', 'entropy_coef', 'z_loss_coef', ...CAPACITY_KEYS],

  parse(r, numExperts) {
    const config: TopPConfig = {
      type: 'top_p',
      top_p: r.number('top_p', 0.4, (x) => x > 0 && x <= 1, 'in (0, 1]'),
      compare: r.choice('compare', 'gt', ['gt', 'ge'] as const),
      min_k: r.nullableInteger('min_k', null, 1, numExperts),
      max_k: r.nullableInteger('max_k', null, 1, numExperts),
      load_balance_coef: r.coefficient('load_balance_coef', LOSS_COEFFICIENTS.loadBalance),
      f_norm: r.choice('f_norm', 'tokens', ['tokens', 'assignments'] as const),
      entropy_coef: r.coefficient('entropy_coef', LOSS_COEFFICIENTS.entropy),
      z_loss_coef: r.coefficient('z_loss_coef', 0),
      ...readCapacity(r, numExperts),
    };
    if (config.min_k !== null && config.max_k !== null && config.min_k > config.max_k) r.fail('min_k', `(${config.min_k}) must not exceed "max_k" (${config.max_k})`);
    return config;
  },

  route(logits, T, E, config, ctx) {
    const P = new Float32Array(T * E);     // [T, E] softmax(z), §1.1 step 1
    const order = new Int32Array(T * E);   // [T, E] π per token, §1.1 step 2
    const k = new Int32Array(T);           // [T] k_t: the crossing expert included (step 3), clamped (§1.5)
    backend().topPRoute(P, order, k, logits, T, E, config.top_p, config.compare === 'ge', config.min_k ?? 1, config.max_k ?? E);
    const assignment = selectedPairs(P, order, k, T, E);
    const capacity = applyCapacity(assignment, T, E, ctx.capacity ?? DROPLESS, ctx.training); // §15 dynamic/static, A = Σ k_t
    return { assignment, capacity, probs: P, backward: (dWeight) => rankedRawProbBackward(P, order, k, assignment, dWeight, T, E) };
  },

  auxLosses(out, logits, T, E, config) {
    return [
      { name: 'load_balance', coefficient: config.load_balance_coef, ...loadBalanceLoss(logits, T, E, out.assignment, config.f_norm) },
      // the dynamic loss only when it is on (entropy_coef 0 is the LB-only recipe), like zLossTerm (§6);
      // the router entropy is still reported by the statistics (§16)
      ...(config.entropy_coef > 0 ? [{ name: 'entropy', coefficient: config.entropy_coef, ...entropyLoss(logits, T, E) }] : []),
      ...zLossTerm(config.z_loss_coef, logits, T, E),
    ];
  },
};
