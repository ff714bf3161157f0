// The two weight gradients routers share (§0: selection masks are constants in backward).
import { backend } from '../../backend/index.js';
import type { Assignment } from '../assignment.js';
import { softmaxBackward } from '../math.js';

/** dWeight [A] scattered to a dense [T, E] grid; dropped pairs contribute 0 (§15). */
export function pairGrid(a: Assignment, dWeight: Float32Array, T: number, E: number): Float64Array {
  const grid = new Float64Array(T * E);
  for (let i = 0; i < a.token.length; i++) if (!a.dropped[i]) grid[a.token[i] * E + a.expert[i]] += dWeight[i];
  return grid;
}

/** Raw-probability weights w = P[t, e] with P = softmax(z / τ): the full softmax Jacobian (§1.2). */
export function rawProbBackward(P: Float32Array, a: Assignment, dWeight: Float32Array, T: number, E: number,
  temperature = 1): Float32Array {
  return softmaxBackward(P, pairGrid(a, dWeight, T, E), T, E, 1 / temperature);
}

/**
 * rawProbBackward for pairs listed token-major in each token's own order — token t's experts
 * order[t, 0 .. k_t), as Top-P selects them (§1.2) — through the backend's O(E)-per-token kernel.
 */
export function rankedRawProbBackward(P: Float32Array, order: Int32Array, k: Int32Array, a: Assignment,
  dWeight: Float32Array, T: number, E: number): Float32Array {
  const dLogits = new Float32Array(T * E);
  const live = a.dropped.includes(1) ? dWeight.map((g, i) => (a.dropped[i] ? 0 : g)) : dWeight; // §15: dropped pairs add 0
  backend().topPBackward(dLogits, live, P, order, k, T, E);
  return dLogits;
}

/** A token's normalisation set: its experts and their normalised weights. */
export interface Subset { experts: ArrayLike<number>; weights: ArrayLike<number> }

/**
 * Weights renormalised over a per-token subset S_t (w = softmax(z_S), §2): only the subset's logits get
 * gradient, ∂w_e/∂z_j = w_e(δ_ej − w_j). `subset(t)` lists S_t's experts and their normalised weights.
 */
export function subsetSoftmaxBackward(grid: Float64Array, T: number, E: number,
  subset: (t: number) => Subset): Float32Array {
  const dz = new Float32Array(T * E);
  for (let t = 0; t < T; t++) {
    const { experts, weights } = subset(t);
    let dot = 0;
    for (let j = 0; j < experts.length; j++) dot += weights[j] * grid[t * E + experts[j]];
    for (let j = 0; j < experts.length; j++) dz[t * E + experts[j]] += weights[j] * (grid[t * E + experts[j]] - dot);
  }
  return dz;
}
