// GEMM playground (llm.c dev/ style): the versions of matmul side by side on the reference model's
// shapes, one JSON line per (version, shape, threads). Versions:
//   v1-js      a naive triple loop in TypeScript (float32 accumulation), on a row slice of M
//   reference  the reference backend (plain TypeScript, float64 accumulation), on a row slice of M
//   native-<isa>  each native build this CPU can run (BLIS-style packed kernel, small-M path for M ≤ 4)
// Run: tsc -p . && node dist/bench/kernels/gemm.js [--threads N] [--reps N]
// bench/run.ts reuses the loader, the shapes and the timer exported here.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../../src/backend/backend.js';

export interface GemmAddon {
  matmul(c: Float32Array, a: Float32Array, b: Float32Array, M: number, N: number, K: number,
    transA: boolean, transB: boolean, accumulate: boolean): void;
  /** GFLOP/s of a register-resident FMA loop on `threads` threads for `millis` ms. */
  fmaPeak(threads: number, millis: number): number;
  setThreads(n: number): void;
  threads(): number;
  isa(): string;
  cpuFeatures(): Record<string, boolean>;
}

export type Matmul = GemmAddon['matmul'];

export interface GemmShape {
  name: string;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  accumulate: boolean;
}

/** The reference model's GEMMs (d_model 256, expert width 688, vocab 8192, 2048 tokens per step). */
export const GEMM_SHAPES: GemmShape[] = [
  // Linear forward y = x·Wᵀ, x [2048,256], W [688,256]
  { name: 'ffn_fwd_nt', M: 2048, N: 688, K: 256, transA: false, transB: true, accumulate: false },
  // dX = dY·W, dY [2048,688], W [688,256]
  { name: 'ffn_dx_nn', M: 2048, N: 256, K: 688, transA: false, transB: false, accumulate: false },
  // the same product with a stored [K,M] (TN at 2048×688@688×256)
  { name: 'ffn_tn', M: 2048, N: 256, K: 688, transA: true, transB: false, accumulate: false },
  // weight gradient dW[688,256] += dYᵀ·X, dY [2048,688], X [2048,256]
  { name: 'ffn_dw_tn', M: 688, N: 256, K: 2048, transA: true, transB: false, accumulate: true },
  // LM head logits = x·Wᵀ, W [8192,256]
  { name: 'lm_head_nt', M: 2048, N: 8192, K: 256, transA: false, transB: true, accumulate: false },
  // decode GEMV: one token through W [688,256]
  { name: 'gemv_nt', M: 1, N: 688, K: 256, transA: false, transB: true, accumulate: false },
];

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the moekit package root (binding.gyp)');
}

const require = createRequire(import.meta.url);

/**
 * The native builds this CPU can run, best last, loaded directly (GEMM and fmaPeak only need this
 * family, so the bench works while other kernel families are still stubs). Empty if not built.
 */
export function loadGemmBuilds(): GemmAddon[] {
  const path = (isa: string) => join(packageRoot(), 'build', 'Release', `moekit_${isa}.node`);
  if (!existsSync(path('scalar'))) return [];
  const scalar = require(path('scalar')) as GemmAddon;
  const f = scalar.cpuFeatures();
  const can = {
    avx2: f.avx2 && f.fma && f.f16c,
    avx512: f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx2 && f.fma && f.f16c,
  };
  const out = [scalar];
  if (can.avx2 && existsSync(path('avx2'))) out.push(require(path('avx2')) as GemmAddon);
  if (can.avx512 && existsSync(path('avx512'))) out.push(require(path('avx512')) as GemmAddon);
  return out;
}

/** The reference backend, or null while it is not written yet (imported by a computed path). */
export async function loadReference(): Promise<Backend | null> {
  const path = '../../src/backend/reference/index.js';
  try {
    const mod = (await import(path)) as { referenceBackend?: Backend };
    return mod.referenceBackend ?? null;
  } catch {
    return null;
  }
}

export interface Timing {
  /** Seconds per call: fastest and median of the reps. */
  min: number;
  median: number;
  reps: number;
}

/**
 * Times fn: one warm-up call, then `reps` samples; a sample repeats fn until it spans ≥ minSeconds
 * (short kernels such as the GEMV would otherwise measure the timer).
 */
export function timeIt(fn: () => void, reps: number, minSeconds = 0.02): Timing {
  fn();
  let inner = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; i++) fn();
    const s = Number(process.hrtime.bigint() - t0) * 1e-9;
    if (s >= minSeconds || inner >= 1 << 20) break;
    inner = Math.min(1 << 20, Math.max(inner * 2, Math.ceil((inner * minSeconds) / Math.max(s, 1e-9))));
  }
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < inner; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) * 1e-9 / inner);
  }
  samples.sort((x, y) => x - y);
  return { min: samples[0], median: samples[Math.floor((samples.length - 1) / 2)], reps };
}

/** Seeded uniform [-1, 1) data (xorshift32), so runs are comparable. */
export function randomF32(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

export interface GemmOperands { a: Float32Array; b: Float32Array; c: Float32Array }

export function operands(s: GemmShape, rows = s.M): GemmOperands {
  return { a: randomF32(rows * s.K, 1), b: randomF32(s.K * s.N, 2), c: new Float32Array(rows * s.N) };
}

/** v1: the naive triple loop, float32 accumulation. */
const naiveMatmul: Matmul = (c, a, b, M, N, K, tA, tB, acc) => {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum = Math.fround(sum + Math.fround((tA ? a[k * M + i] : a[i * K + k]) * (tB ? b[j * K + k] : b[k * N + j])));
      c[i * N + j] = acc ? c[i * N + j] + sum : sum;
    }
  }
};

/**
 * GFLOP/s of one version on one shape. `rows` < M times a row slice (for the slow JS versions; with
 * transA the slice is a smaller [K, rows] problem, which has the same per-element cost).
 */
export function benchGemm(matmul: Matmul, s: GemmShape, reps: number, rows = s.M): Timing & { gflops: number; gflopsMax: number } {
  const { a, b, c } = operands(s, rows);
  const t = timeIt(() => matmul(c, a, b, rows, s.N, s.K, s.transA, s.transB, s.accumulate), reps);
  const flop = 2 * rows * s.N * s.K;
  return { ...t, gflops: flop / t.median * 1e-9, gflopsMax: flop / t.min * 1e-9 };
}

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} needs a positive integer`);
  return v;
}

async function main(): Promise<void> {
  const threads = flag('--threads', 2);
  const reps = flag('--reps', 5);
  const emit = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const reference = await loadReference();
  for (const s of GEMM_SHAPES) {
    const rows = Math.min(s.M, 32);
    emit({ version: 'v1-js', shape: s.name, rows, threads: 1, ...benchGemm(naiveMatmul, s, 3, rows) });
    if (reference) emit({ version: 'reference', shape: s.name, rows, threads: 1, ...benchGemm(reference.matmul, s, 3, rows) });
    for (const addon of loadGemmBuilds()) {
      for (const n of [1, threads]) {
        addon.setThreads(n);
        emit({ version: `native-${addon.isa()}`, shape: s.name, rows: s.M, threads: n, ...benchGemm(addon.matmul, s, reps) });
      }
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
