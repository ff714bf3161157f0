// One suite walks the Backend interface (ggml test-backend-ops style): every kernel in KERNEL_NAMES runs
// on the native and the reference backend with the same seeded inputs at odd sizes, and the outputs
// must agree. Gradient buffers start with random values (backward kernels accumulate), aliasing cases
// run in place, and for each kernel a size large enough to use the thread pool is run with 1 and 2
// threads, twice each: the same thread count must give bit-identical results.
// A kernel added to KERNEL_NAMES without a case here fails the suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  KERNEL_NAMES, nativeLoadError, referenceBackend, tryNativeBackend, type Backend,
} from '../../src/backend/index.js';
import { TestRng, rand } from '../helpers.js';

type Kernel = (typeof KERNEL_NAMES)[number];
type Out = Float32Array | Uint16Array | Int32Array | number;

/** One run of a kernel: builds fresh inputs from its seed (so every backend gets the same), returns outputs. */
interface Case {
  label: string;
  run(b: Backend): Record<string, Out>;
  /** Relative tolerance (scaled by the output's mean magnitude); 0 = bit-exact. Int32Array outputs are always exact. */
  tol: number;
}

interface KernelCases {
  cases: Case[];
  /** A size past the kernel's threading threshold, for the 1-vs-2-thread determinism check. */
  big: Case;
}

const SIZES = [1, 7, 33, 257];
const TOL = 1e-5;

function seedOf(label: string): number {
  let h = 2166136261;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619);
  return h >>> 0;
}

function ints(rng: TestRng, n: number, lo: number, hi: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(lo, hi);
  return out;
}

function mk(label: string, tol: number, run: (b: Backend, rng: TestRng) => Record<string, Out>): Case {
  return { label, tol, run: (b) => run(b, new TestRng(seedOf(label))) };
}

// ---- cases per kernel ---------------------------------------------------------------------------

function matmulCases(): KernelCases {
  const one = (M: number, N: number, K: number, ta: boolean, tb: boolean, acc: boolean) =>
    mk(`M=${M} N=${N} K=${K} transA=${ta} transB=${tb} acc=${acc}`, TOL, (b, rng) => {
      const c = rand(rng, M * N), a = rand(rng, M * K), bm = rand(rng, K * N);
      b.matmul(c, a, bm, M, N, K, ta, tb, acc);
      return { c };
    });
  const cases: Case[] = [];
  for (const [M, N, K] of [[1, 1, 1], [7, 33, 5], [33, 7, 257]]) {
    for (const [ta, tb] of [[false, false], [false, true], [true, false]]) {
      for (const acc of [false, true]) cases.push(one(M, N, K, ta, tb, acc));
    }
  }
  return { cases, big: one(257, 129, 65, false, true, true) };
}

/** n random weights narrowed to bf16 or f16 bits (by the reference conversion, so both backends get the same). */
function halfWeights(rng: TestRng, n: number, bf16: boolean): Uint16Array {
  const bits = new Uint16Array(n);
  (bf16 ? referenceBackend.f32ToBf16 : referenceBackend.f32ToF16)(bits, rand(rng, n), n);
  return bits;
}

// M ≤ 8 takes the GEMV path (rows widened as they are read), M > 8 the packed path (panels widened as
// they are packed); K = 5, 17, 257 leave tails in every build's vector width.
function matmulHalfCases(): KernelCases {
  const one = (M: number, N: number, K: number, bf16: boolean, acc: boolean) =>
    mk(`M=${M} N=${N} K=${K} ${bf16 ? 'bf16' : 'f16'} acc=${acc}`, TOL, (b, rng) => {
      const c = rand(rng, M * N), a = rand(rng, M * K), w = halfWeights(rng, N * K, bf16);
      b.matmulHalf(c, a, w, bf16, M, N, K, acc);
      return { c };
    });
  const cases: Case[] = [];
  for (const [M, N, K] of [[1, 1, 1], [1, 33, 257], [3, 7, 17], [8, 9, 5], [9, 33, 17], [33, 7, 257]]) {
    for (const bf16 of [true, false]) for (const acc of [false, true]) cases.push(one(M, N, K, bf16, acc));
  }
  return { cases, big: one(257, 129, 65, true, true) };
}

function embeddingForwardCases(): KernelCases {
  const one = (T: number, D: number, V: number) => mk(`T=${T} D=${D} V=${V}`, 0, (b, rng) => {
    const out = rand(rng, T * D), table = rand(rng, V * D), ids = ints(rng, T, 0, V);
    b.embeddingForward(out, ids, table, T, D, V);
    return { out };
  });
  return { cases: SIZES.map((n, i) => one(n, SIZES[(i + 1) % 4], SIZES[(i + 2) % 4])), big: one(600, 257, 33) };
}

