// The MoE kernels (dispatch → grouped expert GEMMs → combine), in three layers:
//   (a) the reference backend against small cases worked by hand, and its argument checks;
//   (b) finite-difference gradient checks of the reference: each backward kernel against its forward;
//   (c) native against reference on randomized routings (odd sizes, variable k, empty experts,
//       uneven groups), with pre-filled outputs for the accumulating kernels, and 1 and 2 threads each
//       bit-identical on repeat. Skipped when the native build cannot be loaded.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nativeLoadError, referenceBackend as ref, tryNativeBackend, type Backend } from '../../src/backend/index.js';
import { TestRng, assertClose, rand, randn } from '../helpers.js';

const f32 = (xs: number[]) => Float32Array.from(xs);
const i32 = (xs: number[]) => Int32Array.from(xs);
const fill = (n: number, v: number) => new Float32Array(n).fill(v);
const EXACT = { abs: 0, rel: 0 };

// ---- (a) hand-computed cases -----------------------------------------------------------------------

describe('MoE reference kernels: worked examples', () => {
  // x [T=3, D=2]; pairs in expert order route token 2 twice (rows repeat).
  const x = f32([1, 2, 3, 4, 5, 6]);
  const rows = i32([2, 0, 2, 1]);

  it('gatherRows copies x[rows[i]] (repeated rows copied twice)', () => {
    const out = fill(8, NaN); // every element must be written
    ref.gatherRows(out, x, rows, 4, 2);
    assertClose(out, [5, 6, 1, 2, 5, 6, 3, 4], EXACT, 'out');
  });

  it('scatterAddRows sums repeated rows into pre-filled dx', () => {
    const dx = f32([10, 20, 30, 40, 50, 60]);
    ref.scatterAddRows(dx, f32([1, 2, 3, 4, 5, 6, 7, 8]), rows, 4, 2);
    // dx[2] += [1,2] + [5,6];  dx[0] += [3,4];  dx[1] += [7,8]
    assertClose(dx, [13, 24, 37, 48, 56, 68], EXACT, 'dx');
  });

  // Three experts, the middle one empty: offsets [0, 2, 2, 3]. a [3, K=2], N = 3. Expert 1's weights are
  // 100s, so reading them (a wrong group offset) shows up at once.
  const offsets = i32([0, 2, 2, 3]);
  const a = f32([1, 2, 3, 4, 5, 6]);

  it('groupedMatmul with transB (b [E, N, K]), overwrite and accumulate', () => {
    const b = f32([1, 2, 3, 4, 0, 1, /* e1 */ ...fill(6, 100), /* e2 */ 1, -1, 2, 0, 1, 1]);
    // rows 0-1: [1,2]·b0ᵀ = [5, 11, 2], [3,4]·b0ᵀ = [11, 25, 4];  row 2: [5,6]·b2ᵀ = [-1, 10, 11]
    const want = [5, 11, 2, 11, 25, 4, -1, 10, 11];
    const c = fill(9, NaN);
    ref.groupedMatmul(c, a, b, offsets, 3, 3, 2, true, false);
    assertClose(c, want, EXACT, 'c');
    const acc = fill(9, 1);
    ref.groupedMatmul(acc, a, b, offsets, 3, 3, 2, true, true);
    assertClose(acc, want.map((v) => v + 1), EXACT, 'c accumulated');
  });

  it('groupedMatmul without transB (b [E, K, N])', () => {
    const b = f32([1, 2, 3, 4, 5, 6, /* e1 */ ...fill(6, 100), /* e2 */ 1, 0, -1, 0, 1, 2]);
    // [1,2]·b0 = [9, 12, 15], [3,4]·b0 = [19, 26, 33];  [5,6]·b2 = [5, 6, 7]
    const c = fill(9, NaN);
    ref.groupedMatmul(c, a, b, offsets, 3, 3, 2, false, false);
    assertClose(c, [9, 12, 15, 19, 26, 33, 5, 6, 7], EXACT, 'c');
  });

  it('groupedMatmulWeightGrad accumulates dy_eᵀ·x_e and leaves the empty expert alone', () => {
    const dy = f32([1, 0, 2, 0, 1, 1, 1, -1, 0]); // [3, N=3]
    const dw = fill(18, 1); // [E=3, N=3, K=2]
    ref.groupedMatmulWeightGrad(dw, dy, a, offsets, 3, 3, 2);
    // dw0[n] = Σ_r dy[r,n]·a[r]: n=0 → [1,2], n=1 → [3,4], n=2 → 2·[1,2] + [3,4] = [5,8]
    // dw2 = [1,-1,0]ᵀ·[5,6] = [[5,6],[-5,-6],[0,0]]
    assertClose(dw, [2, 3, 4, 5, 6, 9, 1, 1, 1, 1, 1, 1, 6, 7, -4, -5, 1, 1], EXACT, 'dw');
  });

  // Combine: T = 2, D = 2, three pairs; token 1 is routed twice.
  const cx = f32([2, 4, 1, 1, 8, -4]);
  const crows = i32([1, 0, 1]);
  const cw = f32([0.5, 2, 0.25]);

  it('weightedScatterAdd adds weights[i]·x[i] into pre-filled y', () => {
    const y = fill(4, 1);
    ref.weightedScatterAdd(y, cx, crows, cw, 3, 2);
    // y[0] += 2·[1,1];  y[1] += 0.5·[2,4] + 0.25·[8,-4] = [3, 1]
    assertClose(y, [3, 3, 4, 2], EXACT, 'y');
  });

  it('weightedScatterAddBackward accumulates dx and dweights', () => {
    const dy = f32([1, 2, 3, -1]);
    const dx = fill(6, 1), dweights = fill(3, 1);
    ref.weightedScatterAddBackward(dx, dweights, dy, cx, crows, cw, 3, 2);
    // dx[i] += w_i·dy[rows[i]]: 0.5·[3,-1], 2·[1,2], 0.25·[3,-1]
    assertClose(dx, [2.5, 0.5, 3, 5, 1.75, 0.75], EXACT, 'dx');
    // dweights[i] += dy[rows[i]]·x[i]: [3,-1]·[2,4] = 2, [1,2]·[1,1] = 3, [3,-1]·[8,-4] = 28
    assertClose(dweights, [3, 4, 29], EXACT, 'dweights');
  });

  it('zero pairs and empty experts only: nothing is written', () => {
    const c = new Float32Array(0);
    ref.groupedMatmul(c, new Float32Array(0), fill(12, 1), i32([0, 0, 0]), 2, 3, 2, true, false);
    const dw = fill(12, 1);
    ref.groupedMatmulWeightGrad(dw, new Float32Array(0), new Float32Array(0), i32([0, 0, 0]), 2, 3, 2);
    assertClose(dw, fill(12, 1), EXACT, 'dw');
    const y = fill(4, 1);
    ref.weightedScatterAdd(y, new Float32Array(0), new Int32Array(0), new Float32Array(0), 0, 2);
    assertClose(y, fill(4, 1), EXACT, 'y');
  });
});

