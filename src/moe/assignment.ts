// The routing result (spec §0): A (token, expert, weight, rank) pairs as parallel typed arrays, with a
// `dropped` flag set by capacity (§15). Variable k per token: no padding. Routers emit pairs token-major,
// ranks ascending within a token; the dispatch order (by expert, then rank, then token) is computed here.
import { RoutingError } from './math.js';

export interface Assignment {
  token: Int32Array; //   [A]
  expert: Int32Array; //  [A]
  weight: Float32Array; // [A] combine weight (a dropped pair keeps it for the record but contributes 0)
  rank: Int32Array; //    [A] position of the expert in the token's own preference order (0 = best)
  dropped: Uint8Array; // [A] 1 = over capacity
}

/** Growable builder: routers push pairs as they select them. */
export class AssignmentBuilder {
  private readonly token: number[] = [];
  private readonly expert: number[] = [];
  private readonly weight: number[] = [];
  private readonly rank: number[] = [];

  push(token: number, expert: number, weight: number, rank: number): void {
    this.token.push(token);
    this.expert.push(expert);
    this.weight.push(weight);
    this.rank.push(rank);
  }

  finish(): Assignment {
    return {
      token: Int32Array.from(this.token),
      expert: Int32Array.from(this.expert),
      weight: Float32Array.from(this.weight),
      rank: Int32Array.from(this.rank),
      dropped: new Uint8Array(this.token.length),
    };
  }
}

/** Number of pairs. */
export const pairCount = (a: Assignment): number => a.token.length;

/** k_t per token [T]; with `afterDrops`, dropped pairs are not counted (§16). */
export function kPerToken(a: Assignment, T: number, afterDrops = false): Int32Array {
  const k = new Int32Array(T);
  for (let i = 0; i < a.token.length; i++) if (!afterDrops || !a.dropped[i]) k[a.token[i]]++;
  return k;
}

/** Assignments per expert [E] (dropped included unless `afterDrops`): the `f` counts of the LB losses. */
export function expertCounts(a: Assignment, E: number, afterDrops = false): Int32Array {
  const n = new Int32Array(E);
  for (let i = 0; i < a.expert.length; i++) if (!afterDrops || !a.dropped[i]) n[a.expert[i]]++;
  return n;
}

/** The weights that reach the output: 0 for dropped pairs (§15). */
export function effectiveWeights(a: Assignment): Float32Array {
  return a.weight.map((w, i) => (a.dropped[i] ? 0 : w));
}

/** Stable counting sort of `order` by key(order[i]) ∈ [0, range). */
function countingSort(order: Int32Array, key: (pair: number) => number, range: number): Int32Array {
  const start = new Int32Array(range + 1);
  for (const p of order) start[key(p) + 1]++;
  for (let r = 0; r < range; r++) start[r + 1] += start[r];
  const out = new Int32Array(order.length);
  for (const p of order) out[start[key(p)]++] = p;
  return out;
}

export interface ExpertGroups {
  /** Pair indices in dispatch order: by expert, then rank, then token [A'] */
  order: Int32Array;
  /** order[offsets[e] .. offsets[e+1]) are expert e's pairs [E + 1] */
  offsets: Int32Array;
}

/**
 * Groups pairs by expert (the dispatch order the expert kernels use): a counting sort into expert order,
 * stable by (rank, token) — the capacity priority of §15. Dropped pairs are left out unless asked for.
 */
export function expertOffsets(a: Assignment, T: number, E: number, includeDropped = false): ExpertGroups {
  let order: Int32Array = Int32Array.from({ length: a.token.length }, (_, i) => i);
  if (!includeDropped) order = order.filter((i) => !a.dropped[i]);
  order = countingSort(order, (p) => a.token[p], T); // least significant key first (radix sort)
  order = countingSort(order, (p) => a.rank[p], E);
  order = countingSort(order, (p) => a.expert[p], E);
  const offsets = new Int32Array(E + 1);
  for (const p of order) offsets[a.expert[p] + 1]++;
  for (let e = 0; e < E; e++) offsets[e + 1] += offsets[e];
  return { order, offsets };
}

/**
 * Checks the invariants every router must keep: indices in range, finite non-negative weights, no
 * (token, expert) pair twice, and each token's ranks are 0..k_t−1.
 */
export function validateAssignment(a: Assignment, T: number, E: number): void {
  const A = a.token.length;
  for (const [name, arr] of [['expert', a.expert], ['weight', a.weight], ['rank', a.rank], ['dropped', a.dropped]] as const) {
    if (arr.length !== A) throw new RoutingError(`assignment: "${name}" has ${arr.length} entries, "token" has ${A}`);
  }
  const seen = new Uint8Array(T * E);
  const rankSeen = new Uint8Array(T * E);
  for (let i = 0; i < A; i++) {
    const t = a.token[i];
    const e = a.expert[i];
    const r = a.rank[i];
    if (t < 0 || t >= T) throw new RoutingError(`assignment pair ${i}: token ${t} outside [0, ${T})`);
    if (e < 0 || e >= E) throw new RoutingError(`assignment pair ${i}: expert ${e} outside [0, ${E})`);
    if (r < 0 || r >= E) throw new RoutingError(`assignment pair ${i}: rank ${r} outside [0, ${E})`);
    if (!(a.weight[i] >= 0) || !Number.isFinite(a.weight[i])) throw new RoutingError(`assignment pair ${i}: weight ${a.weight[i]} is not a finite number >= 0`);
    if (seen[t * E + e]) throw new RoutingError(`assignment pair ${i}: token ${t} is routed to expert ${e} twice`);
    if (rankSeen[t * E + r]) throw new RoutingError(`assignment pair ${i}: token ${t} has rank ${r} twice`);
    seen[t * E + e] = 1;
    rankSeen[t * E + r] = 1;
  }
  const k = kPerToken(a, T);
  for (let t = 0; t < T; t++) {
    for (let r = 0; r < k[t]; r++) {
      if (!rankSeen[t * E + r]) throw new RoutingError(`assignment: token ${t} has ${k[t]} pairs but no rank ${r}`);
    }
  }
}