// Widening is exact: the gathered rows must match bit for bit.
function embeddingForwardHalfCases(): KernelCases {
  const one = (T: number, D: number, V: number, bf16: boolean) => mk(`T=${T} D=${D} V=${V} ${bf16 ? 'bf16' : 'f16'}`, 0, (b, rng) => {
    const out = rand(rng, T * D), table = halfWeights(rng, V * D, bf16), ids = ints(rng, T, 0, V);
    b.embeddingForwardHalf(out, ids, table, bf16, T, D, V);
    return { out };
  });
  return {
    cases: SIZES.flatMap((n, i) => [true, false].map((bf16) => one(n, SIZES[(i + 1) % 4], SIZES[(i + 2) % 4], bf16))),
    big: one(600, 257, 33, true),
  };
}

function embeddingBackwardCases(): KernelCases {
  // V < T so that ids repeat: duplicates must sum, not race.
  const one = (T: number, D: number, V: number) => mk(`T=${T} D=${D} V=${V}`, TOL, (b, rng) => {
    const dtable = rand(rng, V * D), dout = rand(rng, T * D), ids = ints(rng, T, 0, V);
    b.embeddingBackward(dtable, dout, ids, T, D);
    return { dtable };
  });
  return { cases: SIZES.map((n, i) => one(n, SIZES[(i + 1) % 4], Math.max(1, n >> 2))), big: one(600, 257, 7) };
}

function rmsnormForwardCases(): KernelCases {
  const one = (T: number, D: number) => mk(`T=${T} D=${D}`, TOL, (b, rng) => {
    const out = rand(rng, T * D), rstd = rand(rng, T), x = rand(rng, T * D, -2, 2), w = rand(rng, D);
    b.rmsnormForward(out, rstd, x, w, T, D, 1e-5);
    return { out, rstd };
  });
  return { cases: SIZES.map((n, i) => one(n, SIZES[(i + 1) % 4])), big: one(300, 257) };
}

function rmsnormBackwardCases(): KernelCases {
  const one = (T: number, D: number) => mk(`T=${T} D=${D}`, TOL, (b, rng) => {
    const x = rand(rng, T * D, -2, 2), w = rand(rng, D), dout = rand(rng, T * D);
    const dx = rand(rng, T * D), dw = rand(rng, D);
    const rstd = new Float32Array(T);
    referenceBackend.rmsnormForward(new Float32Array(T * D), rstd, x, w, T, D, 1e-5);
    b.rmsnormBackward(dx, dw, dout, x, w, rstd, T, D);
    return { dx, dw };
  });
  return { cases: SIZES.map((n, i) => one(n, SIZES[(i + 1) % 4])), big: one(300, 257) };
}

/** RoPE inputs: tables for maxPos positions with theta = 10000, positions in [0, maxPos). */
function ropeInputs(rng: TestRng, R: number, H: number, hd: number) {
  const half = hd / 2, maxPos = R + 3;
  const cos = new Float32Array(maxPos * half), sin = new Float32Array(maxPos * half);
  for (let p = 0; p < maxPos; p++) {
    for (let j = 0; j < half; j++) {
      const th = p * Math.pow(10000, (-2 * j) / hd);
      cos[p * half + j] = Math.cos(th);
      sin[p * half + j] = Math.sin(th);
    }
  }
  return { cos, sin, pos: ints(rng, R, 0, maxPos), x: rand(rng, R * H * hd) };
}

function ropeForwardCases(): KernelCases {
  const one = (R: number, H: number, hd: number, inPlace: boolean) =>
    mk(`R=${R} H=${H} hd=${hd}${inPlace ? ' in place' : ''}`, TOL, (b, rng) => {
      const { cos, sin, pos, x } = ropeInputs(rng, R, H, hd);
      const out = inPlace ? x : rand(rng, R * H * hd);
      b.ropeForward(out, x, cos, sin, pos, R, H, hd);
      return { out };
    });
  const hds = [2, 8, 34, 258];
  return {
    cases: SIZES.flatMap((R, i) => [one(R, 1 + (i % 3), hds[i], false), one(R, 3, hds[(i + 1) % 4], true)]),
    big: one(257, 4, 64, true),
  };
}

function ropeBackwardCases(): KernelCases {
  const one = (R: number, H: number, hd: number) => mk(`R=${R} H=${H} hd=${hd}`, TOL, (b, rng) => {
    const { cos, sin, pos, x: dout } = ropeInputs(rng, R, H, hd);
    const dx = rand(rng, R * H * hd);
    b.ropeBackward(dx, dout, cos, sin, pos, R, H, hd);
    return { dx };
  });
  const hds = [2, 8, 34, 258];
  return { cases: SIZES.map((R, i) => one(R, 1 + (i % 3), hds[i])), big: one(257, 4, 64) };
}

