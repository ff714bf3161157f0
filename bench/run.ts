// `npm run bench`: JSON lines on stdout, one per measurement.
//   gemm:  the machine's FMA peak (1 and N threads), then GFLOP/s of the reference model's GEMMs
//          (bench/kernels/gemm.ts GEMM_SHAPES) for the native build and, where affordable, the
//          reference backend, each with frac_of_peak.
//   train: training benchmarks, from bench/train.ts.
//   decode: batch-1 prefill and greedy decode through the KV cache, 1 and N threads (bench/decode.ts).
//   load:  checkpoint load time and peak RSS against the file size and a plain read (bench/load.ts).
// Flags: --only gemm|train|decode|load   --threads N (default: all hardware threads)   --reps N (default 7)
// Compare with other engines only within one run on one machine: these machines are shared and noisy.
import { availableParallelism } from 'node:os';
import { GEMM_SHAPES, benchGemm, loadGemmBuilds, loadReference } from './kernels/gemm.js';
import { runTrainBench } from './train.js';
import { runDecodeBench } from './decode.js';
import { runLoadBench } from './load.js';

const SECTIONS = ['gemm', 'train', 'decode', 'load'] as const;
type Section = (typeof SECTIONS)[number];

interface Options { only: Section | null; threads: number; reps: number }

function parseArgs(argv: string[]): Options {
  const opts: Options = { only: null, threads: availableParallelism(), reps: 7 };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = argv[i + 1];
    if (key === '--only') {
      if (!SECTIONS.includes(value as Section)) throw new Error(`--only must be one of ${SECTIONS.join('|')} (got "${value}")`);
      opts.only = value as Section;
    } else if (key === '--threads' || key === '--reps') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${key} needs a positive integer (got "${value}")`);
      if (key === '--threads') opts.threads = n;
      else opts.reps = n;
    } else {
      throw new Error(`unknown flag "${key}"; known: --only ${SECTIONS.join('|')}, --threads N, --reps N`);
    }
    i++;
  }
  return opts;
}

const emit = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
const round = (x: number, digits = 3) => Number(x.toPrecision(digits + 1));

/** The reference backend is timed only where one call stays under ~2 s (it runs ~1 GFLOP/s). */
const REFERENCE_MAX_FLOP = 2e9;

async function gemmBench(opts: Options): Promise<void> {
  const builds = loadGemmBuilds();
  const native = builds[builds.length - 1];
  if (!native) {
    emit({ bench: 'gemm', skipped: 'native build absent (npm run build:native)' });
    return;
  }
  const isa = native.isa();
  const threadCounts = [...new Set([1, opts.threads])];
  native.setThreads(Math.max(...threadCounts));
  const peak = new Map<number, number>();
  for (const n of threadCounts) {
    const gflops = Math.max(native.fmaPeak(n, 200), native.fmaPeak(n, 200));
    peak.set(n, gflops);
    emit({ bench: 'fma_peak', isa, threads: n, gflops: round(gflops) });
  }
  for (const s of GEMM_SHAPES) {
    const shape = { shape: s.name, M: s.M, N: s.N, K: s.K, transA: s.transA, transB: s.transB };
    for (const n of threadCounts) {
      native.setThreads(n);
      const t = benchGemm(native.matmul, s, opts.reps);
      emit({
        bench: 'gemm', ...shape, backend: 'native', isa, threads: n, reps: t.reps,
        ms_min: round(t.min * 1e3), ms_median: round(t.median * 1e3),
        gflops_median: round(t.gflops), gflops_max: round(t.gflopsMax),
        frac_of_peak: round(t.gflops / (peak.get(n) ?? NaN), 2),
      });
    }
  }
  native.setThreads(opts.threads);
  const reference = await loadReference();
  for (const s of GEMM_SHAPES) {
    if (!reference || 2 * s.M * s.N * s.K > REFERENCE_MAX_FLOP) continue;
    const t = benchGemm(reference.matmul, s, Math.min(opts.reps, 3));
    emit({
      bench: 'gemm', shape: s.name, M: s.M, N: s.N, K: s.K, transA: s.transA, transB: s.transB,
      backend: 'reference', isa: 'js', threads: 1, reps: t.reps,
      ms_min: round(t.min * 1e3), ms_median: round(t.median * 1e3),
      gflops_median: round(t.gflops), gflops_max: round(t.gflopsMax),
      frac_of_peak: round(t.gflops / (peak.get(1) ?? NaN), 2),
    });
  }
  if (!reference) emit({ bench: 'gemm', backend: 'reference', skipped: 'reference backend not available' });
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.only === null || opts.only === 'gemm') await gemmBench(opts);
  // training benchmarks are added by bench/train.ts
  if (opts.only === null || opts.only === 'train') await runTrainBench({ threads: opts.threads, reps: opts.reps });
  if (opts.only === null || opts.only === 'decode') await runDecodeBench({ threads: opts.threads, reps: opts.reps });
  if (opts.only === null || opts.only === 'load') runLoadBench(Math.min(opts.reps, 5));
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exit(1);
});
