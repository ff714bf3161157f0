// MoE routing kernels (spec moe-methods.md §1): Top-P selection and the backward of raw-probability
// weights. The oracle for native/routing.cc; the arithmetic is the router's own (§1.1): softmax with
// float64 sums stored as float32, the cumulative mass summed and compared in float32.
import type { F32, I32 } from '../backend.js';
import { checkLength, checkSize } from './check.js';
import { scratch64 } from './scratch.js';
import { softmaxForward } from './softmax.js';

/** Top-P selection (§1.1): probs, order [T, E] and count [T] from logits [T, E]; see Backend.topPRoute. */
export function topPRoute(probs: F32, order: I32, count: I32, logits: F32, T: number, E: number, p: number,
  inclusive: boolean, minK: number, maxK: number): void {
  const k = 'topPRoute';
  checkSize(k, 'T', T);
  checkSize(k, 'E', E);
  checkSize(k, 'minK', minK);
  checkSize(k, 'maxK', maxK);
  for (const [name, arr] of [['probs', probs], ['order', order], ['logits', logits]] as const) checkLength(k, name, arr, T * E, 'T·E');
  checkLength(k, 'count', count, T, 'T');
  if (T > 0 && E === 0) throw new Error(`${k}: E must be >= 1`);
  if (!(minK <= maxK && maxK <= E)) throw new Error(`${k}: need minK <= maxK <= E, got minK = ${minK}, maxK = ${maxK}, E = ${E}`);
  softmaxForward(probs, logits, T, E); // §1.1 step 1
  const threshold = Math.fround(p);
  for (let t = 0; t < T; t++) {
    const o = t * E;
    const row = order.subarray(o, o + E);
    for (let j = 0; j < E; j++) row[j] = j;
    row.sort((a, b) => (probs[o + b] - probs[o + a]) || (a - b)); // §1.1 step 2, ties → lower index
    let kt = E; // no crossing (p ≥ 1, rounding): every expert (§1.1 step 3)
    let cumulative = 0;
    for (let j = 0; j < E; j++) {
      cumulative = Math.fround(cumulative + probs[o + row[j]]);
      if (inclusive ? cumulative >= threshold : cumulative > threshold) { kt = j + 1; break; }
    }
    count[t] = Math.min(Math.max(kt, minK), maxK);
  }
}

/** dlogits[t, j] += probs[t, j] · (g_j − Σ_i g_i probs[t, i]) over token-major pairs; see Backend.topPBackward. */
export function topPBackward(dlogits: F32, dweights: F32, probs: F32, order: I32, count: I32, T: number, E: number): void {
  const k = 'topPBackward';
  checkSize(k, 'T', T);
  checkSize(k, 'E', E);
  for (const [name, arr] of [['dlogits', dlogits], ['probs', probs], ['order', order]] as const) checkLength(k, name, arr, T * E, 'T·E');
  checkLength(k, 'count', count, T, 'T');
  let pairs = 0;
  for (let t = 0; t < T; t++) {
    if (!(count[t] >= 0 && count[t] <= E)) throw new Error(`${k}: count[${t}] = ${count[t]} is outside [0, ${E}]`);
    for (let r = 0; r < count[t]; r++) {
      const e = order[t * E + r];
      if (!(e >= 0 && e < E)) throw new Error(`${k}: order[${t * E + r}] = ${e} is outside [0, ${E})`);
    }
    pairs += count[t];
  }
  checkLength(k, 'dweights', dweights, pairs, 'Σ count');
  const g = scratch64(0, E); // [E] the token's weight gradients on the dense expert axis
  let pair = 0;
  for (let t = 0; t < T; t++) {
    const o = t * E;
    g.fill(0, 0, E);
    for (let r = 0; r < count[t]; r++) g[order[o + r]] += dweights[pair++];
    let dot = 0;
    for (let j = 0; j < E; j++) dot += probs[o + j] * g[j];
    for (let j = 0; j < E; j++) dlogits[o + j] += probs[o + j] * (g[j] - dot);
  }
}
