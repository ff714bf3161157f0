// MoE dispatch → grouped expert GEMMs → combine. A = n (token, expert) pairs sorted by expert;
// rows [offsets[e], offsets[e+1]) of the dispatched buffers belong to expert e.
//
//   dispatch  gatherRows           out[i, :] = x[rows[i], :]              backward: scatterAddRows
//   experts   groupedMatmul        c[R_e] = a[R_e] · op(b_e)              backward: groupedMatmul (input
//                                                                          grad), groupedMatmulWeightGrad
//   combine   weightedScatterAdd   y[rows[i], :] += w[i] · x[i, :]       backward: weightedScatterAddBackward
//
// The scatter-adds accumulate each destination row in float64 (a token routed to several experts
// receives several rows) and round once, like the float64 GEMM accumulators of matmul.ts, so the
// oracle is more accurate than the float32 native kernels it is compared against.
import type { F32, I32 } from '../backend.js';
import { checkLength, checkSize } from './check.js';
import { matmul } from './matmul.js';
import { scratch64 } from './scratch.js';

/** T of a [T, D] buffer whose row count is implied by its length; throws unless D divides it. */
function rowsOf(k: string, name: string, buf: F32, D: number): number {
  if (buf.length % D !== 0) {
    throw new Error(`${k}: ${name} has ${buf.length} elements, expected a multiple of D = ${D}`);
  }
  return buf.length / D;
}

/** Every rows[i], i < n, lies in [0, T). Checked before any write, so a bad call changes nothing. */
function checkRows(k: string, rows: I32, n: number, T: number): void {
  for (let i = 0; i < n; i++) {
    if (rows[i] < 0 || rows[i] >= T) throw new Error(`${k}: rows[${i}] = ${rows[i]} is out of range [0, ${T})`);
  }
}

/** offsets [E+1]: offsets[0] = 0 and non-decreasing. Returns n = offsets[E], the number of rows. */
function checkOffsets(k: string, offsets: I32, E: number): number {
  checkLength(k, 'offsets', offsets, E + 1, 'E+1');
  if (offsets[0] !== 0) throw new Error(`${k}: offsets[0] = ${offsets[0]}, expected 0`);
  for (let e = 0; e < E; e++) {
    if (offsets[e + 1] < offsets[e]) {
      throw new Error(`${k}: offsets must be non-decreasing, but offsets[${e + 1}] = ${offsets[e + 1]} < ` +
        `offsets[${e}] = ${offsets[e]}`);
    }
  }
  return offsets[E];
}

/** out[n, D] = x[rows[i], :]; x [T, D], T = x.length / D. */
export function gatherRows(out: F32, x: F32, rows: I32, n: number, D: number): void {
  const k = 'gatherRows';
  checkSize(k, 'n', n);
  checkSize(k, 'D', D);
  checkLength(k, 'out', out, n * D, 'n·D');
  checkLength(k, 'rows', rows, n, 'n');
  if (D === 0) return; // nothing to copy, and T = x.length / D is undefined
  checkRows(k, rows, n, rowsOf(k, 'x', x, D));
  for (let i = 0; i < n; i++) {
    const src = rows[i] * D;
    const dst = i * D;
    for (let d = 0; d < D; d++) out[dst + d] = x[src + d];
  }
}

/** dx[rows[i], :] += dout[i, :]; dx [T, D], T = dx.length / D; dout [n, D]. */
export function scatterAddRows(dx: F32, dout: F32, rows: I32, n: number, D: number): void {
  const k = 'scatterAddRows';
  checkSize(k, 'n', n);
  checkSize(k, 'D', D);
  checkLength(k, 'dout', dout, n * D, 'n·D');
  checkLength(k, 'rows', rows, n, 'n');
  if (D === 0) return;
  checkRows(k, rows, n, rowsOf(k, 'dx', dx, D));
  const acc = scratch64(0, dx.length); // [T, D] float64 copy of dx
  for (let j = 0; j < dx.length; j++) acc[j] = dx[j];
  for (let i = 0; i < n; i++) {
    const dst = rows[i] * D;
    const src = i * D;
    for (let d = 0; d < D; d++) acc[dst + d] += dout[src + d];
  }
  for (let j = 0; j < dx.length; j++) dx[j] = acc[j];
}

/**
 * c[R_e, N] (= or +=) a[R_e, K] · op(b_e) for every expert e; b [E, N, K] (transB) or [E, K, N];
 * c [n, N], a [n, K] with n = offsets[E]. Each expert is one float64 matmul over its rows' views.
 */
