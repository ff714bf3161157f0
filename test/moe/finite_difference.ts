// Finite-difference oracle for router gradients, shared by the router tests.
import assert from 'node:assert/strict';
import type { Assignment } from '../../src/moe/index.js';

/** Whether two assignments select the same pairs (tokens, experts, ranks, drops); weights may differ. */
export const sameSelection = (a: Assignment, b: Assignment) =>
  (['token', 'expert', 'rank', 'dropped'] as const).every((k) => {
    const x = a[k];
    const y = b[k];
    return x.length === y.length && x.every((v, i) => v === y[i]);
  });

/**
 * Central finite differences of f over the float32 entries of x [rows, E] (the selection must not change:
 * such coordinates are skipped) against the analytic gradient. Returns how many coordinates were checked.
 */
export function checkGradient(label: string, x: Float32Array, analytic: Float32Array,
  f: (x: Float32Array) => { value: number; assignment: Assignment }, reference: Assignment, E: number): number {
  let checked = 0;
  for (let i = 0; i < x.length; i++) {
    const plus = x.slice();
    const minus = x.slice();
    plus[i] = Math.fround(x[i] + 1e-3);
    minus[i] = Math.fround(x[i] - 1e-3);
    const fp = f(plus);
    const fm = f(minus);
    if (!sameSelection(fp.assignment, reference) || !sameSelection(fm.assignment, reference)) continue;
    const numeric = (fp.value - fm.value) / (plus[i] - minus[i]);
    const tol = 2e-4 + 2e-2 * Math.abs(numeric);
    assert.ok(Math.abs(numeric - analytic[i]) <= tol, `${label}: d/dx[${i}] (token ${Math.floor(i / E)}) numeric ${numeric}, analytic ${analytic[i]}`);
    checked++;
  }
  return checked;
}
