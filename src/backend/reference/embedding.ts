// Token embedding: a row gather forward, a row scatter-add backward.
import type { F32, I32 } from '../backend.js';
import { checkLength, checkSize } from './check.js';
import { bf16ToF32, f16ToF32 } from './dtype.js';

/** The checks of a row gather: sizes, lengths, and every id in [0, V) before anything is written. */
function checkGather(k: string, out: F32, ids: I32, table: ArrayLike<number>, T: number, D: number, V: number): void {
  checkSize(k, 'T', T);
  checkSize(k, 'D', D);
  checkSize(k, 'V', V);
  checkLength(k, 'out', out, T * D, 'T·D');
  checkLength(k, 'ids', ids, T, 'T');
  checkLength(k, 'table', table, V * D, 'V·D');
  for (let t = 0; t < T; t++) {
    if (ids[t] < 0 || ids[t] >= V) throw new Error(`${k}: ids[${t}] = ${ids[t]} is out of range [0, ${V})`);
  }
}

/** out[T,D] = table[ids[t], :]; ids [T] in [0, V); table [V,D]. */
export function embeddingForward(out: F32, ids: I32, table: F32, T: number, D: number, V: number): void {
  checkGather('embeddingForward', out, ids, table, T, D, V);
  for (let t = 0; t < T; t++) {
    const src = ids[t] * D;
    const dst = t * D;
    for (let d = 0; d < D; d++) out[dst + d] = table[src + d];
  }
}

/** embeddingForward from a table of bf16 (bf16 = true) or f16 bits, each row widened exactly. */
export function embeddingForwardHalf(out: F32, ids: I32, table: Uint16Array, bf16: boolean, T: number, D: number, V: number): void {
  checkGather('embeddingForwardHalf', out, ids, table, T, D, V);
  const widen = bf16 ? bf16ToF32 : f16ToF32;
  for (let t = 0; t < T; t++) widen(out.subarray(t * D, (t + 1) * D), table.subarray(ids[t] * D, (ids[t] + 1) * D), D);
}

/** dtable[ids[t], :] += dout[t, :]; dtable [V,D] (V = dtable.length / D), dout [T,D]. */
export function embeddingBackward(dtable: F32, dout: F32, ids: I32, T: number, D: number): void {
  const k = 'embeddingBackward';
  checkSize(k, 'T', T);
  checkSize(k, 'D', D);
  checkLength(k, 'dout', dout, T * D, 'T·D');
  checkLength(k, 'ids', ids, T, 'T');
  if (D === 0) return; // nothing to scatter, and V = dtable.length / D is undefined
  if (dtable.length % D !== 0) {
    throw new Error(`${k}: dtable has ${dtable.length} elements, expected a multiple of D = ${D}`);
  }
  const V = dtable.length / D;
  for (let t = 0; t < T; t++) {
    if (ids[t] < 0 || ids[t] >= V) throw new Error(`${k}: ids[${t}] = ${ids[t]} is out of range [0, ${V})`);
  }
  for (let t = 0; t < T; t++) {
    const dst = ids[t] * D;
    const src = t * D;
    for (let d = 0; d < D; d++) dtable[dst + d] += dout[src + d];
  }
}
