// Optimizer step and gradient-norm utility.
import type { F32 } from '../backend.js';
import { checkLength, checkSize } from './check.js';

/**
 * Fused AdamW step (decoupled weight decay), exactly as documented in backend.ts; step counts from 1.
 * The gradient is scaled by gradScale on the fly: the grad buffer itself is left unchanged.
 * The moments are updated in float64 and stored as float32; the update uses the unrounded values.
 */
export function adamw(param: F32, grad: F32, m: F32, v: F32, n: number, lr: number, beta1: number,
  beta2: number, eps: number, weightDecay: number, step: number, gradScale: number): void {
  const k = 'adamw';
  checkSize(k, 'n', n);
  checkLength(k, 'param', param, n, 'n');
  checkLength(k, 'grad', grad, n, 'n');
  checkLength(k, 'm', m, n, 'n');
  checkLength(k, 'v', v, n, 'n');
  if (!Number.isInteger(step) || step < 1) throw new Error(`adamw: step must be an integer >= 1 (got ${step})`);
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  for (let i = 0; i < n; i++) {
    const g = grad[i] * gradScale;
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const p = param[i];
    param[i] = p - lr * ((mi / bc1) / (Math.sqrt(vi / bc2) + eps) + weightDecay * p);
  }
}

/** Σ x² over x[n], accumulated in float64. */
export function sumSquares(x: F32, n: number): number {
  checkSize('sumSquares', 'n', n);
  checkLength('sumSquares', 'x', x, n, 'n');
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i] * x[i];
  return s;
}
