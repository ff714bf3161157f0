// Multi-head latent attention (src/nn/mla.ts) in llama.cpp's deepseek2 layout: the two tensor
// rearrangements the exporter needs beyond renaming.
//   kv_b_proj [nh·(dn + dv), kvr] (per head: dn k_nope rows, then dv v rows) becomes llama.cpp's absorbed
//   form: attn_k_b ne [dn, kvr, nh] (each head's k block transposed, so q_nope·W_kb lands in the latent)
//   and attn_v_b ne [kvr, dv, nh] (each head's v block as is).
//   RoPE: deepseek2 rotates adjacent pairs (2j, 2j+1) of the rope slice (llama.cpp's NORM RoPE), which is
//   how DeepSeek stores them when rope_interleave is set; rotate-half rope slices are permuted (§5.5).

/** The k and v halves of kv_b_proj [nh·(dn + dv), kvr]: kB [nh, kvr, dn], vB [nh, dv, kvr]. */
export function splitKvB(w: Float32Array, heads: number, dn: number, dv: number, kvr: number): { kB: Float32Array; vB: Float32Array } {
  const kB = new Float32Array(heads * kvr * dn);
  const vB = new Float32Array(heads * dv * kvr);
  for (let h = 0; h < heads; h++) {
    const head = h * (dn + dv) * kvr; // first row of head h
    for (let j = 0; j < dn; j++) {
      for (let c = 0; c < kvr; c++) kB[(h * kvr + c) * dn + j] = w[head + j * kvr + c];
    }
    vB.set(w.subarray(head + dn * kvr, head + (dn + dv) * kvr), h * dv * kvr);
  }
  return { kB, vB };
}

/**
 * Rows of a [groups·groupRows, cols] projection with the rope slice rows offset .. offset + dr of each
 * group in rotate-half order, moved to adjacent pairs: new[offset + 2j + s] = old[offset + s·dr/2 + j].
 */
export function ropeSliceToPairs(w: Float32Array, groups: number, groupRows: number, offset: number, dr: number, cols: number): Float32Array {
  const out = Float32Array.from(w);
  const half = dr / 2;
  for (let g = 0; g < groups; g++) {
    for (let s = 0; s < 2; s++) {
      for (let j = 0; j < half; j++) {
        const from = (g * groupRows + offset + s * half + j) * cols;
        out.set(w.subarray(from, from + cols), (g * groupRows + offset + 2 * j + s) * cols);
      }
    }
  }
  return out;
}
