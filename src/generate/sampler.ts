// Next-token choice from a row of logits: greedy (temperature 0), or sampling from
//   softmax(logits / temperature), restricted to the top-k logits (k > 0), then to the nucleus
//   (Holtzman et al. 2020): the fewest most-probable tokens whose probability sums to ≥ top-p,
//   renormalised. The order (temperature → top-k → top-p) is HF's logits-warper order. Before any of
//   them, HF's repetition penalty θ (Keskar et al. 2019, CTRL): the logit z of every token already in the
//   context (prompt and output so far) becomes z/θ if z > 0, else z·θ.
// Draws come from moekit's seeded Rng, so a seed reproduces a run. Ties are broken towards the lower
// token id everywhere (argmax, top-k, nucleus order), so results never depend on sort stability.
// Buffers are allocated once per vocabulary size: a step allocates no buffers.
import { ConfigError, Rng } from '../tensor/index.js';

export interface SamplingOptions {
  /** 0 = greedy (argmax); > 0 divides the logits before the softmax. */
  temperature: number;
  /** Keep only the k largest logits; 0 = off. */
  topK: number;
  /** Nucleus mass in (0, 1]; 1 = off. */
  topP: number;
  seed: number;
  /** θ > 0 for tokens already in the context; 1 (default) = off. */
  repetitionPenalty?: number;
}

export const GREEDY: SamplingOptions = { temperature: 0, topK: 0, topP: 1, seed: 0 };

export function checkSampling(o: SamplingOptions): void {
  if (!(o.temperature >= 0) || !Number.isFinite(o.temperature)) throw new ConfigError(`temperature must be a finite number >= 0 (got ${o.temperature})`);
  if (!Number.isInteger(o.topK) || o.topK < 0) throw new ConfigError(`top-k must be an integer >= 0 (0 = off; got ${o.topK})`);
  if (!(o.topP > 0 && o.topP <= 1)) throw new ConfigError(`top-p must lie in (0, 1] (1 = off; got ${o.topP})`);
  if (!Number.isInteger(o.seed)) throw new ConfigError(`seed must be an integer (got ${o.seed})`);
  const penalty = o.repetitionPenalty ?? 1;
  if (!(penalty > 0) || !Number.isFinite(penalty)) throw new ConfigError(`repetition penalty must be a finite number > 0 (1 = off; got ${penalty})`);
}

/** Index of the largest value, the lowest index among equal maxima. */
export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

export class Sampler {
  private readonly rng: Rng;
  /** Candidate token ids; the first n are live. */
  private readonly ids: Int32Array;
  /** Probability (then unnormalised weight) by token id. */
  private readonly prob: Float64Array;
  private readonly byProbDesc = (a: number, b: number) => this.prob[b] - this.prob[a] || a - b;
  private readonly penalty: number;
  /** The context's distinct tokens (for the repetition penalty): a mark per id and the list of marked ids. */
  private readonly seen: Uint8Array;
  private readonly seenIds: Int32Array;
  private seenCount = 0;

  /** `context`: the prompt, the first tokens the repetition penalty sees (each sampled token joins it). */
  constructor(readonly opts: SamplingOptions, readonly vocabSize: number, context: ArrayLike<number> = []) {
    checkSampling(opts);
    this.rng = new Rng(opts.seed);
    this.ids = new Int32Array(vocabSize);
    this.prob = new Float64Array(vocabSize);
    this.penalty = opts.repetitionPenalty ?? 1;
    const tracked = this.penalty === 1 ? 0 : vocabSize;
    this.seen = new Uint8Array(tracked);
    this.seenIds = new Int32Array(tracked);
    for (let i = 0; i < context.length; i++) this.observe(context[i]);
  }

  /** The next token for logits [V] (with a repetition penalty, the row is penalised in place). */
  sample(logits: Float32Array): number {
    const id = this.choose(logits);
    this.observe(id);
    return id;
  }

  private observe(id: number): void {
    if (this.penalty === 1 || this.seen[id]) return;
    this.seen[id] = 1;
    this.seenIds[this.seenCount++] = id;
  }

