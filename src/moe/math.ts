// Shared router math (spec §0): row softmax computed in float64 from float32 logits and stored as
// float32, a stable descending order (ties → lower index), the softmax Jacobian-vector product, and the
// scalar functions the gates use. Every router imports these instead of writing its own.
import { MoekitError, ShapeError } from '../tensor/index.js';

/** Router input that cannot be routed (NaN logits, missing token ids); names the position. */
export class RoutingError extends MoekitError {}

/** Checks a [T, E] logits buffer: the length matches and no entry is NaN (names token and expert). */
export function checkLogits(logits: Float32Array, T: number, E: number, what = 'router logits'): void {
  if (logits.length !== T * E) throw new ShapeError(`${what}: expected [${T}, ${E}] = ${T * E} values, got ${logits.length}`);
  for (let i = 0; i < logits.length; i++) {
    if (Number.isNaN(logits[i])) {
      throw new RoutingError(`${what}: NaN at token ${Math.floor(i / E)}, expert ${i % E}`,
        'a NaN router logit usually means a diverged model: lower the learning rate or enable the z-loss');
    }
  }
}

/** softmax of each row of x [T, E] → [T, E] (§0: subtract the row max; f64 sums, f32 result). */
export function softmaxRows<O extends Float32Array | Float64Array = Float32Array>(x: ArrayLike<number>, T: number,
  E: number, temperature = 1, out: O = new Float32Array(T * E) as O): O {
  for (let t = 0; t < T; t++) softmaxInto(x, t * E, E, out, temperature);
  return out;
}

/** out[o..o+n) = softmax(x[o..o+n) / temperature). */
export function softmaxInto(x: ArrayLike<number>, o: number, n: number, out: Float32Array | Float64Array, temperature = 1): void {
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, x[o + j]);
  let sum = 0;
  for (let j = 0; j < n; j++) sum += Math.exp((x[o + j] - max) / temperature);
  for (let j = 0; j < n; j++) out[o + j] = Math.exp((x[o + j] - max) / temperature) / sum;
}

/** log Σ_j exp(x[o + j]) over one row of n values. */
export function logSumExp(x: ArrayLike<number>, o: number, n: number): number {
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, x[o + j]);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let j = 0; j < n; j++) sum += Math.exp(x[o + j] - max);
  return max + Math.log(sum);
}

/** Indices of x[o..o+n) sorted by value descending, ties → lower index first (§0). */
export function descendingOrder(x: ArrayLike<number>, o: number, n: number): Int32Array {
  const idx = Int32Array.from({ length: n }, (_, j) => j);
  return idx.sort((a, b) => (x[o + b] - x[o + a]) || (a - b));
}

/**
 * Softmax backward for one row: given P = softmax(z) and dL/dP, adds dL/dz_j = P_j (dP_j − Σ_i P_i dP_i)
 * to dz (§1.2: ∂P_i/∂z_j = P_i(δ_ij − P_j)). `scale` multiplies the result (1/τ for a temperature).
 */
export function softmaxBackwardRow(P: ArrayLike<number>, dP: ArrayLike<number>, o: number, n: number,
  dz: Float32Array, scale = 1): void {
  let dot = 0;
  for (let j = 0; j < n; j++) dot += P[o + j] * dP[o + j];
  for (let j = 0; j < n; j++) dz[o + j] += scale * P[o + j] * (dP[o + j] - dot);
}

/** Softmax backward for all T rows of [T, E]. */
export function softmaxBackward(P: ArrayLike<number>, dP: ArrayLike<number>, T: number, E: number, scale = 1): Float32Array {
  const dz = new Float32Array(T * E);
  for (let t = 0; t < T; t++) softmaxBackwardRow(P, dP, t * E, E, dz, scale);
  return dz;
}

/** Float32 comparison of a cumulative mass against a threshold (§1.1: fround(c) > fround(p)). */
export function exceeds(c: number, p: number, compare: 'gt' | 'ge'): boolean {
  const a = Math.fround(c);
  const b = Math.fround(p);
  return compare === 'gt' ? a > b : a >= b;
}

export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
export const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/** Standard normal density φ(x). */
export const normalPdf = (x: number): number => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

/** Standard normal CDF Φ(x) = erfc(−x/√2)/2 (erfc: Chebyshev fit, fractional error < 1.2e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
}

/** ⌈x⌉ robust to float noise in products like 1.1·10/11 = 1.0000000000000002 (§15 capacities). */
export const ceilCount = (x: number): number => Math.ceil(x - 1e-9);