/** The argument checks every backend must make: each call is wrong in one way. */
function badArgumentCases(b: Backend): [string, () => void, RegExp][] {
  const f = (n: number) => new Float32Array(n);
  return [
    ['gather row out of range', () => b.gatherRows(f(4), f(6), i32([0, 3]), 2, 2), /gatherRows.*rows\[1\] = 3/],
    ['gather negative row', () => b.gatherRows(f(4), f(6), i32([-1, 0]), 2, 2), /gatherRows.*rows\[0\] = -1/],
    ['scatter row out of range', () => b.scatterAddRows(f(6), f(4), i32([2, 3]), 2, 2), /scatterAddRows.*rows\[1\] = 3/],
    ['combine row out of range', () => b.weightedScatterAdd(f(4), f(4), i32([0, 2]), f(2), 2, 2),
      /weightedScatterAdd.*rows\[1\] = 2/],
    ['combine backward row out of range', () => b.weightedScatterAddBackward(f(4), f(2), f(4), f(4), i32([5, 0]), f(2), 2, 2),
      /weightedScatterAddBackward.*rows\[0\] = 5/],
    ['offsets not starting at 0', () => b.groupedMatmul(f(4), f(4), f(8), i32([1, 2, 2]), 2, 2, 2, true, false),
      /groupedMatmul.*offsets\[0\] = 1/],
    ['decreasing offsets', () => b.groupedMatmulWeightGrad(f(8), f(4), f(4), i32([0, 2, 1]), 2, 2, 2),
      /groupedMatmulWeightGrad.*offsets\[2\] = 1 < offsets\[1\] = 2/],
    ['c too short for offsets[E] rows', () => b.groupedMatmul(f(2), f(4), f(8), i32([0, 1, 2]), 2, 2, 2, true, false),
      /groupedMatmul.*(c has 2 elements|argument 0)/],
    ['b too short for E experts', () => b.groupedMatmul(f(4), f(4), f(4), i32([0, 1, 2]), 2, 2, 2, false, false),
      /groupedMatmul.*(b has 4 elements|argument 2)/],
    ['fractional D', () => b.gatherRows(f(4), f(6), i32([0, 1]), 2, 1.5), /gatherRows.*(D|argument 4)/],
  ];
}

