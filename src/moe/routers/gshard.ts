// GShard top-2 gating (spec §4; Lepikhin et al., arXiv 2006.16668): the best expert always, the second
// with probability 2·g2 in training; capacity counts every first choice before any second choice.
import { AssignmentBuilder, type Assignment } from '../assignment.js';
import { applyCapacity, DROPLESS } from '../capacity.js';
import { CAPACITY_KEYS, readCapacity, type CapacityConfig } from '../config.js';
import { gshardAuxLoss, LOSS_COEFFICIENTS, zLossTerm } from '../losses.js';
import { descendingOrder, RoutingError, softmaxRows } from '../math.js';
import { pairGrid, subsetSoftmaxBackward, type Subset } from './backward.js';
import type { RouterModule } from './types.js';

export interface GShardConfig extends CapacityConfig {
  type: 'gshard';
  /** G: the T tokens form G contiguous groups of S = T/G; capacity and aux loss are per group. */
  groups: number;
  /** true (paper): normalise g1, g2 over the pair before capacity and compare 2·g2 > u with the
   *  normalised g2; false (fairseq): compare the raw g2, normalise over the surviving pairs. */
  normalize_before_drop: boolean;
  /** Second expert in training: `random` (dispatch iff 2·g2 > u) or `all`; inference is always `all`. */
  second_policy: 'random' | 'all';
  /** Weight of the scaled aux loss E · Σ_e (c_e/S) m_e (§4). */
  load_balance_coef: number;
  z_loss_coef: number;
}

/**
 * fairseq order (§4 note): after capacity, each token's surviving weights are normalised to sum 1 (in
 * place; dropped pairs keep their raw g for the record). Returns each token's surviving set.
 */
function normalizeSurvivors(a: Assignment, T: number): (t: number) => Subset {
  const survivingMass = new Float64Array(T);
  for (let i = 0; i < a.token.length; i++) if (!a.dropped[i]) survivingMass[a.token[i]] += a.weight[i];
  const survivors = Array.from({ length: T }, () => ({ experts: [] as number[], weights: [] as number[] }));
  for (let i = 0; i < a.token.length; i++) {
    if (a.dropped[i]) continue;
    a.weight[i] /= survivingMass[a.token[i]];
    survivors[a.token[i]].experts.push(a.expert[i]);
    survivors[a.token[i]].weights.push(a.weight[i]);
  }
  return (t) => survivors[t];
}

export const gshard: RouterModule<GShardConfig> = {
  keys: ['groups', 'normalize_before_drop', 'second_policy', 'load_balance_coef', 'z_loss_coef', ...CAPACITY_KEYS],

  parse(r, numExperts) {
    if (numExperts < 2) r.fail('type', `"gshard" needs at least 2 experts, the layer has ${numExperts}`);
    return {
      type: 'gshard',
      groups: r.integer('groups', 1, 1, Number.MAX_SAFE_INTEGER),
      normalize_before_drop: r.boolean('normalize_before_drop', true),
      second_policy: r.choice('second_policy', 'random', ['random', 'all'] as const),
      load_balance_coef: r.coefficient('load_balance_coef', LOSS_COEFFICIENTS.loadBalance),
      z_loss_coef: r.coefficient('z_loss_coef', 0),
      ...readCapacity(r, numExperts),
    };
  },

  route(logits, T, E, config, ctx) {
    if (T % config.groups !== 0) throw new RoutingError(`gshard: ${T} tokens do not split into ${config.groups} equal groups`, 'pad the batch or change "groups"');
    const g = softmaxRows(logits, T, E); // [T, E]
    const top2 = new Int32Array(2 * T); // [T, 2] (e1, e2)
    const pairWeight = new Float64Array(2 * T); // [T, 2] g1/(g1+g2), g2/(g1+g2)
    const randomSecond = ctx.training && config.second_policy === 'random';
    const pairs = new AssignmentBuilder();
    for (let t = 0; t < T; t++) {
      const [e1, e2] = descendingOrder(g, t * E, E);
      const [g1, g2] = [g[t * E + e1], g[t * E + e2]];
      top2.set([e1, e2], 2 * t);
      pairWeight.set([g1 / (g1 + g2), g2 / (g1 + g2)], 2 * t);
      const [w1, w2] = config.normalize_before_drop ? [pairWeight[2 * t], pairWeight[2 * t + 1]] : [g1, g2];
      // pass 2 draw: dispatch the second choice iff 2·g2 > u, u ~ U(0, 1); a skipped one takes no slot
      const second = !randomSecond || 2 * w2 > ctx.rng.uniform();
      pairs.push(t, e1, w1, 0);
      if (second) pairs.push(t, e2, w2, 1);
    }
    const assignment = pairs.finish();
    // C = ⌈cf·2S/E⌉ per group; priority rank then token = all first choices (overflow included) first
    const capacity = applyCapacity(assignment, T, E, ctx.capacity ?? DROPLESS, ctx.training, 2, config.groups);

    // Per token, the set its weights are normalised over: the top-2 pair (paper) or the survivors (fairseq)
    const subset = config.normalize_before_drop
      ? (t: number): Subset => ({ experts: top2.subarray(2 * t, 2 * t + 2), weights: pairWeight.subarray(2 * t, 2 * t + 2) })
      : normalizeSurvivors(assignment, T);
    return {
      assignment,
      capacity,
      probs: g,
      backward: (dWeight) => subsetSoftmaxBackward(pairGrid(assignment, dWeight, T, E), T, E, subset),
    };
  },

  auxLosses(out, logits, T, E, config) {
    return [
      { name: 'load_balance', coefficient: config.load_balance_coef, ...gshardAuxLoss(logits, T, E, out.assignment, config.groups) },
      ...zLossTerm(config.z_loss_coef, logits, T, E),
    ];
  },
};
