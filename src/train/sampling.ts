// Temperature-heated source sampling (spec §10, Dua et al.): each training row comes from source l with
// probability p_l ∝ q_l^{1/T}, q_l = n_l / Σn (token shares), and T rises during training from T₀
// (≈ 1: data-proportional) to T_max, so small sources are up-sampled progressively:
//   T(step) = T₀ + (T_max − T₀) · min(1, step/N)       (`linear`; `sqrt` uses √min(1, step/N))
// A row is a uniformly drawn window of seq_len + 1 tokens of its source's own stream, from an RNG
// seeded by (seed, batch index, row): a batch is a pure function of its index, so resume is exact.
import { ConfigError, Rng } from '../tensor/index.js';
import { sequenceCount, type TokenStream } from '../data/index.js';
import type { Batch } from './trainer.js';

export interface TemperatureSchedule {
  t0: number;
  t_max: number;
  /** N: optimizer steps to go from T₀ to T_max. */
  steps: number;
  shape: 'linear' | 'sqrt';
}

export function temperatureAt(s: TemperatureSchedule, step: number): number {
  const x = Math.min(1, step / s.steps);
  return s.t0 + (s.t_max - s.t0) * (s.shape === 'sqrt' ? Math.sqrt(x) : x);
}

/** p_l ∝ q_l^{1/T} with q_l = n_l / Σn. */
export function sourceProbabilities(counts: readonly number[], temperature: number): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  const w = counts.map((n) => (n / total) ** (1 / temperature));
  const z = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / z);
}

/** One token stream per source: that source's documents (with separators) in their stream order. */
export function splitBySource(stream: TokenStream, sources: number): TokenStream[] {
  const counts = new Array<number>(sources).fill(0);
  for (const s of stream.sources) counts[s]++;
  const out = counts.map((n) => ({ tokens: new Int32Array(n), sources: new Int32Array(n) }));
  const at = new Array<number>(sources).fill(0);
  stream.tokens.forEach((tok, i) => {
    const s = stream.sources[i];
    out[s].tokens[at[s]] = tok;
    out[s].sources[at[s]++] = s;
  });
  return out;
}

export class TemperatureBatches {
  private readonly streams: TokenStream[];
  private readonly windows: number[];

  constructor(stream: TokenStream, sourceNames: readonly string[], private readonly schedule: TemperatureSchedule,
    private readonly opts: { seqLen: number; batchSize: number; seed: number; gradAccum: number }) {
    this.streams = splitBySource(stream, sourceNames.length);
    this.windows = this.streams.map((s) => sequenceCount(s, opts.seqLen));
    this.windows.forEach((n, l) => {
      if (n === 0) {
        throw new ConfigError(`data.temperature_schedule: source "${sourceNames[l]}" has fewer than seq_len + 1 = ${opts.seqLen + 1} training tokens`,
          'drop the schedule, add text to that source, or shorten seq_len');
      }
    });
  }

  /** Source probabilities at micro-batch `index` (its optimizer step is index / grad_accum). */
  probabilities(index: number): number[] {
    const step = Math.floor(index / this.opts.gradAccum);
    return sourceProbabilities(this.streams.map((s) => s.tokens.length), temperatureAt(this.schedule, step));
  }

  batch(index: number): Batch {
    const { seqLen: T, batchSize, seed } = this.opts;
    const p = this.probabilities(index);
    const inputs = new Int32Array(batchSize * T);
    const targets = new Int32Array(batchSize * T);
    for (let row = 0; row < batchSize; row++) {
      const rng = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b9) ^ Math.imul(row + 1, 0x85ebca6b)) >>> 0);
      let u = rng.uniform();
      let l = 0;
      while (l < p.length - 1 && u >= p[l]) u -= p[l++];
      const start = rng.int(this.windows[l]) * T;
      inputs.set(this.streams[l].tokens.subarray(start, start + T), row * T);
      targets.set(this.streams[l].tokens.subarray(start + 1, start + T + 1), row * T);
    }
    return { inputs, targets };
  }
}
