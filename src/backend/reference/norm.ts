// RMSNorm: out = x · rstd · w, rstd = 1/sqrt(mean(x²) + eps), one rstd per row.
//
// Backward (per row, r = rstd, s = Σ_j dout_j·w_j·x_j):
//   ∂r/∂x_i = −r³·x_i/D, so dx_i = r·w_i·dout_i − (r³/D)·x_i·s  and  dw_i = dout_i·x_i·r.
import type { F32 } from '../backend.js';
import { checkLength, checkSize } from './check.js';

/** out[T,D], rstd[T] (saved for backward), x[T,D], w[D]. */
export function rmsnormForward(out: F32, rstd: F32, x: F32, w: F32, T: number, D: number, eps: number): void {
  const k = 'rmsnormForward';
  checkSize(k, 'T', T);
  checkSize(k, 'D', D);
  checkLength(k, 'out', out, T * D, 'T·D');
  checkLength(k, 'rstd', rstd, T, 'T');
  checkLength(k, 'x', x, T * D, 'T·D');
  checkLength(k, 'w', w, D, 'D');
  for (let t = 0; t < T; t++) {
    const row = t * D;
    let ss = 0;
    for (let d = 0; d < D; d++) ss += x[row + d] * x[row + d];
    const r = 1 / Math.sqrt(ss / D + eps);
    rstd[t] = r;
    for (let d = 0; d < D; d++) out[row + d] = x[row + d] * r * w[d];
  }
}

/** dx[T,D] +=, dw[D] += ; needs x, w and the rstd saved by the forward. */
export function rmsnormBackward(dx: F32, dw: F32, dout: F32, x: F32, w: F32, rstd: F32,
  T: number, D: number): void {
  const k = 'rmsnormBackward';
  checkSize(k, 'T', T);
  checkSize(k, 'D', D);
  checkLength(k, 'dx', dx, T * D, 'T·D');
  checkLength(k, 'dw', dw, D, 'D');
  checkLength(k, 'dout', dout, T * D, 'T·D');
  checkLength(k, 'x', x, T * D, 'T·D');
  checkLength(k, 'w', w, D, 'D');
  checkLength(k, 'rstd', rstd, T, 'T');
  for (let t = 0; t < T; t++) {
    const row = t * D;
    const r = rstd[t];
    let s = 0;
    for (let d = 0; d < D; d++) s += dout[row + d] * w[d] * x[row + d];
    const c = (r * r * r * s) / D;
    for (let d = 0; d < D; d++) {
      dx[row + d] += r * w[d] * dout[row + d] - c * x[row + d];
      dw[d] += dout[row + d] * x[row + d] * r;
    }
  }
}