type AttnDims = [B: number, T: number, nh: number, nkv: number, hd: number];
// GQA (nh = 4, nkv = 2 and nh = 4, nkv = 1) and plain multi-head (nh = nkv), odd T and hd.
const ATTN: AttnDims[] = [[1, 1, 1, 1, 1], [2, 7, 4, 2, 7], [1, 33, 4, 4, 33], [1, 257, 2, 1, 16], [2, 33, 4, 2, 64]];
const ATTN_BIG: AttnDims = [2, 64, 4, 2, 32];

function attentionForwardCases(): KernelCases {
  const one = ([B, T, nh, nkv, hd]: AttnDims) => mk(`B=${B} T=${T} nh=${nh} nkv=${nkv} hd=${hd}`, TOL, (b, rng) => {
    const out = rand(rng, B * T * nh * hd), att = rand(rng, B * nh * T * T);
    const q = rand(rng, B * T * nh * hd, -2, 2), k = rand(rng, B * T * nkv * hd, -2, 2), v = rand(rng, B * T * nkv * hd);
    b.attentionForward(out, att, q, k, v, B, T, nh, nkv, hd);
    return { out, att };
  });
  return { cases: ATTN.map(one), big: one(ATTN_BIG) };
}

function attentionBackwardCases(): KernelCases {
  const one = ([B, T, nh, nkv, hd]: AttnDims) => mk(`B=${B} T=${T} nh=${nh} nkv=${nkv} hd=${hd}`, TOL, (b, rng) => {
    const nq = B * T * nh * hd, nk = B * T * nkv * hd;
    const q = rand(rng, nq, -2, 2), k = rand(rng, nk, -2, 2), v = rand(rng, nk), dout = rand(rng, nq);
    const dq = rand(rng, nq), dk = rand(rng, nk), dv = rand(rng, nk);
    const att = new Float32Array(B * nh * T * T);
    referenceBackend.attentionForward(new Float32Array(nq), att, q, k, v, B, T, nh, nkv, hd);
    b.attentionBackward(dq, dk, dv, dout, q, k, v, att, B, T, nh, nkv, hd);
    return { dq, dk, dv };
  });
  return { cases: ATTN.map(one), big: one(ATTN_BIG) };
}

type CachedDims = [Tq: number, start: number, nh: number, nkv: number, dk: number, dv: number, spare: number];
// Decode (Tq = 1) and chunked prefill (Tq > 1 after start > 0), dk ≠ dv (MLA), GQA (up to 6 query heads
// per kv head), odd sizes, rows with more keys than the native kernel's chunk of 128 (merged chunks);
// `spare` rows of the caches past start+Tq hold values the kernel must not read (a preallocated cache).
const CACHED: CachedDims[] = [
  [1, 0, 1, 1, 1, 1, 0], [1, 6, 4, 2, 7, 5, 3], [5, 0, 4, 4, 33, 33, 0], [7, 33, 4, 1, 16, 8, 9],
  [1, 256, 4, 4, 64, 64, 1], [3, 17, 6, 3, 24, 40, 2], [2, 9, 12, 2, 8, 12, 1], // 6 query heads per kv head
];

function cachedAttentionForwardCases(): KernelCases {
  const one = ([Tq, start, nh, nkv, dk, dv, spare]: CachedDims) =>
    mk(`Tq=${Tq} start=${start} nh=${nh} nkv=${nkv} dk=${dk} dv=${dv}`, TOL, (b, rng) => {
      const Tk = start + Tq + spare;
      const out = rand(rng, Tq * nh * dv), q = rand(rng, Tq * nh * dk, -2, 2);
      const k = rand(rng, Tk * nkv * dk, -2, 2), v = rand(rng, Tk * nkv * dv);
      b.cachedAttentionForward(out, q, k, v, Tq, start, nh, nkv, dk, dv, 1 / Math.sqrt(dk) + 0.01 * dv);
      return { out };
    });
  return { cases: CACHED.map(one), big: one([64, 300, 4, 2, 64, 32, 5]) };
}

function swigluForwardCases(): KernelCases {
  const one = (n: number) => mk(`n=${n}`, TOL, (b, rng) => {
    const out = rand(rng, n), gate = rand(rng, n, -8, 8), up = rand(rng, n);
    b.swigluForward(out, gate, up, n);
    return { out };
  });
  return { cases: SIZES.map(one), big: one(40000) };
}

function swigluBackwardCases(): KernelCases {
  const one = (n: number) => mk(`n=${n}`, TOL, (b, rng) => {
    const gate = rand(rng, n, -8, 8), up = rand(rng, n), dout = rand(rng, n);
    const dgate = rand(rng, n), dup = rand(rng, n);
    b.swigluBackward(dgate, dup, dout, gate, up, n);
    return { dgate, dup };
  });
  return { cases: SIZES.map(one), big: one(40000) };
}