describe('MoE reference kernels: argument checks', () => {
  for (const [label, call, message] of badArgumentCases(ref)) it(label, () => assert.throws(call, message));

  it('a bad row leaves the output untouched', () => {
    const y = fill(4, 7);
    assert.throws(() => ref.weightedScatterAdd(y, fill(4, 1), i32([0, 2]), fill(2, 1), 2, 2));
    assertClose(y, fill(4, 7), EXACT, 'y');
  });
});

// ---- (b) finite-difference gradient checks --------------------------------------------------------

/**
 * L = Σ r ⊙ forward(); for every coordinate of every input, the central difference of L (float64 sum,
 * denominator = the perturbation actually stored in float32) must match the analytic gradient within
 * max(1e-3·|fd|, 2e-3), the float32 rounding noise at eps = 1e-3 being ~1e-4.
 */
function gradcheck(inputs: Record<string, Float32Array>, forward: () => Float32Array,
  backward: (dout: Float32Array, grads: Record<string, Float32Array>) => void, seed: number): void {
  const rng = new TestRng(seed);
  const r = randn(rng, forward().length);
  const L = () => forward().reduce((s, v, i) => s + v * r[i], 0);
  const grads = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, new Float32Array(v.length)]));
  backward(r, grads);
  const failures: string[] = [];
  for (const [name, x] of Object.entries(inputs)) {
    for (let i = 0; i < x.length; i++) {
      const x0 = x[i];
      x[i] = x0 + 1e-3;
      const xp = x[i], lp = L();
      x[i] = x0 - 1e-3;
      const xm = x[i], lm = L();
      x[i] = x0;
      const fd = (lp - lm) / (xp - xm), g = grads[name][i];
      if (!(Math.abs(g - fd) <= Math.max(1e-3 * Math.abs(fd), 2e-3))) {
        failures.push(`d${name}[${i}]: analytic ${g}, finite difference ${fd}`);
      }
    }
  }
  assert.deepEqual(failures, [], failures.join('\n'));
}

