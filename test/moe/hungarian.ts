// The test oracle for BASE's auction (spec §8 [moekit]: "the reference may solve it exactly"): the
// optimal balanced assignment by the Hungarian algorithm, an independent method reaching the optimum.
/**
 * The exact balanced assignment (§8 [moekit]: the optimum the auction algorithm approaches): maximise
 * Σ_t s_{t,a_t} with at most ⌈T/E⌉ tokens per expert (exactly T/E when E divides T). Hungarian algorithm
 * (shortest augmenting paths with potentials) on T tokens × E·⌈T/E⌉ slots; O(T³). Returns a_t [T].
 */
export function hungarianAssignment(scores: Float32Array, T: number, E: number): Int32Array {
  const slots = Math.ceil(T / E);
  const m = E * slots; // slot j (1-based) belongs to expert ⌊(j−1)/slots⌋
  const cost = (t: number, j: number) => -scores[t * E + Math.floor((j - 1) / slots)];
  const u = new Float64Array(T + 1); // token potentials
  const v = new Float64Array(m + 1); // slot potentials
  const owner = new Int32Array(m + 1); // token (1-based) holding slot j, 0 = free
  const way = new Int32Array(m + 1);
  for (let token = 1; token <= T; token++) {
    owner[0] = token;
    let j0 = 0;
    const minv = new Float64Array(m + 1).fill(Infinity);
    const used = new Uint8Array(m + 1);
    do { // grow the alternating tree until it reaches a free slot
      used[j0] = 1;
      const i0 = owner[j0];
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const reduced = cost(i0 - 1, j) - u[i0] - v[j];
        if (reduced < minv[j]) { minv[j] = reduced; way[j] = j0; }
        if (minv[j] < delta) { delta = minv[j]; j1 = j; }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) { u[owner[j]] += delta; v[j] -= delta; } else minv[j] -= delta;
      }
      j0 = j1;
    } while (owner[j0] !== 0);
    do { const j1 = way[j0]; owner[j0] = owner[j1]; j0 = j1; } while (j0 !== 0); // augment
  }
  const expertOf = new Int32Array(T);
  for (let j = 1; j <= m; j++) if (owner[j] !== 0) expertOf[owner[j] - 1] = Math.floor((j - 1) / slots);
  return expertOf;
}
