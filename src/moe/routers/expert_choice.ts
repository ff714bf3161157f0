// Expert Choice routing (spec §14; Zhou et al., arXiv 2202.09368): each expert picks its top k = T·c/E
// tokens by its column of S = softmax(z). Perfect load balance by construction; tokens may get 0 or many
// experts. Not causal: a token's route depends on the other tokens of the group (not for decoding).
import { AssignmentBuilder } from '../assignment.js';
import { ceilCount, softmaxRows } from '../math.js';
import { rawProbBackward } from './backward.js';
import type { RouterModule } from './types.js';

export interface ExpertChoiceConfig {
  type: 'expert_choice';
  /** c: tokens per expert k = ⌈T·c/E⌉ ([moekit] rounding), i.e. c experts per token on average. */
  capacity_factor: number;
}

export const expertChoice: RouterModule<ExpertChoiceConfig> = {
  keys: ['capacity_factor'],

  parse(r) {
    return { type: 'expert_choice', capacity_factor: r.number('capacity_factor', 2, (x) => x > 0, 'a number > 0') };
  },

  route(logits, T, E, config) {
    const S = softmaxRows(logits, T, E); // [T, E], softmax over experts per token
    const tokensPerExpert = Math.min(T, ceilCount((T * config.capacity_factor) / E));
    const chosen = new Uint8Array(T * E); // [T, E]
    for (let e = 0; e < E; e++) {
      // expert e's column, best tokens first; ties → lower token index
      const byScore = Int32Array.from({ length: T }, (_, t) => t).sort((a, b) => (S[b * E + e] - S[a * E + e]) || (a - b));
      for (let r = 0; r < tokensPerExpert; r++) chosen[byScore[r] * E + e] = 1;
    }
    const pairs = new AssignmentBuilder();
    for (let t = 0; t < T; t++) {
      // rank = the expert's place in the token's own preference order (S descending, ties → lower expert)
      const experts = Array.from({ length: E }, (_, e) => e).filter((e) => chosen[t * E + e])
        .sort((a, b) => (S[t * E + b] - S[t * E + a]) || (a - b));
      experts.forEach((e, r) => pairs.push(t, e, S[t * E + e], r)); // weight S[t, e], not renormalised
    }
    const assignment = pairs.finish();
    return { assignment, probs: S, backward: (dWeight) => rawProbBackward(S, assignment, dWeight, T, E) };
  },

  auxLosses: () => [], // balanced by construction: no aux loss (§14)
};