describe('MoE reference kernels: gradients', () => {
  // 4 experts with 2, 0, 3, 1 rows (one empty, uneven); N ≠ K so that a swapped dimension fails.
  const offsets = i32([0, 2, 2, 5, 6]);
  const E = 4, n = 6, N = 3, K = 5;

  for (const transB of [true, false]) {
    it(`groupedMatmul (transB=${transB}) w.r.t. a and b: groupedMatmul and groupedMatmulWeightGrad`, () => {
      const rng = new TestRng(transB ? 11 : 12);
      const inputs = { a: randn(rng, n * K), b: randn(rng, E * N * K) };
      const c = new Float32Array(n * N);
      gradcheck(inputs, () => {
        ref.groupedMatmul(c, inputs.a, inputs.b, offsets, E, N, K, transB, false);
        return c;
      }, (dc, g) => {
        if (transB) {
          // c_e = a_e·b_eᵀ, b_e [N,K]:  da_e += dc_e·b_e (b stacked [E, N, K] read as [E, K'=N, N'=K]);
          // db_e += dc_eᵀ·a_e
          ref.groupedMatmul(g.a, dc, inputs.b, offsets, E, K, N, false, true);
          ref.groupedMatmulWeightGrad(g.b, dc, inputs.a, offsets, E, N, K);
        } else {
          // c_e = a_e·b_e, b_e [K,N]:  da_e += dc_e·b_eᵀ (b read as [E, N'=K, K'=N] with transB);
          // db_e [K,N] += a_eᵀ·dc_e
          ref.groupedMatmul(g.a, dc, inputs.b, offsets, E, K, N, true, true);
          ref.groupedMatmulWeightGrad(g.b, inputs.a, dc, offsets, E, K, N);
        }
      }, transB ? 13 : 14);
    });
  }

  it('weightedScatterAdd w.r.t. x and weights: weightedScatterAddBackward', () => {
    const rng = new TestRng(21);
    const T = 4, D = 3;
    const rows = i32([3, 0, 3, 1, 3, 2, 0]); // token 3 routed three times, token 0 twice
    const inputs = { x: randn(rng, rows.length * D), weights: rand(rng, rows.length, 0, 1) };
    const y = new Float32Array(T * D);
    gradcheck(inputs, () => {
      y.fill(0);
      ref.weightedScatterAdd(y, inputs.x, rows, inputs.weights, rows.length, D);
      return y;
    }, (dy, g) => {
      ref.weightedScatterAddBackward(g.x, g.weights, dy, inputs.x, rows, inputs.weights, rows.length, D);
    }, 22);
  });

  it('gatherRows and scatterAddRows are adjoint: <gather(x), g> = <x, scatterAdd(g)>', () => {
    const rng = new TestRng(31);
    const T = 5, D = 4;
    const rows = i32([4, 1, 4, 0, 2, 4, 1]); // token 3 never routed, token 4 three times
    const x = randn(rng, T * D), g = randn(rng, rows.length * D);
    const gathered = new Float32Array(rows.length * D);
    ref.gatherRows(gathered, x, rows, rows.length, D);
    const scattered = new Float32Array(T * D);
    ref.scatterAddRows(scattered, g, rows, rows.length, D);
    const dot = (p: Float32Array, q: Float32Array) => p.reduce((s, v, i) => s + v * q[i], 0);
    assertClose(dot(gathered, g), dot(x, scattered), { abs: 1e-5, rel: 1e-5 }, '<gather(x), g> vs <x, scatterAdd(g)>');
    for (let d = 0; d < D; d++) assert.equal(scattered[3 * D + d], 0, 'an unrouted token gets no gradient');
  });
});

// ---- (c) native vs reference ------------------------------------------------------------------------

const SIZES = [1, 7, 33, 257];
const TOL = 1e-5;

/** A routing of T tokens to E experts in expert order: rows (token of each pair), offsets, weights. */
interface Routing {
  T: number;
  E: number;
  n: number;
  rows: Int32Array;
  offsets: Int32Array;
  weights: Float32Array;
}

/**
 * Variable k (1..3 experts per token), skewed towards low-numbered experts (uneven groups), and a
 * fixed set of experts that get nothing: none of 1, expert 1 of 3, experts 0, 5 and 7 of 8 (the first
 * and the last group empty).
 */
function routing(rng: TestRng, T: number, E: number): Routing {
  const empty = E === 3 ? [1] : E === 8 ? [0, 5, 7] : [];
  const live = Array.from({ length: E }, (_, e) => e).filter((e) => !empty.includes(e));
  const tokens: number[][] = Array.from({ length: E }, () => []);
  for (let t = 0; t < T; t++) {
    const k = 1 + rng.int(0, Math.min(3, live.length));
    const chosen = new Set<number>();
    while (chosen.size < k) chosen.add(live[Math.floor(live.length * rng.uniform() ** 2)]);
    for (const e of chosen) tokens[e].push(t);
  }
  const offsets = new Int32Array(E + 1);
  for (let e = 0; e < E; e++) offsets[e + 1] = offsets[e] + tokens[e].length;
  const rows = Int32Array.from(tokens.flat());
  return { T, E, n: rows.length, rows, offsets, weights: rand(rng, rows.length, 0, 1) };
}

