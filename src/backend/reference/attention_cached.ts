// Attention of Tq new query rows against a KV cache (inference): the oracle of native/attention_cached.cc.
// Query row i sits at position start+i and sees cached keys 0 .. start+i; query head h reads kv head
// floor(h·nkv/nh); the caller gives the scale (1/sqrt(dk) for LLaMA, MLA its own). K and V rows may have
// different head widths (dk ≠ dv: MLA).
import type { F32 } from '../backend.js';
import { checkSize } from './check.js';
import { scratch64 } from './scratch.js';

function checkAtLeast(kernel: string, name: string, arr: ArrayLike<number>, min: number, formula: string): void {
  if (arr.length < min) throw new Error(`${kernel}: ${name} has ${arr.length} elements, expected at least ${formula} = ${min}`);
}

/**
 * out [Tq, nh·dv]; q [Tq, nh·dk]; kcache [≥ start+Tq, nkv·dk]; vcache [≥ start+Tq, nkv·dv].
 * Scores and the weighted sum accumulate in float64.
 */
export function cachedAttentionForward(out: F32, q: F32, kcache: F32, vcache: F32, Tq: number, start: number,
  nh: number, nkv: number, dk: number, dv: number, scale: number): void {
  const kn = 'cachedAttentionForward';
  for (const [name, n] of [['Tq', Tq], ['start', start], ['nh', nh], ['nkv', nkv], ['dk', dk], ['dv', dv]] as const) {
    checkSize(kn, name, n);
  }
  if (nkv === 0 || nh % nkv !== 0) throw new Error(`${kn}: nh = ${nh} must be a multiple of nkv = ${nkv} >= 1`);
  if (dk === 0 || dv === 0) throw new Error(`${kn}: dk and dv must be >= 1`);
  const Tk = start + Tq;
  checkAtLeast(kn, 'out', out, Tq * nh * dv, 'Tq·nh·dv');
  checkAtLeast(kn, 'q', q, Tq * nh * dk, 'Tq·nh·dk');
  checkAtLeast(kn, 'kcache', kcache, Tk * nkv * dk, '(start+Tq)·nkv·dk');
  checkAtLeast(kn, 'vcache', vcache, Tk * nkv * dv, '(start+Tq)·nkv·dv');
  const p = scratch64(0, Tk); // [Tk] probabilities of one query row
  const acc = scratch64(1, dv); // [dv] output row
  for (let i = 0; i < Tq; i++) {
    const n = start + i + 1;
    for (let h = 0; h < nh; h++) {
      const g = Math.floor((h * nkv) / nh);
      const qo = (i * nh + h) * dk;
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        const ko = (j * nkv + g) * dk;
        let s = 0;
        for (let d = 0; d < dk; d++) s += q[qo + d] * kcache[ko + d];
        p[j] = s * scale;
        if (p[j] > max) max = p[j];
      }
      let sum = 0;
      for (let j = 0; j < n; j++) {
        p[j] = Math.exp(p[j] - max);
        sum += p[j];
      }
      acc.fill(0, 0, dv);
      for (let j = 0; j < n; j++) {
        const vo = (j * nkv + g) * dv;
        for (let d = 0; d < dv; d++) acc[d] += p[j] * vcache[vo + d];
      }
      const oo = (i * nh + h) * dv;
      for (let d = 0; d < dv; d++) out[oo + d] = acc[d] / sum;
    }
  }
}
