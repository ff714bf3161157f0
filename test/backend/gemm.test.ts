// Native matmul against a float64 triple-loop oracle written here (independent of the reference
// backend): every transpose case, accumulate on and off, odd sizes (1, 7, 33, 257 and sizes that
// straddle the kernel's register tiles, cache blocks and small-M path), 1 and 2 threads, and every ISA
// build this CPU can run (each build is loaded directly, so a build with stub kernels elsewhere is still
// covered). Also: bit-identical repeats, argument checks, fmaPeak, and matmulHalf (16-bit weights) equal
// to matmul on the exactly widened weights, bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nativeLoadError, tryNativeBackend } from '../../src/backend/index.js';
import { TestRng, rand } from '../helpers.js';

interface GemmAddon {
  matmul(c: Float32Array, a: Float32Array, b: Float32Array, M: number, N: number, K: number,
    transA: boolean, transB: boolean, accumulate: boolean): void;
  matmulHalf(c: Float32Array, a: Float32Array, b: Uint16Array, bf16: boolean, M: number, N: number, K: number,
    accumulate: boolean): void;
  groupedMatmul(c: Float32Array, a: Float32Array, b: Float32Array, offsets: Int32Array, E: number, N: number, K: number,
    transB: boolean, accumulate: boolean): void;
  groupedMatmulHalf(c: Float32Array, a: Float32Array, b: Uint16Array, bf16: boolean, offsets: Int32Array, E: number,
    N: number, K: number): void;
  f32ToBf16(dst: Uint16Array, src: Float32Array, n: number): void;
  f32ToF16(dst: Uint16Array, src: Float32Array, n: number): void;
  bf16ToF32(dst: Float32Array, src: Uint16Array, n: number): void;
  f16ToF32(dst: Float32Array, src: Uint16Array, n: number): void;
  fmaPeak(threads: number, millis: number): number;
  setThreads(n: number): void;
  threads(): number;
  isa(): string;
  cpuFeatures(): Record<string, boolean>;
}

const require = createRequire(import.meta.url);

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the moekit package root (binding.gyp)');
}

function buildPath(isa: string): string {
  return join(packageRoot(), 'build', 'Release', `moekit_${isa}.node`);
}

/** Every ISA build that exists and that this CPU can run, scalar first. */
function loadBuilds(): GemmAddon[] {
  if (!existsSync(buildPath('scalar'))) return [];
  const scalar = require(buildPath('scalar')) as GemmAddon;
  const f = scalar.cpuFeatures();
  const runnable: Record<string, boolean> = {
    avx2: f.avx2 && f.fma && f.f16c,
    avx512: f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx2 && f.fma && f.f16c,
  };
  const out = [scalar];
  for (const isa of ['avx2', 'avx512']) {
    if (runnable[isa] && existsSync(buildPath(isa))) out.push(require(buildPath(isa)) as GemmAddon);
  }
  return out;
}

const builds = loadBuilds();
const skip = builds.length === 0 ? `native build absent (${nativeLoadError() || 'no build/Release'})` : false;

interface Shape { M: number; N: number; K: number }

const ODD = [1, 7, 33, 257];
const SHAPES: Shape[] = [
  ...ODD.flatMap((M) => ODD.flatMap((N) => ODD.map((K) => ({ M, N, K })))),
  // small-M path (M ≤ 4) and the first packed sizes; column tails of every vector width
  { M: 2, N: 65, K: 300 }, { M: 3, N: 17, K: 1 }, { M: 4, N: 1000, K: 33 }, { M: 5, N: 100, K: 17 },
  // around the 12/6/4-row and 32/16/4-column tiles, K past one 256 block, N past one 768 block
  { M: 13, N: 33, K: 600 }, { M: 25, N: 70, K: 520 }, { M: 100, N: 800, K: 40 }, { M: 12, N: 32, K: 8 },
  { M: 40, N: 1600, K: 3 },
];

type Trans = [transA: boolean, transB: boolean];
const TRANS: Trans[] = [[false, false], [false, true], [true, false]];

/** op(a)·op(b) in float64: a stored [M,K] or [K,M] (transA), b stored [K,N] or [N,K] (transB). */
function oracle(a: Float32Array, b: Float32Array, s: Shape, [tA, tB]: Trans): Float64Array {
  const { M, N, K } = s;
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += (tA ? a[k * M + i] : a[i * K + k]) * (tB ? b[j * K + k] : b[k * N + j]);
      out[i * N + j] = sum;
    }
  }
  return out;
}

