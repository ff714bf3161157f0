// Top-K softmax gating (spec §2): the k highest logits; weights renormalised over the pair set
// (Mixtral, GShard) or the raw softmax probabilities (Qwen-MoE, OLMoE).
import { backend } from '../../backend/index.js';
import { AssignmentBuilder } from '../assignment.js';
import { applyCapacity, DROPLESS } from '../capacity.js';
import { CAPACITY_KEYS, readCapacity, type CapacityConfig } from '../config.js';
import { loadBalanceLoss, LOSS_COEFFICIENTS, zLossTerm } from '../losses.js';
import { pairGrid, rawProbBackward, subsetSoftmaxBackward } from './backward.js';
import type { RouterModule } from './types.js';

export interface TopKConfig extends CapacityConfig {
  type: 'top_k';
  /** Experts per token. */
  k: number;
  /** true: w = softmax(z_S) (Mixtral); false: w = softmax(z)_S (HF norm_topk_prob = false). */
  renormalize: boolean;
  /** HF-form load balance E · Σ_e (count_e/T) · P̄_e, balanced value k (§2). */
  load_balance_coef: number;
  z_loss_coef: number;
}

export const topK: RouterModule<TopKConfig> = {
  keys: ['k', 'renormalize', 'load_balance_coef', 'z_loss_coef', ...CAPACITY_KEYS],

  parse(r, numExperts) {
    return {
      type: 'top_k',
      k: r.integer('k', 2, 1, numExperts),
      renormalize: r.boolean('renormalize', true),
      load_balance_coef: r.coefficient('load_balance_coef', LOSS_COEFFICIENTS.loadBalance),
      z_loss_coef: r.coefficient('z_loss_coef', 0),
      ...readCapacity(r, numExperts),
    };
  },

  route(logits, T, E, config, ctx) {
    const { k } = config;
    const P = new Float32Array(T * E);     // [T, E] softmax(z)
    const order = new Int32Array(T * E);   // [T, E] experts by P descending, ties → lower index
    // Top-P's kernel (§1.1) with k_t clamped to [k, k] is TopK: the same softmax, order and ties, native.
    backend().topPRoute(P, order, new Int32Array(T), logits, T, E, 1, true, k, k);
    const pairs = new AssignmentBuilder();
    for (let t = 0; t < T; t++) {
      const selected = order.subarray(t * E, t * E + k); // S = TopK(z, k)
      let mass = 0;
      for (const e of selected) mass += P[t * E + e];
      // renormalised: P_e / Σ_S P = softmax(z_S); raw: P_e
      for (let r = 0; r < k; r++) pairs.push(t, selected[r], P[t * E + selected[r]] / (config.renormalize ? mass : 1), r);
    }
    const assignment = pairs.finish();
    const capacity = applyCapacity(assignment, T, E, ctx.capacity ?? DROPLESS, ctx.training, k); // C = ⌈cf·k·T/E⌉ (§15)
    const backward = config.renormalize
      // the pairs are token-major with k per token, so token t's subset is pairs [t·k, (t+1)·k)
      ? (dWeight: Float32Array) => subsetSoftmaxBackward(pairGrid(assignment, dWeight, T, E), T, E, (t) => ({
        experts: assignment.expert.subarray(t * k, (t + 1) * k), weights: assignment.weight.subarray(t * k, (t + 1) * k),
      }))
      : (dWeight: Float32Array) => rawProbBackward(P, assignment, dWeight, T, E);
    return { assignment, capacity, probs: P, backward };
  },

  auxLosses(out, logits, T, E, config) {
    return [
      { name: 'load_balance', coefficient: config.load_balance_coef, ...loadBalanceLoss(logits, T, E, out.assignment) },
      ...zLossTerm(config.z_loss_coef, logits, T, E),
    ];
  },
};
