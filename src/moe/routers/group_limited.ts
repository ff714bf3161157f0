// Group-limited routing of DeepSeek-V2/V3 (interop.md §3.4, deepseek_v2 / deepseek_v3 rows): the
// routed experts form n_group contiguous groups; a token first keeps its topk_group best groups, then
// its k best experts among them.
//   scores      s = softmax(z) (V2) or sigmoid(z) (V3), float32                          [T, E]
//   selection   c = s + b, b = the layer's e_score_correction_bias (V3; ctx.selectionBias) [T, E]
//   group score max of c in the group (V2 group_limited_greedy) or the sum of its two best c (V3 noaux_tc)
//   weights     w = s[S] (no bias), / (Σ_S s + 1e-20) if renormalize, × routed_scaling_factor
// n_group = topk_group = 1 is plain greedy top-k. As with DeepSeekMoE (§13), the layer's shared experts
// are counted in its experts and run unweighted; the logits cover the routed experts only.
import { AssignmentBuilder } from '../assignment.js';
import { applyCapacity, DROPLESS } from '../capacity.js';
import { CAPACITY_KEYS, readCapacity, type CapacityConfig } from '../config.js';
import { deepseekExpertBalanceLoss, sigmoidSequenceBalanceLoss } from '../losses.js';
import { descendingOrder, sigmoid, softmaxBackwardRow, softmaxRows } from '../math.js';
import { ShapeError } from '../../tensor/index.js';
import { pairGrid } from './backward.js';
import type { AuxLoss, RouterModule } from './types.js';

export interface GroupLimitedConfig extends CapacityConfig {
  type: 'group_limited';
  /** K_s: always-active shared experts (counted in the layer's experts, HF n_shared_experts). */
  shared_experts: number;
  /** Routed experts per token (HF num_experts_per_tok). */
  k: number;
  /** softmax (DeepSeek-V2) or sigmoid (DeepSeek-V3, HF scoring_func). */
  scoring: 'softmax' | 'sigmoid';
  /** Contiguous expert groups (HF n_group); must divide the routed experts. */
  n_group: number;
  /** Groups a token may use (HF topk_group). */
  topk_group: number;
  /** Group score: the best selection score (V2) or the sum of the two best (V3). */
  group_score: 'max' | 'top2_sum';
  /** Divide the weights by their sum + 1e-20 (HF norm_topk_prob). */
  renormalize: boolean;
  /** Multiplies the weights after normalisation (HF routed_scaling_factor). */
  routed_scaling_factor: number;
  /** The layer has a selection bias `mlp.gate.e_score_correction_bias` [E] (V3, aux-loss-free balancing). */
  correction_bias: boolean;
  /** α of DeepSeek's balance loss: expert-level Σ f_i P_i (§13) for softmax, sequence-wise (V3) for sigmoid. */
  balance_coef: number;
}