interface Case {
  label: string;
  /** Builds fresh seeded inputs (the same for every backend), runs the kernel, returns its outputs. */
  run(b: Backend): Record<string, Float32Array>;
  /** 0 = bit-exact, else |native − ref| <= tol·(|ref| + mean|ref|). */
  tol: number;
}

function seedOf(label: string): number {
  let h = 2166136261;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619);
  return h >>> 0;
}

function mk(label: string, tol: number, run: (b: Backend, rng: TestRng) => Record<string, Float32Array>): Case {
  return { label, tol, run: (b) => run(b, new TestRng(seedOf(label))) };
}

function assertAgree(where: string, got: Record<string, Float32Array>, want: Record<string, Float32Array>,
  tol: number): void {
  for (const key of Object.keys(want)) {
    const a = got[key], r = want[key];
    assert.equal(a.length, r.length, `${where}: ${key} length`);
    let mean = 0;
    for (let i = 0; i < r.length; i++) mean += Math.abs(r[i]);
    mean /= Math.max(1, r.length);
    for (let i = 0; i < r.length; i++) {
      const ok = tol === 0 ? Object.is(a[i], r[i]) : Math.abs(a[i] - r[i]) <= tol * (Math.abs(r[i]) + mean);
      if (!ok) assert.fail(`${where}: ${key}[${i}]: native ${a[i]} vs reference ${r[i]} (tol ${tol})`);
    }
  }
}

// Per kernel: cases at sizes from SIZES (T, D, N, K cycle through them; E ∈ {1, 3, 8}), and one case
// big enough to use the thread pool. Outputs of accumulating kernels start random.
type Dims = [T: number, D: number, E: number];
const DIMS: Dims[] = SIZES.flatMap((T, i) => [1, 3, 8].map((E): Dims => [T, SIZES[(i + 1) % 4], E]));

const KERNELS: Record<string, { cases: Case[]; big: Case }> = {
  gatherRows: (() => {
    const one = ([T, D, E]: Dims) => mk(`gatherRows T=${T} D=${D} E=${E}`, 0, (b, rng) => {
      const r = routing(rng, T, E);
      const out = rand(rng, r.n * D);
      b.gatherRows(out, rand(rng, T * D), r.rows, r.n, D);
      return { out };
    });
    return { cases: DIMS.map(one), big: one([1025, 257, 8]) };
  })(),
  scatterAddRows: (() => {
    const one = ([T, D, E]: Dims) => mk(`scatterAddRows T=${T} D=${D} E=${E}`, TOL, (b, rng) => {
      const r = routing(rng, T, E);
      const dx = rand(rng, T * D);
      b.scatterAddRows(dx, rand(rng, r.n * D), r.rows, r.n, D);
      return { dx };
    });
    return { cases: DIMS.map(one), big: one([1025, 257, 8]) };
  })(),
  weightedScatterAdd: (() => {
    const one = ([T, D, E]: Dims) => mk(`weightedScatterAdd T=${T} D=${D} E=${E}`, TOL, (b, rng) => {
      const r = routing(rng, T, E);
      const y = rand(rng, T * D);
      b.weightedScatterAdd(y, rand(rng, r.n * D), r.rows, r.weights, r.n, D);
      return { y };
    });
    return { cases: DIMS.map(one), big: one([1025, 257, 8]) };
  })(),
  weightedScatterAddBackward: (() => {
    const one = ([T, D, E]: Dims) => mk(`weightedScatterAddBackward T=${T} D=${D} E=${E}`, TOL, (b, rng) => {
      const r = routing(rng, T, E);
      const dx = rand(rng, r.n * D), dweights = rand(rng, r.n);
      b.weightedScatterAddBackward(dx, dweights, rand(rng, T * D), rand(rng, r.n * D), r.rows, r.weights, r.n, D);
      return { dx, dweights };
    });
    return { cases: DIMS.map(one), big: one([1025, 257, 8]) };
  })(),
  groupedMatmul: (() => {
    const one = (T: number, N: number, K: number, E: number, transB: boolean, acc: boolean) =>
      mk(`groupedMatmul T=${T} N=${N} K=${K} E=${E} transB=${transB} acc=${acc}`, TOL, (b, rng) => {
        const r = routing(rng, T, E);
        const c = rand(rng, r.n * N);
        b.groupedMatmul(c, rand(rng, r.n * K), rand(rng, E * N * K), r.offsets, E, N, K, transB, acc);
        return { c };
      });
    const cases = SIZES.flatMap((T, i) => [1, 3, 8].flatMap((E) => [true, false].flatMap((transB) =>
      [false, true].map((acc) => one(T, SIZES[(i + 1) % 4], SIZES[(i + 2) % 4], E, transB, acc)))));
    return { cases, big: one(257, 257, 257, 8, true, true) };
  })(),
  groupedMatmulWeightGrad: (() => {
    const one = (T: number, N: number, K: number, E: number) =>
      mk(`groupedMatmulWeightGrad T=${T} N=${N} K=${K} E=${E}`, TOL, (b, rng) => {
        const r = routing(rng, T, E);
        const dw = rand(rng, E * N * K);
        b.groupedMatmulWeightGrad(dw, rand(rng, r.n * N), rand(rng, r.n * K), r.offsets, E, N, K);
        return { dw };
      });
    const cases = SIZES.flatMap((T, i) => [1, 3, 8].map((E) => one(T, SIZES[(i + 1) % 4], SIZES[(i + 2) % 4], E)));
    return { cases, big: one(257, 257, 257, 8) };
  })(),
};