export function groupedMatmul(c: F32, a: F32, b: F32, offsets: I32, E: number, N: number, K: number,
  transB: boolean, accumulate: boolean): void {
  const k = 'groupedMatmul';
  checkSize(k, 'E', E);
  checkSize(k, 'N', N);
  checkSize(k, 'K', K);
  const n = checkOffsets(k, offsets, E);
  checkLength(k, 'c', c, n * N, 'offsets[E]·N');
  checkLength(k, 'a', a, n * K, 'offsets[E]·K');
  checkLength(k, 'b', b, E * N * K, transB ? 'E·N·K' : 'E·K·N');
  for (let e = 0; e < E; e++) {
    const r0 = offsets[e], m = offsets[e + 1] - r0;
    if (m === 0) continue;
    matmul(c.subarray(r0 * N, (r0 + m) * N), a.subarray(r0 * K, (r0 + m) * K),
      b.subarray(e * N * K, (e + 1) * N * K), m, N, K, false, transB, accumulate);
  }
}

/** dw_e [N, K] += dy[R_e, N]ᵀ · x[R_e, K]; dw [E, N, K], dy [n, N], x [n, K], n = offsets[E]. */
export function groupedMatmulWeightGrad(dw: F32, dy: F32, x: F32, offsets: I32, E: number, N: number,
  K: number): void {
  const k = 'groupedMatmulWeightGrad';
  checkSize(k, 'E', E);
  checkSize(k, 'N', N);
  checkSize(k, 'K', K);
  const n = checkOffsets(k, offsets, E);
  checkLength(k, 'dw', dw, E * N * K, 'E·N·K');
  checkLength(k, 'dy', dy, n * N, 'offsets[E]·N');
  checkLength(k, 'x', x, n * K, 'offsets[E]·K');
  for (let e = 0; e < E; e++) {
    const r0 = offsets[e], m = offsets[e + 1] - r0;
    if (m === 0) continue;
    // dy_e stored [m, N] is op(a) = dy_eᵀ [N, m] with transA; x_e [m, K] is b: a TN GEMM over the m rows.
    matmul(dw.subarray(e * N * K, (e + 1) * N * K), dy.subarray(r0 * N, (r0 + m) * N),
      x.subarray(r0 * K, (r0 + m) * K), N, K, m, true, false, true);
  }
}

/** y[rows[i], :] += weights[i] · x[i, :]; y [T, D], T = y.length / D; x [n, D]; weights [n]. */
export function weightedScatterAdd(y: F32, x: F32, rows: I32, weights: F32, n: number, D: number): void {
  const k = 'weightedScatterAdd';
  checkSize(k, 'n', n);
  checkSize(k, 'D', D);
  checkLength(k, 'x', x, n * D, 'n·D');
  checkLength(k, 'rows', rows, n, 'n');
  checkLength(k, 'weights', weights, n, 'n');
  if (D === 0) return;
  checkRows(k, rows, n, rowsOf(k, 'y', y, D));
  const acc = scratch64(0, y.length); // [T, D] float64 copy of y
  for (let j = 0; j < y.length; j++) acc[j] = y[j];
  for (let i = 0; i < n; i++) {
    const dst = rows[i] * D;
    const src = i * D;
    const w = weights[i];
    for (let d = 0; d < D; d++) acc[dst + d] += w * x[src + d];
  }
  for (let j = 0; j < y.length; j++) y[j] = acc[j];
}

/**
 * dx[i, :] += weights[i] · dy[rows[i], :] and dweights[i] += dy[rows[i], :] · x[i, :];
 * dy [T, D], T = dy.length / D; dx, x [n, D]; dweights, weights [n].
 */
export function weightedScatterAddBackward(dx: F32, dweights: F32, dy: F32, x: F32, rows: I32, weights: F32,
  n: number, D: number): void {
  const k = 'weightedScatterAddBackward';
  checkSize(k, 'n', n);
  checkSize(k, 'D', D);
  checkLength(k, 'dx', dx, n * D, 'n·D');
  checkLength(k, 'dweights', dweights, n, 'n');
  checkLength(k, 'x', x, n * D, 'n·D');
  checkLength(k, 'rows', rows, n, 'n');
  checkLength(k, 'weights', weights, n, 'n');
  if (D === 0) return; // dweights[i] += an empty sum
  checkRows(k, rows, n, rowsOf(k, 'dy', dy, D));
  for (let i = 0; i < n; i++) {
    const src = rows[i] * D;
    const row = i * D;
    const w = weights[i];
    let s = 0;
    for (let d = 0; d < D; d++) {
      const g = dy[src + d];
      dx[row + d] += w * g;
      s += g * x[row + d];
    }
    dweights[i] += s;
  }
}