/** |got − want| ≤ 1e-5·sqrt(K)·max(1, |want|) (inputs are O(1), so sums of K products are O(sqrt K)). */
function assertGemmClose(got: Float32Array, want: Float64Array, K: number, label: string): void {
  const tol = 1e-5 * Math.sqrt(Math.max(K, 1));
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol * Math.max(1, Math.abs(want[i])))) {
      assert.fail(`${label}: element ${i} got ${got[i]}, expected ${want[i]} (err ${err.toExponential(2)})`);
    }
  }
}

function label(addon: GemmAddon, s: Shape, [tA, tB]: Trans, acc: boolean, threads: number): string {
  return `${addon.isa()} M=${s.M} N=${s.N} K=${s.K} transA=${tA} transB=${tB} acc=${acc} threads=${threads}`;
}

/** Runs fn with the addon's pool at n threads, restoring the old size afterwards. */
function withThreads<T>(addon: GemmAddon, n: number, fn: () => T): T {
  const old = addon.threads();
  addon.setThreads(n);
  try {
    return fn();
  } finally {
    addon.setThreads(old);
  }
}

test('matmul matches a float64 oracle: every build, transpose case, size, accumulate and thread count', { skip }, () => {
  const rng = new TestRng(1234);
  for (const s of SHAPES) {
    for (const trans of TRANS) {
      const a = rand(rng, s.M * s.K);
      const b = rand(rng, s.K * s.N);
      const c0 = rand(rng, s.M * s.N);
      const product = oracle(a, b, s, trans);
      const accumulated = product.map((v, i) => v + c0[i]);
      for (const addon of builds) {
        for (const threads of [1, 2]) {
          withThreads(addon, threads, () => {
            for (const acc of [false, true]) {
              const c = c0.slice();
              addon.matmul(c, a, b, s.M, s.N, s.K, trans[0], trans[1], acc);
              assertGemmClose(c, acc ? accumulated : product, s.K, label(addon, s, trans, acc, threads));
            }
          });
        }
      }
    }
  }
});

// Widening a half is exact and the half kernels are the f32 kernels with a widening load, so the
// products must be the very bits of matmul on the widened weights — on the GEMV path (M ≤ 8) and the
// packed path (panels widened while packing) alike.
test('matmulHalf and groupedMatmulHalf equal the f32 kernels on the widened weights, bit for bit: every build, bf16 and f16', { skip }, () => {
  const rng = new TestRng(77);
  const shapes = [...SHAPES, { M: 1, N: 688, K: 256 }, { M: 9, N: 300, K: 600 }];
  for (const addon of builds) {
    for (const bf16 of [true, false]) {
      for (const s of shapes) {
        const a = rand(rng, s.M * s.K), c0 = rand(rng, s.M * s.N);
        const bits = new Uint16Array(s.N * s.K), wide = new Float32Array(s.N * s.K);
        (bf16 ? addon.f32ToBf16 : addon.f32ToF16)(bits, rand(rng, s.N * s.K), bits.length);
        (bf16 ? addon.bf16ToF32 : addon.f16ToF32)(wide, bits, bits.length);
        for (const threads of [1, 2]) {
          withThreads(addon, threads, () => {
            for (const acc of [false, true]) {
              const want = c0.slice(), got = c0.slice();
              addon.matmul(want, a, wide, s.M, s.N, s.K, false, true, acc);
              addon.matmulHalf(got, a, bits, bf16, s.M, s.N, s.K, acc);
              assert.deepEqual(got, want, `${label(addon, s, [false, true], acc, threads)} ${bf16 ? 'bf16' : 'f16'}`);
            }
          });
        }
      }
      // Experts of 0, 1, 8 and 9 rows: skipped, GEMV and packed groups in one call.
      const offsets = Int32Array.from([0, 0, 1, 9, 18]), E = 4, N = 33, K = 70, rows = offsets[E];
      const a = rand(rng, rows * K), bits = new Uint16Array(E * N * K), wide = new Float32Array(E * N * K);
      (bf16 ? addon.f32ToBf16 : addon.f32ToF16)(bits, rand(rng, E * N * K), bits.length);
      (bf16 ? addon.bf16ToF32 : addon.f16ToF32)(wide, bits, bits.length);
      const want = new Float32Array(rows * N), got = new Float32Array(rows * N);
      addon.groupedMatmul(want, a, wide, offsets, E, N, K, true, false);
      addon.groupedMatmulHalf(got, a, bits, bf16, offsets, E, N, K);
      assert.deepEqual(got, want, `${addon.isa()} groupedMatmulHalf ${bf16 ? 'bf16' : 'f16'}`);
    }
  }
});

