// Element-wise kernels: SwiGLU and the small vector utilities (scale, add).
//
// SwiGLU: out = silu(g)·u with silu(g) = g·σ(g), so
//   dgate = dout·u·σ(g)·(1 + g·(1 − σ(g))),  dup = dout·silu(g).
import type { F32 } from '../backend.js';
import { checkLength, checkSize } from './check.js';

/** σ(x) without overflow: exp(−x) → ∞ for very negative x gives 0, the correct limit. */
function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** out[n] = silu(gate)·up. */
export function swigluForward(out: F32, gate: F32, up: F32, n: number): void {
  const k = 'swigluForward';
  checkSize(k, 'n', n);
  checkLength(k, 'out', out, n, 'n');
  checkLength(k, 'gate', gate, n, 'n');
  checkLength(k, 'up', up, n, 'n');
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    out[i] = g * sigmoid(g) * up[i];
  }
}

/** dgate[n] +=, dup[n] +=. */
export function swigluBackward(dgate: F32, dup: F32, dout: F32, gate: F32, up: F32, n: number): void {
  const k = 'swigluBackward';
  checkSize(k, 'n', n);
  checkLength(k, 'dgate', dgate, n, 'n');
  checkLength(k, 'dup', dup, n, 'n');
  checkLength(k, 'dout', dout, n, 'n');
  checkLength(k, 'gate', gate, n, 'n');
  checkLength(k, 'up', up, n, 'n');
  for (let i = 0; i < n; i++) {
    const g = gate[i];
    const s = sigmoid(g);
    dgate[i] += dout[i] * up[i] * s * (1 + g * (1 - s));
    dup[i] += dout[i] * g * s;
  }
}

/** x[n] *= s. */
export function scale(x: F32, n: number, s: number): void {
  checkSize('scale', 'n', n);
  checkLength('scale', 'x', x, n, 'n');
  for (let i = 0; i < n; i++) x[i] *= s;
}

/** out[n] = a + b; out may alias a or b (each element is read before it is written). */
export function add(out: F32, a: F32, b: F32, n: number): void {
  const k = 'add';
  checkSize(k, 'n', n);
  checkLength(k, 'out', out, n, 'n');
  checkLength(k, 'a', a, n, 'n');
  checkLength(k, 'b', b, n, 'n');
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}