  private choose(logits: Float32Array): number {
    if (logits.length !== this.vocabSize) throw new ConfigError(`sampler: ${logits.length} logits for a vocabulary of ${this.vocabSize}`);
    for (let i = 0; i < this.seenCount; i++) {
      const id = this.seenIds[i];
      logits[id] = logits[id] > 0 ? logits[id] / this.penalty : logits[id] * this.penalty;
    }
    if (this.opts.temperature === 0) return argmax(logits);
    const n = this.candidates(logits);
    const ids = this.ids, prob = this.prob;
    // softmax over the candidates, in float64
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, logits[ids[i]]);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const p = Math.exp((logits[ids[i]] - max) / this.opts.temperature);
      prob[ids[i]] = p;
      sum += p;
    }
    for (let i = 0; i < n; i++) prob[ids[i]] /= sum;
    const kept = this.opts.topP < 1 ? this.nucleus(n) : n;
    let mass = 0;
    for (let i = 0; i < kept; i++) mass += prob[ids[i]];
    const u = this.rng.uniform() * mass;
    let acc = 0;
    for (let i = 0; i < kept; i++) {
      acc += prob[ids[i]];
      if (u < acc) return ids[i];
    }
    return ids[kept - 1]; // u within rounding of the total
  }

  /** Fills ids[0, n) with the tokens that survive top-k (all tokens when it is off); returns n. */
  private candidates(logits: Float32Array): number {
    const V = this.vocabSize, k = this.opts.topK, ids = this.ids;
    if (k === 0 || k >= V) {
      for (let i = 0; i < V; i++) ids[i] = i;
      return V;
    }
    // Min-heap of the k best (the root is the worst kept: smaller logit, or equal logit and higher id).
    const worse = (a: number, b: number) => logits[a] < logits[b] || (logits[a] === logits[b] && a > b);
    for (let i = 0; i < k; i++) {
      ids[i] = i;
      siftUp(ids, i, worse);
    }
    for (let t = k; t < V; t++) {
      if (!worse(ids[0], t)) continue;
      ids[0] = t;
      siftDown(ids, k, worse);
    }
    return k;
  }

  /**
   * Reorders ids[0, n) so the nucleus comes first, most probable first; returns its size. Only tokens
   * with probability ≥ a threshold are sorted: when those already hold top-p of the mass, the nucleus is
   * among them (every token above the threshold precedes every token below it). The threshold is
   * lowered until that holds, so a flat distribution still ends with a full sort.
   */
  private nucleus(n: number): number {
    const ids = this.ids, prob = this.prob, topP = this.opts.topP;
    let pmax = 0;
    for (let i = 0; i < n; i++) pmax = Math.max(pmax, prob[ids[i]]);
    let m = n;
    for (let threshold = pmax / 16; threshold > 0; threshold /= 16) {
      let mass = 0;
      m = 0;
      for (let i = 0; i < n; i++) {
        const id = ids[i];
        if (prob[id] >= threshold) {
          ids[i] = ids[m];
          ids[m++] = id;
          mass += prob[id];
        }
      }
      if (mass >= topP || m === n) break;
    }
    const head = ids.subarray(0, m).sort(this.byProbDesc);
    let acc = 0;
    for (let i = 0; i < m; i++) {
      acc += prob[head[i]];
      if (acc >= topP) return i + 1;
    }
    return m; // rounding: the whole candidate set
  }
}

function siftUp(h: Int32Array, i: number, worse: (a: number, b: number) => boolean): void {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!worse(h[i], h[parent])) return;
    [h[i], h[parent]] = [h[parent], h[i]];
    i = parent;
  }
}

function siftDown(h: Int32Array, n: number, worse: (a: number, b: number) => boolean): void {
  for (let i = 0; ;) {
    const l = 2 * i + 1, r = l + 1;
    let w = i;
    if (l < n && worse(h[l], h[w])) w = l;
    if (r < n && worse(h[r], h[w])) w = r;
    if (w === i) return;
    [h[i], h[w]] = [h[w], h[i]];
    i = w;
  }
}