export const groupLimited: RouterModule<GroupLimitedConfig> = {
  keys: ['shared_experts', 'k', 'scoring', 'n_group', 'topk_group', 'group_score', 'renormalize',
    'routed_scaling_factor', 'correction_bias', 'balance_coef', ...CAPACITY_KEYS],

  parse(r, numExperts) {
    const shared = r.integer('shared_experts', 0, 0, Number.MAX_SAFE_INTEGER);
    if (shared >= numExperts) r.fail('shared_experts', `(${shared}) must be less than the layer's ${numExperts} experts`);
    const routed = numExperts - shared;
    const nGroup = r.integer('n_group', 1, 1, routed);
    if (routed % nGroup !== 0) r.fail('n_group', `(${nGroup}) must divide the ${routed} routed experts`);
    const topkGroup = r.integer('topk_group', 1, 1, nGroup);
    const groupScore = r.choice('group_score', 'max', ['max', 'top2_sum'] as const);
    if (groupScore === 'top2_sum' && routed / nGroup < 2) {
      r.fail('group_score', `"top2_sum" needs at least 2 experts per group, got ${routed} routed experts in ${nGroup} groups`);
    }
    const kept = topkGroup * (routed / nGroup); // experts a token can still choose from
    const k = r.number('k', Math.min(2, kept), (x) => Number.isInteger(x) && x >= 1, 'an integer >= 1');
    if (k > kept) r.fail('k', `(${k}) exceeds the ${kept} experts of the ${topkGroup} kept groups of ${routed / nGroup}`);
    return {
      type: 'group_limited',
      shared_experts: shared,
      k,
      scoring: r.choice('scoring', 'softmax', ['softmax', 'sigmoid'] as const),
      n_group: nGroup,
      topk_group: topkGroup,
      group_score: groupScore,
      renormalize: r.boolean('renormalize', false),
      routed_scaling_factor: r.number('routed_scaling_factor', 1, (x) => x > 0, 'a number > 0'),
      correction_bias: r.boolean('correction_bias', false),
      balance_coef: r.coefficient('balance_coef', 0),
      ...readCapacity(r, routed),
    };
  },

  route(logits, T, E, config, ctx) {
    const { k, n_group: G, topk_group: keepGroups } = config;
    const bias = ctx.selectionBias;
    if (bias && bias.length !== E) throw new ShapeError(`group_limited router: selection bias has ${bias.length} values, expected one per routed expert (${E})`);
    const s = scores(logits, T, E, config.scoring); // [T, E]
    const size = E / G;
    const choice = new Float32Array(E);   // c = s + b for one token; −inf outside the kept groups
    const groupScores = new Float64Array(G);
    const pairs = new AssignmentBuilder();
    for (let t = 0; t < T; t++) {
      for (let e = 0; e < E; e++) choice[e] = bias ? s[t * E + e] + bias[e] : s[t * E + e];
      for (let g = 0; g < G; g++) {
        const group = choice.subarray(g * size, (g + 1) * size);
        const best = descendingOrder(group, 0, size);
        groupScores[g] = config.group_score === 'max' ? group[best[0]] : Math.fround(group[best[0]] + group[best[1]]);
      }
      const kept = descendingOrder(groupScores, 0, G).subarray(0, keepGroups); // ties → lower group
      const isKept = new Uint8Array(G);
      for (const g of kept) isKept[g] = 1;
      for (let e = 0; e < E; e++) if (!isKept[Math.floor(e / size)]) choice[e] = -Infinity;
      const selected = descendingOrder(choice, 0, E).subarray(0, k); // rank = selection order, ties → lower id
      let sum = 0;
      for (const e of selected) sum += s[t * E + e];
      const denominator = config.renormalize ? Math.fround(sum + 1e-20) : 1;
      selected.forEach((e, rank) => pairs.push(t, e, (s[t * E + e] / denominator) * config.routed_scaling_factor, rank));
    }
    const assignment = pairs.finish();
    const capacity = applyCapacity(assignment, T, E, ctx.capacity ?? DROPLESS, ctx.training, k);
    return {
      assignment, capacity, probs: s,
      // Selection is a constant (§0): the weights depend on the logits only through s[S].
      backward: (dWeight) => {
        const g = pairGrid(assignment, dWeight, T, E); // dL/dw on the [T, E] grid
        const ds = new Float64Array(T * E);           // dL/ds
        const c = config.routed_scaling_factor;
        for (let t = 0; t < T; t++) {
          const experts = assignment.expert.subarray(t * k, (t + 1) * k); // token-major, k pairs per token
          if (!config.renormalize) {
            for (const e of experts) ds[t * E + e] = c * g[t * E + e];
            continue;
          }
          // w_i = c s_i / D, D = Σ_S s + 1e-20: ∂w_i/∂s_j = (c/D)(δ_ij − s_i/D)
          let D = 1e-20;
          for (const e of experts) D += s[t * E + e];
          let dot = 0;
          for (const e of experts) dot += g[t * E + e] * s[t * E + e];
          for (const e of experts) ds[t * E + e] = (c / D) * (g[t * E + e] - dot / D);
        }
        return scoresBackward(s, ds, T, E, config.scoring);
      },
    };
  },

  auxLosses(out, logits, T, E, config) {
    if (config.balance_coef === 0) return [];
    const loss = config.scoring === 'softmax'
      ? deepseekExpertBalanceLoss(logits, T, E, out.assignment, config.k)
      : sigmoidSequenceBalanceLoss(logits, T, E, out.assignment, config.k);
    return [{ name: 'balance', coefficient: config.balance_coef, ...loss }] satisfies AuxLoss[];
  },
};

/** s = softmax(z) per row or sigmoid(z), rounded to float32 as transformers computes them. */
function scores(logits: Float32Array, T: number, E: number, scoring: 'softmax' | 'sigmoid'): Float32Array {
  return scoring === 'softmax' ? softmaxRows(logits, T, E) : logits.map(sigmoid);
}

/** dL/dz from dL/ds: the softmax Jacobian per row, or σ' = s(1 − s) elementwise. */
function scoresBackward(s: Float32Array, ds: Float64Array, T: number, E: number, scoring: 'softmax' | 'sigmoid'): Float32Array {
  const dz = new Float32Array(T * E);
  if (scoring === 'softmax') {
    for (let t = 0; t < T; t++) softmaxBackwardRow(s, ds, t * E, E, dz);
  } else {
    for (let i = 0; i < T * E; i++) dz[i] = ds[i] * s[i] * (1 - s[i]);
  }
  return dz;
}
