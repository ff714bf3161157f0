// BASE layers (spec §8; Lewis et al., arXiv 2103.16716): training solves a balanced linear assignment of
// tokens to experts (each expert gets T/E tokens); inference is greedy. The weight σ(u·w_e) is the only
// router gradient. The logits are the affinities s_{t,e} = u_t · w_e.
import { AssignmentBuilder } from '../assignment.js';
import { descendingOrder, sigmoid, softmaxRows } from '../math.js';
import type { RouterModule } from './types.js';

export interface BaseConfig {
  type: 'base';
}

/**
 * The balanced assignment of §8 by Bertsekas' auction: maximise Σ_t s_{t,a_t} with ⌈T/E⌉ slots per
 * expert (T padded with zero-affinity tokens to E·⌈T/E⌉, so each expert gets exactly T/E real tokens when
 * E divides T, at most ⌈T/E⌉ otherwise). Every slot has a price; an unassigned token bids for its best
 * slot (value s − price) the margin over its second best plus ε, the slot's price rises by the bid and
 * its owner is evicted, until every token holds a slot. The slots of an expert are identical but for
 * their prices, so a token only looks at each expert's cheapest slot (and, for its second best, the
 * runner-up slot of its best expert): a min-heap of prices per expert makes a bid O(E + log T).
 * ε-scaling (Bertsekas): rounds with ε shrinking 5× from a quarter of the score range, prices carried
 * over, down to ε_min = range·1e-7 / n; the result is within n·ε_min = 1e-7·range of the optimum.
 * Deterministic: ties go to the lower expert, unassigned tokens bid in order. Returns a_t [T].
 */
export function balancedAssignment(scores: Float32Array, T: number, E: number): Int32Array {
  const slots = Math.ceil(T / E);
  const n = E * slots; // tokens (real, then padding) = slots; slot j belongs to expert ⌊j / slots⌋
  const expertOf = new Int32Array(T);
  if (E === 1 || T === 0) return expertOf;
  let lo = 0, hi = 0; // score range, padding's 0 included
  for (let i = 0; i < T * E; i++) { lo = Math.min(lo, scores[i]); hi = Math.max(hi, scores[i]); }
  const range = Math.max(hi - lo, 1e-30);
  const price = new Float64Array(n);
  const heap = new Int32Array(n); // per expert e: heap[e·slots ..] its slots, a min-heap by price
  for (let j = 0; j < n; j++) heap[j] = j;
  const slotOf = new Int32Array(n);
  const owner = new Int32Array(n);
  const queue = new Int32Array(n); // unassigned tokens, a ring (at most n at once)
  const siftDown = (e: number): void => { // the top slot's price rose
    const base = e * slots;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < slots && price[heap[base + l]] < price[heap[base + m]]) m = l;
      if (r < slots && price[heap[base + r]] < price[heap[base + m]]) m = r;
      if (m === i) return;
      const tmp = heap[base + i]; heap[base + i] = heap[base + m]; heap[base + m] = tmp;
      i = m;
    }
  };
  const epsMin = range * 1e-7 / n;
  for (let eps = range / 4; ; eps = Math.max(eps / 5, epsMin)) {
    slotOf.fill(-1);
    owner.fill(-1);
    for (let t = 0; t < n; t++) queue[t] = t;
    let head = 0, waiting = n;
    while (waiting > 0) {
      const t = queue[head];
      head = (head + 1) % n;
      waiting--;
      let best = -Infinity, second = -Infinity, bestE = 0;
      for (let e = 0; e < E; e++) {
        const value = (t < T ? scores[t * E + e] : 0) - price[heap[e * slots]];
        if (value > best) { second = best; best = value; bestE = e; } else if (value > second) second = value;
      }
      if (slots > 1) { // the runner-up slot of the best expert: the cheaper child of its heap's root
        const base = bestE * slots;
        const runnerUp = Math.min(price[heap[base + 1]], slots > 2 ? price[heap[base + 2]] : Infinity);
        second = Math.max(second, (t < T ? scores[t * E + bestE] : 0) - runnerUp);
      }
      const j = heap[bestE * slots];
      price[j] += best - second + eps;
      siftDown(bestE);
      const evicted = owner[j];
      if (evicted >= 0) {
        slotOf[evicted] = -1;
        queue[(head + waiting) % n] = evicted;
        waiting++;
      }
      owner[j] = t;
      slotOf[t] = j;
    }
    if (eps <= epsMin) break;
  }
  for (let t = 0; t < T; t++) expertOf[t] = Math.floor(slotOf[t] / slots);
  return expertOf;
}

export const base: RouterModule<BaseConfig> = {
  keys: [],

  parse: () => ({ type: 'base' }),

  route(logits, T, E, _config, ctx) {
    const expertOf = ctx.training
      ? balancedAssignment(logits, T, E) // balanced (training)
      : Int32Array.from({ length: T }, (_, t) => descendingOrder(logits, t * E, E)[0]); // greedy argmax (inference)
    const pairs = new AssignmentBuilder();
    for (let t = 0; t < T; t++) pairs.push(t, expertOf[t], sigmoid(logits[t * E + expertOf[t]]), 0); // σ(u·w_a)
    const assignment = pairs.finish();
    return {
      assignment,
      probs: softmaxRows(logits, T, E), // [moekit] for entropy statistics only; BASE has no gate probabilities
      backward(dWeight) {
        const dLogits = new Float32Array(T * E); // dσ/ds = σ(1 − σ) at the assigned expert only
        for (let i = 0; i < T; i++) dLogits[i * E + expertOf[i]] = dWeight[i] * assignment.weight[i] * (1 - assignment.weight[i]);
        return dLogits;
      },
    };
  },

  auxLosses: () => [], // none (§8)
};
