// Capacity and token dropping (spec §15). Dropless is the default for every router; with a capacity
// factor each expert keeps at most C pairs, by priority (rank ascending, then token; `bpr`: within a
// rank, higher weight first). Dropped pairs stay in the Assignment, flagged, and contribute 0.
import { pairCount, type Assignment } from './assignment.js';
import { ceilCount } from './math.js';

export interface CapacityOptions {
  /** Training capacity factor cf; null = dropless. */
  capacityFactor: number | null;
  /** Capacity factor at eval (2.0 typical); null = dropless. */
  evalCapacityFactor: number | null;
  /** Variable k: `dynamic` sizes C from the actual assignments A = Σ k_t, `static` from k_ref·T. */
  mode: 'dynamic' | 'static';
  /** Reference experts per token for `static` (e.g. 2). */
  kRef: number | null;
  /** Lower bound on C (DeepSpeed uses 4); 0 = none. */
  minCapacity: number;
  /** Batch-prioritised routing: within a rank, higher weight first. */
  bpr: boolean;
}

export const DROPLESS: CapacityOptions = {
  capacityFactor: null, evalCapacityFactor: null, mode: 'dynamic', kRef: null, minCapacity: 0, bpr: false,
};

/**
 * Slots per expert, or null when dropless (§15): C = ⌈cf · A / E⌉ with A = Σ_t k_t (top-1: A = T, top-k:
 * A = kT, variable k `dynamic`), or C = ⌈cf · k_ref · T / E⌉ (`static`); at least minCapacity.
 */
export function expertCapacity(opts: CapacityOptions, training: boolean, T: number, E: number, A: number): number | null {
  const cf = training ? opts.capacityFactor : opts.evalCapacityFactor;
  if (cf === null) return null;
  const load = opts.mode === 'static' && opts.kRef !== null ? opts.kRef * T : A;
  return Math.max(opts.minCapacity, ceilCount((cf * load) / E));
}

/**
 * Marks the pairs over capacity as dropped (in place) and returns C (null = dropless; with groups, the
 * largest group's C). `expertsPerToken` is the k of a fixed-k router (A = k·T: top-1, top-k, GShard's 2,
 * §15); variable-k routers leave it out and A = Σ_t k_t is counted. With `groups`, the T tokens form
 * that many contiguous routing groups of T/groups tokens, each with its own capacity (GShard, §4).
 */
export function applyCapacity(a: Assignment, T: number, E: number, opts: CapacityOptions, training: boolean,
  expertsPerToken?: number, groups = 1): number | null {
  const groupSize = T / groups;
  const groupOf = (pair: number) => Math.floor(a.token[pair] / groupSize);
  const pairsInGroup = new Int32Array(groups);
  for (let i = 0; i < pairCount(a); i++) pairsInGroup[groupOf(i)]++;
  const capacity = Array.from(pairsInGroup, (A) => expertCapacity(opts, training, groupSize, E, expertsPerToken !== undefined ? expertsPerToken * groupSize : A));
  if (capacity[0] === null) return null;
  const byPriority = Int32Array.from({ length: pairCount(a) }, (_, i) => i).sort((i, j) =>
    (a.expert[i] - a.expert[j]) || (a.rank[i] - a.rank[j]) ||
    (opts.bpr ? a.weight[j] - a.weight[i] : 0) || (a.token[i] - a.token[j]));
  const used = new Int32Array(groups * E); // [groups, E]
  for (const i of byPriority) {
    const slot = groupOf(i) * E + a.expert[i];
    if (used[slot] < capacity[groupOf(i)]!) used[slot]++;
    else a.dropped[i] = 1;
  }
  return Math.max(...(capacity as number[]));
}

/** Dropped pairs / all pairs (0 when there are none). */
export function droppedFraction(a: Assignment): number {
  const A = pairCount(a);
  let n = 0;
  for (let i = 0; i < A; i++) n += a.dropped[i];
  return A === 0 ? 0 : n / A;
}
