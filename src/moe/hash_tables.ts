// Hash-routing tables (spec §7): token id → expert, built once and saved with the checkpoint as plain
// data (the `table` of a hash router config).
import type { RandomSource } from './routers/types.js';

/** Random hash: id → U{0..E−1}, drawn once (§7). */
export function randomHashTable(vocabSize: number, E: number, rng: RandomSource): Int32Array {
  return Int32Array.from({ length: vocabSize }, () => Math.floor(rng.uniform() * E));
}

/** Balanced hash (§7): ids by frequency descending, each to the least-loaded bucket (ties → lower bucket). */
export function balancedHashTable(frequencies: ArrayLike<number>, E: number): Int32Array {
  const byFrequency = Int32Array.from({ length: frequencies.length }, (_, id) => id)
    .sort((a, b) => (frequencies[b] - frequencies[a]) || (a - b));
  const load = new Float64Array(E);
  const table = new Int32Array(frequencies.length);
  for (const id of byFrequency) {
    let bucket = 0;
    for (let e = 1; e < E; e++) if (load[e] < load[bucket]) bucket = e;
    table[id] = bucket;
    load[bucket] += frequencies[id];
  }
  return table;
}

/** Clustered hash (§7): cluster c (k-means with K = E on token embeddings) → expert c. */
export function clusteredHashTable(clusterOf: ArrayLike<number>): Int32Array {
  return Int32Array.from(clusterOf);
}

/** Dispersed hash (§7): the j-th member of each cluster (ids ascending) → expert j mod E. */
export function dispersedHashTable(clusterOf: ArrayLike<number>, E: number): Int32Array {
  const seenInCluster = new Map<number, number>();
  return Int32Array.from(clusterOf, (c) => {
    const j = seenInCluster.get(c) ?? 0;
    seenInCluster.set(c, j + 1);
    return j % E;
  });
}

/**
 * k-means (K clusters, Lloyd's iterations) on V embeddings [V, d], initialised with K distinct rows drawn
 * from rng: the clusters that clusteredHashTable / dispersedHashTable take.
 */
export function kMeans(embeddings: Float32Array, V: number, d: number, K: number, rng: RandomSource, iterations = 20): Int32Array {
  const ids = Int32Array.from({ length: V }, (_, i) => i);
  for (let i = 0; i < K; i++) { const j = i + Math.floor(rng.uniform() * (V - i)); [ids[i], ids[j]] = [ids[j], ids[i]]; }
  const centroids = new Float64Array(K * d);
  for (let c = 0; c < K; c++) for (let x = 0; x < d; x++) centroids[c * d + x] = embeddings[ids[c] * d + x];
  const clusterOf = new Int32Array(V);
  for (let it = 0; it < iterations; it++) {
    for (let v = 0; v < V; v++) {
      let best = Infinity;
      for (let c = 0; c < K; c++) {
        let dist = 0;
        for (let x = 0; x < d; x++) dist += (embeddings[v * d + x] - centroids[c * d + x]) ** 2;
        if (dist < best) { best = dist; clusterOf[v] = c; }
      }
    }
    const size = new Int32Array(K);
    const sum = new Float64Array(K * d);
    for (let v = 0; v < V; v++) {
      size[clusterOf[v]]++;
      for (let x = 0; x < d; x++) sum[clusterOf[v] * d + x] += embeddings[v * d + x];
    }
    for (let c = 0; c < K; c++) if (size[c] > 0) for (let x = 0; x < d; x++) centroids[c * d + x] = sum[c * d + x] / size[c];
  }
  return clusterOf;
}
