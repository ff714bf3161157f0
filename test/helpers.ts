// Shared test helpers: a seeded RNG, random typed arrays, and closeness assertions.
// Tests must be reproducible, so nothing here uses Math.random.
import assert from 'node:assert/strict';

/**
 * mulberry32: a tiny seeded generator, uniform in [0, 1) with 32 bits of resolution. Good enough for
 * test data; not the library's Rng (src/tensor/rng.ts), so tests do not depend on the code they test.
 */
export class TestRng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.uniform() * (hi - lo));
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = Math.max(this.uniform(), 1e-300);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** k distinct indices from [0, n), in increasing order (all of them when k >= n). */
  sample(n: number, k: number): number[] {
    const idx = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < Math.min(k, n); i++) {
      const j = this.int(i, n);
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    return idx.slice(0, Math.min(k, n)).sort((a, b) => a - b);
  }
}

/** n values uniform in [lo, hi). */
export function rand(rng: TestRng, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.uniform();
  return out;
}

/** n values from N(0, std²). */
export function randn(rng: TestRng, n: number, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = std * rng.normal();
  return out;
}

/** n integers uniform in [lo, hi). */
export function randInt(rng: TestRng, n: number, lo: number, hi: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(lo, hi);
  return out;
}

export interface Tolerance {
  /** Absolute tolerance (default 0). */
  abs?: number;
  /** Relative tolerance, times |expected| (default 0). */
  rel?: number;
}

/** True when |a − b| <= max(abs, rel·|b|); NaN matches only NaN, ±inf only itself. */
export function close(a: number, b: number, tol: Tolerance): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= Math.max(tol.abs ?? 0, (tol.rel ?? 0) * Math.abs(b));
}

/**
 * Asserts actual ≈ expected element-wise (or as scalars) within tol; the failure message names the
 * first mismatching index, both values, and how many elements mismatch.
 */
export function assertClose(actual: ArrayLike<number> | number, expected: ArrayLike<number> | number,
  tol: Tolerance = { abs: 1e-6, rel: 1e-6 }, label = 'value'): void {
  if (typeof actual === 'number' || typeof expected === 'number') {
    assert.ok(typeof actual === 'number' && typeof expected === 'number', `${label}: scalar vs array`);
    assert.ok(close(actual, expected, tol), `${label}: got ${actual}, expected ${expected} (tol ${JSON.stringify(tol)})`);
    return;
  }
  assert.equal(actual.length, expected.length, `${label}: length`);
  let first = -1;
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    if (!close(actual[i], expected[i], tol)) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad > 0) {
    assert.fail(`${label}[${first}]: got ${actual[first]}, expected ${expected[first]} ` +
      `(${bad} of ${actual.length} elements outside tol ${JSON.stringify(tol)})`);
  }
}