function softmaxForwardCases(): KernelCases {
  const one = (rows: number, cols: number) => mk(`rows=${rows} cols=${cols}`, TOL, (b, rng) => {
    const out = rand(rng, rows * cols), x = rand(rng, rows * cols, -10, 10);
    b.softmaxForward(out, x, rows, cols);
    return { out };
  });
  return { cases: SIZES.map((n, i) => one(n, SIZES[(i + 1) % 4])), big: one(129, 257) };
}

function softmaxBackwardCases(): KernelCases {
  const one = (rows: number, cols: number) => mk(`rows=${rows} cols=${cols}`, TOL, (b, rng) => {
    const out = new Float32Array(rows * cols), dout = rand(rng, rows * cols), dx = rand(rng, rows * cols);
    referenceBackend.softmaxForward(out, rand(rng, rows * cols, -5, 5), rows, cols);
    b.softmaxBackward(dx, dout, out, rows, cols);
    return { dx };
  });
  return { cases: SIZES.map((n, i) => one(n, SIZES[(i + 1) % 4])), big: one(129, 257) };
}

/** Targets in [0, V) with about a quarter ignored (-1, or -100 as PyTorch writes it). */
function targetsFor(rng: TestRng, T: number, V: number): Int32Array {
  const t = ints(rng, T, 0, V);
  for (let i = 0; i < T; i++) if (rng.uniform() < 0.25) t[i] = i % 2 === 0 ? -1 : -100;
  return t;
}

function crossEntropyForwardCases(): KernelCases {
  const one = (T: number, V: number) => mk(`T=${T} V=${V}`, TOL, (b, rng) => {
    const losses = rand(rng, T), lse = rand(rng, T), logits = rand(rng, T * V, -6, 6);
    b.crossEntropyForward(losses, lse, logits, targetsFor(rng, T, V), T, V);
    return { losses, lse };
  });
  return { cases: SIZES.map((n, i) => one(n, SIZES[(i + 1) % 4])), big: one(64, 1000) };
}

function crossEntropyBackwardCases(): KernelCases {
  const one = (T: number, V: number, inPlace: boolean) =>
    mk(`T=${T} V=${V}${inPlace ? ' in place' : ''}`, TOL, (b, rng) => {
      const logits = rand(rng, T * V, -6, 6), targets = targetsFor(rng, T, V), dlosses = rand(rng, T);
      const lse = new Float32Array(T);
      referenceBackend.crossEntropyForward(new Float32Array(T), lse, logits, targets, T, V);
      const dlogits = inPlace ? logits : rand(rng, T * V);
      b.crossEntropyBackward(dlogits, logits, lse, targets, dlosses, T, V);
      return { dlogits };
    });
  return {
    cases: SIZES.flatMap((n, i) => [one(n, SIZES[(i + 1) % 4], false), one(n, SIZES[(i + 3) % 4], true)]),
    big: one(64, 1000, true),
  };
}

function adamwCases(): KernelCases {
  const one = (n: number, step: number) => mk(`n=${n} step=${step}`, TOL, (b, rng) => {
    const param = rand(rng, n), grad = rand(rng, n, -0.1, 0.1), m = rand(rng, n, -0.01, 0.01);
    const v = rand(rng, n, 0, 1e-3);
    b.adamw(param, grad, m, v, n, 1e-3, 0.9, 0.999, 1e-8, 0.1, step, 0.5);
    return { param, m, v };
  });
  return { cases: SIZES.map((n, i) => one(n, [1, 2, 10, 1000][i])), big: one(70001, 3) };
}

function sumSquaresCases(): KernelCases {
  const one = (n: number) => mk(`n=${n}`, 1e-12, (b, rng) => ({ s: b.sumSquares(rand(rng, n, -3, 3), n) }));
  return { cases: [0, ...SIZES].map(one), big: one(100003) };
}

function scaleCases(): KernelCases {
  const one = (n: number) => mk(`n=${n}`, 0, (b, rng) => {
    const x = rand(rng, n);
    b.scale(x, n, 0.375); // exact in f32, so native and reference round the same product
    return { x };
  });
  return { cases: SIZES.map(one), big: one(200003) };
}

function addCases(): KernelCases {
  const one = (n: number, alias: 'none' | 'a' | 'b') => mk(`n=${n} out=${alias}`, 0, (b, rng) => {
    const a = rand(rng, n), bb = rand(rng, n);
    const out = alias === 'a' ? a : alias === 'b' ? bb : rand(rng, n);
    b.add(out, a, bb, n);
    return { out };
  });
  return { cases: SIZES.flatMap((n) => [one(n, 'none'), one(n, 'a'), one(n, 'b')]), big: one(200003, 'a') };
}

