// Causal scaled-dot-product attention with grouped-query heads (GQA).
// Query head h reads kv head floor(h·nkv/nh); scores are scaled by 1/sqrt(hd); query t sees keys u ≤ t.
//
// Backward, per (b, h, t) with P = att[b,h,t,:] and dP[u] = dout_t · v_u:
//   dv_u += P[u]·dout_t;  dS[u] = P[u]·(dP[u] − Σ_u' P[u']·dP[u'])   (softmax backward)
//   dq_t += scale·Σ_u dS[u]·k_u;  dk_u += scale·dS[u]·q_t
// dk and dv sum over all query heads of a group and all queries, so they are gathered in float64
// per batch element and added to the caller's buffers once.
import type { F32 } from '../backend.js';
import { checkLength, checkSize } from './check.js';
import { scratch64 } from './scratch.js';

function checkAttention(k: string, B: number, T: number, nh: number, nkv: number, hd: number): void {
  checkSize(k, 'B', B);
  checkSize(k, 'T', T);
  checkSize(k, 'nh', nh);
  checkSize(k, 'nkv', nkv);
  checkSize(k, 'hd', hd);
  if (nkv === 0 || nh % nkv !== 0) throw new Error(`${k}: nh = ${nh} must be a multiple of nkv = ${nkv}`);
}

/** out [B,T,nh,hd], att [B,nh,T,T], q [B,T,nh,hd], k and v [B,T,nkv,hd]. */
export function attentionForward(out: F32, att: F32, q: F32, k: F32, v: F32,
  B: number, T: number, nh: number, nkv: number, hd: number): void {
  const kn = 'attentionForward';
  checkAttention(kn, B, T, nh, nkv, hd);
  checkLength(kn, 'out', out, B * T * nh * hd, 'B·T·nh·hd');
  checkLength(kn, 'att', att, B * nh * T * T, 'B·nh·T·T');
  checkLength(kn, 'q', q, B * T * nh * hd, 'B·T·nh·hd');
  checkLength(kn, 'k', k, B * T * nkv * hd, 'B·T·nkv·hd');
  checkLength(kn, 'v', v, B * T * nkv * hd, 'B·T·nkv·hd');
  const scale = 1 / Math.sqrt(hd);
  const p = scratch64(0, T); // [T] probabilities of one query row, float64
  const acc = scratch64(1, hd); // [hd] output row, float64
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < nh; h++) {
      const kvh = Math.floor((h * nkv) / nh);
      for (let t = 0; t < T; t++) {
        const qo = ((b * T + t) * nh + h) * hd;
        let max = -Infinity;
        for (let u = 0; u <= t; u++) {
          const ko = ((b * T + u) * nkv + kvh) * hd;
          let s = 0;
          for (let d = 0; d < hd; d++) s += q[qo + d] * k[ko + d];
          s *= scale;
          p[u] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let u = 0; u <= t; u++) {
          p[u] = Math.exp(p[u] - max);
          sum += p[u];
        }
        const ao = ((b * nh + h) * T + t) * T;
        acc.fill(0, 0, hd);
        for (let u = 0; u <= t; u++) {
          const pu = p[u] / sum;
          att[ao + u] = pu;
          const vo = ((b * T + u) * nkv + kvh) * hd;
          for (let d = 0; d < hd; d++) acc[d] += pu * v[vo + d];
        }
        for (let u = t + 1; u < T; u++) att[ao + u] = 0;
        for (let d = 0; d < hd; d++) out[qo + d] = acc[d];
      }
    }
  }
}

/** dq [B,T,nh,hd] +=, dk and dv [B,T,nkv,hd] +=; att is the forward's saved probabilities. */
export function attentionBackward(dq: F32, dk: F32, dv: F32, dout: F32, q: F32, k: F32, v: F32, att: F32,
  B: number, T: number, nh: number, nkv: number, hd: number): void {
  const kn = 'attentionBackward';
  checkAttention(kn, B, T, nh, nkv, hd);
  const qSize = B * T * nh * hd;
  const kvSize = B * T * nkv * hd;
  checkLength(kn, 'dq', dq, qSize, 'B·T·nh·hd');
  checkLength(kn, 'dk', dk, kvSize, 'B·T·nkv·hd');
  checkLength(kn, 'dv', dv, kvSize, 'B·T·nkv·hd');
  checkLength(kn, 'dout', dout, qSize, 'B·T·nh·hd');
  checkLength(kn, 'q', q, qSize, 'B·T·nh·hd');
  checkLength(kn, 'k', k, kvSize, 'B·T·nkv·hd');
  checkLength(kn, 'v', v, kvSize, 'B·T·nkv·hd');
  checkLength(kn, 'att', att, B * nh * T * T, 'B·nh·T·T');
  const scale = 1 / Math.sqrt(hd);
  const kvRow = T * nkv * hd; // elements of k (or v) per batch element
  const dkAcc = scratch64(0, kvRow); // [T,nkv,hd] of one batch element
  const dvAcc = scratch64(1, kvRow); // [T,nkv,hd]
  const dP = scratch64(2, T); // [T] gradient w.r.t. one row of probabilities, then dS
  const dqAcc = scratch64(3, hd); // [hd]
  for (let b = 0; b < B; b++) {
    dkAcc.fill(0, 0, kvRow);
    dvAcc.fill(0, 0, kvRow);
    for (let h = 0; h < nh; h++) {
      const kvh = Math.floor((h * nkv) / nh);
      for (let t = 0; t < T; t++) {
        const qo = ((b * T + t) * nh + h) * hd;
        const ao = ((b * nh + h) * T + t) * T;
        let pdp = 0; // Σ_u P[u]·dP[u]
        for (let u = 0; u <= t; u++) {
          const vo = ((b * T + u) * nkv + kvh) * hd;
          const lo = (u * nkv + kvh) * hd; // same row within the batch-local accumulators
          const pu = att[ao + u];
          let s = 0;
          for (let d = 0; d < hd; d++) {
            s += dout[qo + d] * v[vo + d];
            dvAcc[lo + d] += pu * dout[qo + d];
          }
          dP[u] = s;
          pdp += pu * s;
        }
        dqAcc.fill(0, 0, hd);
        for (let u = 0; u <= t; u++) {
          const ds = att[ao + u] * (dP[u] - pdp) * scale;
          const ko = ((b * T + u) * nkv + kvh) * hd;
          const lo = (u * nkv + kvh) * hd;
          for (let d = 0; d < hd; d++) {
            dqAcc[d] += ds * k[ko + d];
            dkAcc[lo + d] += ds * q[qo + d];
          }
        }
        for (let d = 0; d < hd; d++) dq[qo + d] += dqAcc[d];
      }
    }
    const off = b * kvRow;
    for (let i = 0; i < kvRow; i++) {
      dk[off + i] += dkAcc[i];
      dv[off + i] += dvAcc[i];
    }
  }
}
