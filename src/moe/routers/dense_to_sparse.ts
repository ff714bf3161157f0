// Dense-to-Sparse gate (spec §9; DTS-Gate/EvoMoE, Nie et al., arXiv 2112.14397): a Gumbel softmax whose
// temperature is annealed; every expert with G_i > θ is active, so training moves from dense to sparse.
import { AssignmentBuilder } from '../assignment.js';
import { denseToSparseBalanceLoss, LOSS_COEFFICIENTS } from '../losses.js';
import { descendingOrder, exceeds, softmaxRows } from '../math.js';
import { rawProbBackward } from './backward.js';
import type { RouterModule } from './types.js';

export interface DenseToSparseConfig {
  type: 'dense_to_sparse';
  /** τ decays from max_temperature to min_temperature over decay_steps ([recall] 2.0 → 0.3). */
  max_temperature: number;
  min_temperature: number;
  decay_steps: number;
  schedule: 'linear' | 'exponential';
  /** θ: experts with G_i > θ are active ([code] 0.001). */
  threshold: number;
  load_balance_coef: number;
}

/** τ(step): linear or exponential decay from τ_max to τ_min over decay_steps, then constant (§9). */
export function gumbelTemperature(config: DenseToSparseConfig, step: number): number {
  const progress = Math.min(1, Math.max(0, step) / config.decay_steps);
  const { max_temperature: hi, min_temperature: lo } = config;
  return config.schedule === 'linear' ? hi - (hi - lo) * progress : hi * (lo / hi) ** progress;
}

export const denseToSparse: RouterModule<DenseToSparseConfig> = {
  keys: ['max_temperature', 'min_temperature', 'decay_steps', 'schedule', 'threshold', 'load_balance_coef'],

  parse(r) {
    const config: DenseToSparseConfig = {
      type: 'dense_to_sparse',
      max_temperature: r.number('max_temperature', 2.0, (x) => x > 0, 'a number > 0'),
      min_temperature: r.number('min_temperature', 0.3, (x) => x > 0, 'a number > 0'),
      decay_steps: r.integer('decay_steps', 10000, 1, Number.MAX_SAFE_INTEGER),
      schedule: r.choice('schedule', 'linear', ['linear', 'exponential'] as const),
      threshold: r.number('threshold', 0.001, (x) => x >= 0 && x < 1, 'in [0, 1)'),
      load_balance_coef: r.coefficient('load_balance_coef', LOSS_COEFFICIENTS.loadBalance),
    };
    if (config.min_temperature > config.max_temperature) r.fail('min_temperature', `(${config.min_temperature}) must not exceed "max_temperature" (${config.max_temperature})`);
    return config;
  },

  route(logits, T, E, config, ctx) {
    const pairs = new AssignmentBuilder();
    if (!ctx.training) { // inference: no noise, top-1 with weight softmax(z) of that expert
      const P = softmaxRows(logits, T, E);
      for (let t = 0; t < T; t++) { const e = descendingOrder(P, t * E, E)[0]; pairs.push(t, e, P[t * E + e], 0); }
      const assignment = pairs.finish();
      return { assignment, probs: P, backward: (dWeight) => rawProbBackward(P, assignment, dWeight, T, E) };
    }
    const tau = gumbelTemperature(config, ctx.step ?? 0);
    const perturbed = new Float64Array(T * E); // z + g, g = −log(−log U) [T, E]
    for (let i = 0; i < T * E; i++) perturbed[i] = logits[i] - Math.log(-Math.log(Math.max(ctx.rng.uniform(), 1e-300)));
    const G = softmaxRows(perturbed, T, E, tau); // G = softmax((z + g)/τ) [T, E]
    for (let t = 0; t < T; t++) {
      const order = descendingOrder(G, t * E, E);
      // all experts with G_i > θ, weight G_i (no renormalisation)
      for (let r = 0; r < E && exceeds(G[t * E + order[r]], config.threshold, 'gt'); r++) pairs.push(t, order[r], G[t * E + order[r]], r);
    }
    const assignment = pairs.finish();
    return { assignment, probs: G, backward: (dWeight) => rawProbBackward(G, assignment, dWeight, T, E, tau) };
  },

  auxLosses(out, _logits, T, E, config) {
    return [{ name: 'load_balance', coefficient: config.load_balance_coef, ...denseToSparseBalanceLoss(out, T, E) }];
  },
};