/** offsets [E+1] of A rows sorted by expert; expert 1 gets no rows (when E > 2) to cover empty groups. */
function offsetsFor(rng: TestRng, A: number, E: number): Int32Array {
  const counts = new Int32Array(E);
  for (let i = 0; i < A; i++) {
    let e = rng.int(0, E);
    if (E > 2 && e === 1) e = 0;
    counts[e]++;
  }
  const off = new Int32Array(E + 1);
  for (let e = 0; e < E; e++) off[e + 1] = off[e] + counts[e];
  return off;
}

/** n row indices into a [T, D] buffer with T about n/2, so that rows repeat (a token on several experts). */
function tokensFor(rng: TestRng, n: number): { T: number; rows: Int32Array } {
  const T = (n >> 1) + 1;
  return { T, rows: ints(rng, n, 0, T) };
}

function gatherRowsCases(): KernelCases {
  const one = (n: number, D: number) => mk(`n=${n} D=${D}`, 0, (b, rng) => {
    const { T, rows } = tokensFor(rng, n);
    const out = rand(rng, n * D), x = rand(rng, T * D);
    b.gatherRows(out, x, rows, n, D);
    return { out };
  });
  return { cases: SIZES.map((n, i) => one(n, SIZES[(i + 1) % 4])), big: one(600, 257) };
}

function scatterAddRowsCases(): KernelCases {
  const one = (n: number, D: number) => mk(`n=${n} D=${D}`, TOL, (b, rng) => {
    const { T, rows } = tokensFor(rng, n);
    const dx = rand(rng, T * D), dout = rand(rng, n * D);
    b.scatterAddRows(dx, dout, rows, n, D);
    return { dx };
  });
  return { cases: SIZES.map((n, i) => one(n, SIZES[(i + 1) % 4])), big: one(600, 257) };
}

function groupedMatmulCases(): KernelCases {
  const one = (A: number, E: number, N: number, K: number, tb: boolean, acc: boolean) =>
    mk(`A=${A} E=${E} N=${N} K=${K} transB=${tb} acc=${acc}`, TOL, (b, rng) => {
      const offsets = offsetsFor(rng, A, E);
      const c = rand(rng, A * N), a = rand(rng, A * K), w = rand(rng, E * N * K);
      b.groupedMatmul(c, a, w, offsets, E, N, K, tb, acc);
      return { c };
    });
  const cases: Case[] = [];
  for (const [A, E, N, K] of [[1, 1, 1, 1], [7, 3, 33, 5], [33, 4, 7, 257], [257, 8, 33, 7]]) {
    for (const tb of [true, false]) for (const acc of [false, true]) cases.push(one(A, E, N, K, tb, acc));
  }
  return { cases, big: one(600, 8, 65, 129, true, true) };
}

function groupedMatmulHalfCases(): KernelCases {
  const one = (A: number, E: number, N: number, K: number, bf16: boolean) =>
    mk(`A=${A} E=${E} N=${N} K=${K} ${bf16 ? 'bf16' : 'f16'}`, TOL, (b, rng) => {
      const offsets = offsetsFor(rng, A, E);
      const c = rand(rng, A * N), a = rand(rng, A * K), w = halfWeights(rng, E * N * K, bf16);
      b.groupedMatmulHalf(c, a, w, bf16, offsets, E, N, K);
      return { c };
    });
  const cases: Case[] = [];
  for (const [A, E, N, K] of [[1, 1, 1, 1], [7, 3, 33, 5], [33, 4, 7, 257], [257, 8, 33, 7]]) {
    for (const bf16 of [true, false]) cases.push(one(A, E, N, K, bf16));
  }
  return { cases, big: one(600, 8, 65, 129, false) };
}

function groupedMatmulWeightGradCases(): KernelCases {
  const one = (A: number, E: number, N: number, K: number) => mk(`A=${A} E=${E} N=${N} K=${K}`, TOL, (b, rng) => {
    const offsets = offsetsFor(rng, A, E);
    const dw = rand(rng, E * N * K), dy = rand(rng, A * N), x = rand(rng, A * K);
    b.groupedMatmulWeightGrad(dw, dy, x, offsets, E, N, K);
    return { dw };
  });
  return {
    cases: [one(1, 1, 1, 1), one(7, 3, 33, 5), one(33, 4, 7, 257), one(257, 8, 33, 7)],
    big: one(600, 8, 65, 129),
  };
}

function weightedScatterAddCases(): KernelCases {
  const one = (n: number, D: number) => mk(`n=${n} D=${D}`, TOL, (b, rng) => {
    const { T, rows } = tokensFor(rng, n);
    const y = rand(rng, T * D), x = rand(rng, n * D), weights = rand(rng, n, 0, 1);
    b.weightedScatterAdd(y, x, rows, weights, n, D);
    return { y };
  });
  return { cases: SIZES.map((n, i) => one(n, SIZES[(i + 1) % 4])), big: one(600, 257) };
}