test('matmul is bit-identical on repeat, and across 1 and 2 threads', { skip }, () => {
  const rng = new TestRng(99);
  const shapes: Shape[] = [{ M: 257, N: 300, K: 600 }, { M: 33, N: 1000, K: 257 }, { M: 1, N: 688, K: 256 }];
  for (const s of shapes) {
    for (const trans of TRANS) {
      const a = rand(rng, s.M * s.K);
      const b = rand(rng, s.K * s.N);
      const c0 = rand(rng, s.M * s.N);
      for (const addon of builds) {
        const runs = [1, 2, 2].map((threads) => withThreads(addon, threads, () => {
          const c = c0.slice();
          addon.matmul(c, a, b, s.M, s.N, s.K, trans[0], trans[1], true);
          return c;
        }));
        const name = label(addon, s, trans, true, 2);
        assert.deepEqual(runs[2], runs[1], `${name}: repeat differs`);
        assert.deepEqual(runs[1], runs[0], `${name}: 1 vs 2 threads differ`);
      }
    }
  }
});

test('matmul with K = 0 writes zeros, or leaves c unchanged when accumulating; M = 0 is a no-op', { skip }, () => {
  for (const addon of builds) {
    const c = new Float32Array([1, 2, 3, 4, 5, 6]);
    addon.matmul(c, new Float32Array(0), new Float32Array(0), 2, 3, 0, false, false, true);
    assert.deepEqual(c, new Float32Array([1, 2, 3, 4, 5, 6]));
    addon.matmul(c, new Float32Array(0), new Float32Array(0), 2, 3, 0, false, true, false);
    assert.deepEqual(c, new Float32Array(6));
    addon.matmul(new Float32Array(0), new Float32Array(0), new Float32Array(12), 0, 3, 4, false, false, false);
  }
});

test('matmul rejects transA && transB, short buffers, non-integer sizes and overlapping c', { skip }, () => {
  for (const addon of builds) {
    const a = new Float32Array(6);
    const b = new Float32Array(6);
    const c = new Float32Array(4);
    assert.throws(() => addon.matmul(c, a, b, 2, 2, 3, true, true, false), /transA && transB/);
    assert.throws(() => addon.matmul(new Float32Array(3), a, b, 2, 2, 3, false, false, false), /argument 0 has 3 elements/);
    assert.throws(() => addon.matmul(c, a, new Float32Array(5), 2, 2, 3, false, false, false), /argument 2/);
    assert.throws(() => addon.matmul(c, a, b, 2.5, 2, 3, false, false, false), /non-negative integer/);
    const shared = new Float32Array(10);
    assert.throws(() => addon.matmul(shared.subarray(0, 4), shared.subarray(2, 8), b, 2, 2, 3, false, false, false),
      /must not overlap/);
  }
});

test('matmulHalf and groupedMatmulHalf refuse a c that overlaps the 16-bit weights', { skip }, () => {
  for (const addon of builds) {
    // c [2, 2] f32 = bytes 0..16 of the buffer; the weights [2, 3] of halves start at byte 8, inside c
    const buffer = new ArrayBuffer(32);
    const c = new Float32Array(buffer, 0, 4);
    const b = new Uint16Array(buffer, 8, 6);
    const a = new Float32Array(6);
    assert.throws(() => addon.matmulHalf(c, a, b, true, 2, 2, 3, false), /matmulHalf.*must not overlap a or b/);
    assert.throws(() => addon.groupedMatmulHalf(c, a, b, true, Int32Array.of(0, 2), 1, 2, 3),
      /groupedMatmulHalf.*must not overlap a or b/);
    // the same buffers side by side are accepted
    const apart = new Uint16Array(buffer, 16, 6);
    addon.groupedMatmulHalf(c, a, apart, true, Int32Array.of(0, 2), 1, 2, 3);
  }
});

test('the backend chosen by tryNativeBackend() runs matmul', { skip: tryNativeBackend() ? false : `native backend not loadable (${nativeLoadError()})` }, () => {
  const be = tryNativeBackend();
  assert.ok(be);
  const rng = new TestRng(5);
  const s = { M: 33, N: 7, K: 257 };
  for (const trans of TRANS) {
    const a = rand(rng, s.M * s.K);
    const b = rand(rng, s.K * s.N);
    const c = new Float32Array(s.M * s.N);
    be.matmul(c, a, b, s.M, s.N, s.K, trans[0], trans[1], false);
    assertGemmClose(c, oracle(a, b, s, trans), s.K, `backend ${be.isa} transA=${trans[0]} transB=${trans[1]}`);
  }
});

test('fmaPeak reports a positive GFLOP/s for 1 and 2 threads', { skip }, () => {
  for (const addon of builds) {
    for (const threads of [1, 2]) {
      const g = withThreads(addon, 2, () => addon.fmaPeak(threads, 5));
      assert.ok(Number.isFinite(g) && g > 0, `${addon.isa()} fmaPeak(${threads}) = ${g}`);
    }
  }
});