const native = tryNativeBackend();

describe('MoE kernels: native vs reference', { skip: native ? false : `native build not loadable: ${nativeLoadError()}` }, () => {
  if (!native) return;
  const nat = native;
  const initialThreads = nat.threads();

  for (const [kernel, { cases, big }] of Object.entries(KERNELS)) {
    it(`${kernel}: ${cases.length} randomized routings, then 1 and 2 threads bit-identical on repeat`, () => {
      try {
        for (const c of cases) assertAgree(c.label, c.run(nat), c.run(ref), c.tol);
        const want = big.run(ref);
        for (const threads of [1, 2]) {
          nat.setThreads(threads);
          const first = big.run(nat);
          assertAgree(`${big.label} threads=${threads} repeat`, big.run(nat), first, 0);
          assertAgree(`${big.label} threads=${threads}`, first, want, big.tol);
        }
      } finally {
        nat.setThreads(initialThreads);
      }
    });
  }

  it('zero pairs leave dw alone; an empty first expert shifts nothing', () => {
    const dw = fill(12, 1);
    nat.groupedMatmulWeightGrad(dw, new Float32Array(0), new Float32Array(0), i32([0, 0, 0]), 2, 3, 2);
    assertClose(dw, fill(12, 1), EXACT, 'dw');
    const c = fill(6, 5); // only expert 1 has rows; its rows are overwritten
    nat.groupedMatmul(c, fill(4, 1), fill(12, 1), i32([0, 0, 2]), 2, 3, 2, true, false);
    assertClose(c, fill(6, 2), EXACT, 'c');
  });

  it('zero-size N, K or D: native matches reference (no-ops, or c = 0 for K = 0)', () => {
    // 12 rows in one group: past the GEMM's small-M path, into the packed plan (which must not see N = 0).
    const offsets = i32([0, 12]);
    for (const [N, K] of [[0, 5], [5, 0], [0, 0]]) {
      for (const acc of [false, true]) {
        const run = (b: Backend) => {
          const c = fill(12 * N, 3);
          b.groupedMatmul(c, fill(12 * K, 1), fill(N * K, 1), offsets, 1, N, K, true, acc);
          const dw = fill(N * K, 3);
          b.groupedMatmulWeightGrad(dw, fill(12 * N, 1), fill(12 * K, 1), offsets, 1, N, K);
          return { c, dw };
        };
        assertAgree(`N=${N} K=${K} acc=${acc}`, run(nat), run(ref), 0);
      }
    }
    const y = fill(6, 2);
    nat.weightedScatterAdd(y, new Float32Array(0), i32([0, 1]), fill(2, 1), 2, 0);
    nat.scatterAddRows(y, new Float32Array(0), i32([0, 1]), 2, 0);
    assertClose(y, fill(6, 2), EXACT, 'y');
  });

  for (const [label, call, message] of badArgumentCases(nat)) {
    it(`rejects: ${label}`, () => assert.throws(call, message));
  }
});