function weightedScatterAddBackwardCases(): KernelCases {
  const one = (n: number, D: number) => mk(`n=${n} D=${D}`, TOL, (b, rng) => {
    const { T, rows } = tokensFor(rng, n);
    const dx = rand(rng, n * D), dweights = rand(rng, n), dy = rand(rng, T * D), x = rand(rng, n * D);
    const weights = rand(rng, n, 0, 1);
    b.weightedScatterAddBackward(dx, dweights, dy, x, rows, weights, n, D);
    return { dx, dweights };
  });
  return { cases: SIZES.map((n, i) => one(n, SIZES[(i + 1) % 4])), big: one(600, 257) };
}

/** Top-P options per case: p, compare and a min/max clamp that stays within [1, E]. */
function topPOptions(rng: TestRng, E: number) {
  const minK = rng.int(1, Math.min(E, 3) + 1);
  return { p: [0.1, 0.4, 0.7, 1][rng.int(0, 4)], inclusive: rng.int(0, 2) === 1, minK, maxK: rng.int(minK, E + 1) };
}

function topPRouteCases(): KernelCases {
  // Logits of std 2 spread k over 1..E; probabilities agree to float32 rounding, selections exactly.
  const one = (T: number, E: number) => mk(`T=${T} E=${E}`, TOL, (b, rng) => {
    const { p, inclusive, minK, maxK } = topPOptions(rng, E);
    const probs = rand(rng, T * E), order = ints(rng, T * E, -5, 5), count = ints(rng, T, -5, 5);
    b.topPRoute(probs, order, count, rand(rng, T * E, -4, 4), T, E, p, inclusive, minK, maxK);
    return { probs, order, count };
  });
  return { cases: SIZES.map((n, i) => one(n, SIZES[(i + 1) % 4])), big: one(2049, 33) };
}

function topPBackwardCases(): KernelCases {
  const one = (T: number, E: number) => mk(`T=${T} E=${E}`, TOL, (b, rng) => {
    const { p, inclusive, minK, maxK } = topPOptions(rng, E);
    const probs = new Float32Array(T * E), order = new Int32Array(T * E), count = new Int32Array(T);
    referenceBackend.topPRoute(probs, order, count, rand(rng, T * E, -4, 4), T, E, p, inclusive, minK, maxK);
    const dlogits = rand(rng, T * E), dweights = rand(rng, count.reduce((s, k) => s + k, 0));
    b.topPBackward(dlogits, dweights, probs, order, count, T, E);
    return { dlogits };
  });
  return { cases: SIZES.map((n, i) => one(n, SIZES[(i + 1) % 4])), big: one(2049, 33) };
}

/** f32 inputs for the narrowing conversions: specials, rounding ties, f16 edges, random bit patterns. */
function conversionInputs(rng: TestRng, n: number): Float32Array {
  const specials = [0, -0, 1, -1, Infinity, -Infinity, NaN, 65504, 65519.99, 65520, -65520, 1e6, 6.1e-5,
    2 ** -14, 2 ** -24, 2 ** -25, 2 ** -25 * 1.0001, 3 * 2 ** -26, 1e-8, 1e-40, 3.4028235e38, 1 + 2 ** -8,
    1 + 3 * 2 ** -8, 1 + 2 ** -11, 1 + 3 * 2 ** -11];
  const x = new Float32Array(n);
  const bits = new Uint32Array(x.buffer);
  for (let i = 0; i < n; i++) bits[i] = Math.floor(rng.uniform() * 2 ** 32);
  for (let i = 0; i < Math.min(n, specials.length); i++) x[i] = specials[i];
  // half of the rest: ordinary magnitudes around the f16 range, where the rounding matters
  for (let i = specials.length; i < n; i += 2) x[i] = (rng.uniform() - 0.5) * 2 ** rng.int(-30, 17);
  // JS numbers do not carry NaN payloads reliably, so the reference sees a canonical NaN: use that.
  for (let i = 0; i < n; i++) if (Number.isNaN(x[i])) x[i] = NaN;
  return x;
}

function narrowCases(kernel: 'f32ToBf16' | 'f32ToF16'): KernelCases {
  const one = (n: number) => mk(`n=${n}`, 0, (b, rng) => {
    const dst = new Uint16Array(n);
    b[kernel](dst, conversionInputs(rng, n), n);
    return { dst };
  });
  return { cases: [...SIZES, 4099].map(one), big: one(300001) };
}

