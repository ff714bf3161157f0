// Routing statistics of one MoE layer (spec §16): experts per token before/after drops, load and its
// balance, drops, router entropy, and activated parameters per token.
import { expertCounts, kPerToken, pairCount, type Assignment } from './assignment.js';
import { droppedFraction } from './capacity.js';

export interface RoutingStats {
  /** k̄ = (1/T) Σ_t k_t before and after capacity drops. */
  meanK: number;
  meanKAfterDrops: number;
  /** kHistogram[k] = tokens with k experts (before drops), k = 0..E. */
  kHistogram: number[];
  /** n_e: pairs processed by expert e (after drops) [E], and n_e / Σ n. */
  load: number[];
  loadFraction: number[];
  /** Population std / mean of the load; MaxVio = (max − mean) / mean. */
  loadCv: number;
  maxVio: number;
  /** Experts that processed nothing. */
  deadExperts: number[];
  /** Dropped pairs / all pairs, and tokens that lost every pair / T. */
  droppedFraction: number;
  droppedTokenFraction: number;
  /** mean_t H(P_t) in nats, and divided by ln E. */
  entropy: number;
  entropyNormalized: number;
}

/** Population standard deviation / mean (0 for a zero mean). */
export function coefficientOfVariation(x: ArrayLike<number>): number {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i] / n;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (x[i] - mean) ** 2 / n;
  return mean === 0 ? 0 : Math.sqrt(variance) / mean;
}

/** mean_t −Σ_e P log P over the rows of probs [T, E] (0·log 0 = 0). */
export function meanEntropy(probs: Float32Array, T: number, E: number): number {
  let total = 0;
  for (let i = 0; i < T * E; i++) if (probs[i] > 0) total -= probs[i] * Math.log(probs[i]);
  return T === 0 ? 0 : total / T;
}

export function routingStats(a: Assignment, probs: Float32Array, T: number, E: number): RoutingStats {
  const kBefore = kPerToken(a, T);
  const kAfter = kPerToken(a, T, true);
  const load = Array.from(expertCounts(a, E, true));
  const totalLoad = load.reduce((s, n) => s + n, 0);
  const meanLoad = totalLoad / E;
  const kHistogram = new Array<number>(E + 1).fill(0);
  for (const k of kBefore) kHistogram[k]++;
  let lostTokens = 0;
  for (let t = 0; t < T; t++) if (kBefore[t] > 0 && kAfter[t] === 0) lostTokens++;
  const entropy = meanEntropy(probs, T, E);
  return {
    meanK: pairCount(a) / T,
    meanKAfterDrops: totalLoad / T,
    kHistogram,
    load,
    loadFraction: load.map((n) => (totalLoad === 0 ? 0 : n / totalLoad)),
    loadCv: coefficientOfVariation(load),
    maxVio: meanLoad === 0 ? 0 : (Math.max(...load) - meanLoad) / meanLoad,
    deadExperts: load.flatMap((n, e) => (n === 0 ? [e] : [])),
    droppedFraction: droppedFraction(a),
    droppedTokenFraction: lostTokens / T,
    entropy,
    entropyNormalized: E > 1 ? entropy / Math.log(E) : 0,
  };
}

/**
 * Activated parameters per token (§16): non-expert parameters (attention, norms, routers, dense FFNs,
 * shared experts, residual MLPs, embeddings as the caller chooses) + Σ_l k̄_l · params_per_expert_l.
 */
export function activatedParamsPerToken(nonExpertParams: number, meanKPerLayer: readonly number[],
  paramsPerExpert: number | readonly number[]): number {
  return meanKPerLayer.reduce((sum, k, l) => sum + k * (typeof paramsPerExpert === 'number' ? paramsPerExpert : paramsPerExpert[l]), nonExpertParams);
}

/** A routed group of T tokens: its assignment and router probabilities [T, E]. */
export interface RoutedGroup {
  assignment: Assignment;
  probs: Float32Array;
  T: number;
}

/**
 * Several routed groups (e.g. the batches of an evaluation set) as one group of ΣT tokens — token
 * indices offset per group — so §16 statistics cover the whole set, not an average of batch averages.
 */
export function concatGroups(groups: readonly RoutedGroup[], E: number): RoutedGroup {
  const A = groups.reduce((s, g) => s + g.assignment.token.length, 0);
  const T = groups.reduce((s, g) => s + g.T, 0);
  const out: Assignment = {
    token: new Int32Array(A), expert: new Int32Array(A), weight: new Float32Array(A), rank: new Int32Array(A), dropped: new Uint8Array(A),
  };
  const probs = new Float32Array(T * E);
  let pairs = 0;
  let tokens = 0;
  for (const g of groups) {
    const a = g.assignment;
    for (let i = 0; i < a.token.length; i++) out.token[pairs + i] = a.token[i] + tokens;
    out.expert.set(a.expert, pairs);
    out.weight.set(a.weight, pairs);
    out.rank.set(a.rank, pairs);
    out.dropped.set(a.dropped, pairs);
    probs.set(g.probs.subarray(0, g.T * E), tokens * E);
    pairs += a.token.length;
    tokens += g.T;
  }
  return { assignment: out, probs, T };
}