function widenCases(kernel: 'bf16ToF32' | 'f16ToF32'): KernelCases {
  // every 16-bit pattern once, at an odd offset (n = 65536 + 7)
  const one = (n: number) => mk(`n=${n}`, 0, (b) => {
    const src = new Uint16Array(n), dst = new Float32Array(n);
    for (let i = 0; i < n; i++) src[i] = (i * 40503 + 7) & 0xffff;
    b[kernel](dst, src, n);
    return { dst };
  });
  return { cases: [...SIZES, 65543].map(one), big: one(300001) };
}

const CASES: Record<Kernel, () => KernelCases> = {
  matmul: matmulCases,
  matmulHalf: matmulHalfCases,
  embeddingForward: embeddingForwardCases,
  embeddingForwardHalf: embeddingForwardHalfCases,
  embeddingBackward: embeddingBackwardCases,
  rmsnormForward: rmsnormForwardCases,
  rmsnormBackward: rmsnormBackwardCases,
  ropeForward: ropeForwardCases,
  ropeBackward: ropeBackwardCases,
  attentionForward: attentionForwardCases,
  attentionBackward: attentionBackwardCases,
  cachedAttentionForward: cachedAttentionForwardCases,
  swigluForward: swigluForwardCases,
  swigluBackward: swigluBackwardCases,
  softmaxForward: softmaxForwardCases,
  softmaxBackward: softmaxBackwardCases,
  crossEntropyForward: crossEntropyForwardCases,
  crossEntropyBackward: crossEntropyBackwardCases,
  adamw: adamwCases,
  sumSquares: sumSquaresCases,
  scale: scaleCases,
  add: addCases,
  gatherRows: gatherRowsCases,
  scatterAddRows: scatterAddRowsCases,
  groupedMatmul: groupedMatmulCases,
  groupedMatmulHalf: groupedMatmulHalfCases,
  groupedMatmulWeightGrad: groupedMatmulWeightGradCases,
  weightedScatterAdd: weightedScatterAddCases,
  weightedScatterAddBackward: weightedScatterAddBackwardCases,
  topPRoute: topPRouteCases,
  topPBackward: topPBackwardCases,
  f32ToBf16: () => narrowCases('f32ToBf16'),
  bf16ToF32: () => widenCases('bf16ToF32'),
  f32ToF16: () => narrowCases('f32ToF16'),
  f16ToF32: () => widenCases('f16ToF32'),
};

// ---- comparison ---------------------------------------------------------------------------------

/**
 * Outputs agree: bit-exact when tol = 0 (a NaN may differ in payload: JS numbers do not keep it), else
 * |a − r| <= tol·(|r| + mean|r|) element-wise.
 */
function assertClose(where: string, got: Record<string, Out>, want: Record<string, Out>, tol: number): void {
  assert.deepEqual(Object.keys(got), Object.keys(want), where);
  for (const key of Object.keys(want)) {
    const a = got[key], r = want[key];
    const at = `${where}: ${key}`;
    if (typeof r === 'number' || typeof a === 'number') {
      assert.ok(typeof a === 'number' && typeof r === 'number', `${at}: type`);
      assert.ok(Math.abs(a - r) <= tol * Math.abs(r) || Object.is(a, r), `${at}: ${a} vs ${r}`);
      continue;
    }
    assert.equal(a.length, r.length, `${at}: length`);
    if (r instanceof Int32Array) {
      assert.deepEqual(a, r, `${at}: indices and counts are exact`);
      continue;
    }
    if (tol === 0) {
      const ab = a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a;
      const rb = r instanceof Float32Array ? new Uint32Array(r.buffer, r.byteOffset, r.length) : r;
      for (let i = 0; i < ab.length; i++) {
        if (ab[i] !== rb[i] && !(Number.isNaN(a[i]) && Number.isNaN(r[i]))) assert.fail(`${at}[${i}]: bits 0x${ab[i].toString(16)} vs 0x${rb[i].toString(16)} (${a[i]} vs ${r[i]})`);
      }
      continue;
    }
    let mean = 0;
    for (let i = 0; i < r.length; i++) mean += Math.abs(r[i]);
    mean /= Math.max(1, r.length);
    for (let i = 0; i < r.length; i++) {
      if (!(Math.abs(a[i] - r[i]) <= tol * (Math.abs(r[i]) + mean))) {
        assert.fail(`${at}[${i}]: native ${a[i]} vs reference ${r[i]} (tol ${tol}, mean |ref| ${mean.toExponential(2)})`);
      }
    }
  }
}

function assertBitIdentical(where: string, x: Record<string, Out>, y: Record<string, Out>): void {
  assertClose(where, x, y, 0);
}

// ---- the walk -----------------------------------------------------------------------------------

const native = tryNativeBackend();

if (!native) {
  test('native vs reference equivalence', { skip: `native build not loadable: ${nativeLoadError()}` }, () => {});
} else {
  const nat = native;
  const initialThreads = nat.threads();

  test('every kernel of the Backend interface has equivalence cases', () => {
    const missing = KERNEL_NAMES.filter((k) => typeof (CASES as Record<string, unknown>)[k] !== 'function');
    assert.deepEqual(missing, [], `kernels without equivalence cases: ${missing.join(', ')}`);
  });

  for (const kernel of KERNEL_NAMES) {
    test(`${kernel}: native (${nat.isa}) matches reference`, () => {
      const make = (CASES as Partial<Record<string, () => KernelCases>>)[kernel];
      if (!make) assert.fail(`no equivalence cases for kernel "${kernel}"`);
      const { cases, big } = make();
      try {
        nat.setThreads(initialThreads);
        for (const c of cases) assertClose(`${kernel} ${c.label}`, c.run(nat), c.run(referenceBackend), c.tol);
        const want = big.run(referenceBackend);
        for (const n of [1, 2]) {
          nat.setThreads(n);
          const first = big.run(nat);
          assertBitIdentical(`${kernel} ${big.label} threads=${n} repeat`, big.run(nat), first);
          assertClose(`${kernel} ${big.label} threads=${n}`, first, want, big.tol);
        }
      } finally {
        nat.setThreads(initialThreads);
      }
    });
  }

  test('native kernels reject bad arguments with the kernel named', () => {
    const f = (n: number) => new Float32Array(n);
    assert.throws(() => nat.crossEntropyForward(f(2), f(2), f(6), Int32Array.of(0, 3), 2, 3),
      /crossEntropyForward.*targets\[1\] = 3/);
    assert.throws(() => nat.crossEntropyBackward(f(6), f(6), f(2), Int32Array.of(5, 0), f(2), 2, 3),
      /crossEntropyBackward.*targets\[0\] = 5/);
    assert.throws(() => nat.embeddingForward(f(4), Int32Array.of(0, 2), f(4), 2, 2, 2), /embeddingForward.*ids\[1\]/);
    assert.throws(() => nat.embeddingBackward(f(4), f(4), Int32Array.of(-1, 0), 2, 2), /embeddingBackward.*ids\[0\]/);
    assert.throws(() => nat.ropeForward(f(3), f(3), f(3), f(3), Int32Array.of(0), 1, 1, 3), /ropeForward.*even/);
    assert.throws(() => nat.ropeBackward(f(4), f(4), f(2), f(2), Int32Array.of(1), 1, 1, 4), /ropeBackward/);
    assert.throws(() => nat.attentionForward(f(12), f(9), f(12), f(6), f(6), 1, 3, 2, 0, 2),
      /attentionForward.*multiple of nkv/);
    assert.throws(() => nat.attentionBackward(f(24), f(12), f(12), f(24), f(24), f(12), f(12), f(36), 1, 3, 4, 3, 2),
      /attentionBackward.*multiple of nkv/);
    assert.throws(() => nat.cachedAttentionForward(f(4), f(4), f(5), f(6), 1, 2, 2, 1, 2, 2, 1),
      /cachedAttentionForward.*argument 2/);
    assert.throws(() => nat.cachedAttentionForward(f(6), f(6), f(6), f(6), 1, 0, 3, 2, 2, 2, 1),
      /cachedAttentionForward.*multiple of nkv/);
    assert.throws(() => nat.rmsnormForward(f(5), f(2), f(6), f(3), 2, 3, 1e-5), /rmsnormForward.*argument 0/);
    assert.throws(() => nat.adamw(f(2), f(2), f(2), f(2), 2, 1e-3, 0.9, 0.999, 1e-8, 0, 0, 1), /adamw.*step/);
    assert.throws(() => nat.softmaxForward(f(4), f(4), 2.5, 2), /softmaxForward.*integer/);
    assert.throws(() => nat.f32ToF16(new Uint16Array(2), f(3), 3), /f32ToF16.*argument 0/);
    const i = (n: number) => new Int32Array(n);
    assert.throws(() => nat.topPRoute(f(6), i(6), i(2), f(6), 2, 3, 0.4, false, 2, 1), /topPRoute.*minK <= maxK/);
    assert.throws(() => nat.topPRoute(f(6), i(6), i(2), f(6), 2, 3, 0.4, false, 1, 4), /topPRoute.*maxK = 4, E = 3/);
    assert.throws(() => nat.topPBackward(f(6), f(2), f(6), Int32Array.of(0, 3, 1, 0, 1, 2), Int32Array.of(2, 1), 2, 3),
      /topPBackward.*order\[1\] = 3/);
    assert.throws(() => nat.topPBackward(f(6), f(2), f(6), i(6), Int32Array.of(4, 0), 2, 3), /topPBackward.*count\[0\] = 4/);
    assert.throws(() => nat.topPBackward(f(6), f(2), f(6), i(6), Int32Array.of(2, 1), 2, 3), /topPBackward.*argument 1/);
  });
}
