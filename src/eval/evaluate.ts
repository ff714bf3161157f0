// Evaluation of a trained model over a set of token batches: perplexity, the §16 routing statistics per
// MoE layer (RoutingCollector), and the two breakdowns the Top-P paper's claims need — per data source
// (the target token's source: Brown genre, or the `source` of the user's jsonl) and per token difficulty
// (deciles of each token's own cross-entropy) — each with the mean activated experts per token.
//
// JSON shape of `ModelEvaluation` (stable; `moekit eval --json` prints it under "evaluation"):
//   {
//     "loss": 3.91, "ppl": 49.9, "tokens": 16384,          token-weighted mean CE (nats), exp(loss), targets counted
//     "moe_layers": [0, 1],                                  MoE layer indices, in depth order ([] for a dense model)
//     "routing": RoutingMetrics | null,                      src/eval/routing.ts: per layer k̄, k_hist, load, CV, …
//     "per_source": [{ "source": "news", "tokens": 2048, "loss": 3.8, "ppl": 44.7,
//                      "mean_k": 1.9, "mean_k_per_layer": [2.1, 1.7] }, …],   sources in the order given
//     "by_difficulty": [{ "decile": 1, "tokens": 1638, "loss_range": [0.01, 0.9], "mean_loss": 0.4,
//                         "mean_k": 1.8, "mean_k_per_layer": [2.0, 1.6] }, …]  decile 1 = easiest 10 %
//   }
// `mean_k` is the activated experts per token after capacity drops (what was computed), averaged over the
// MoE layers; `mean_k_per_layer[i]` belongs to `moe_layers[i]`. A dense model has mean_k null and
// mean_k_per_layer []. Empty deciles (fewer than 10 tokens) and sources with no tokens are left out.
import { noGrad } from '../tensor/index.js';
import { ConfigError } from '../tensor/index.js';
import { kPerToken, type MoeRouting, type RouterConfig } from '../moe/index.js';
import type { DecoderLM, LossResult } from '../models/index.js';
import { RoutingCollector, type RoutingMetrics } from './routing.js';

/** One evaluation batch: rows of `seqLen` tokens, row-major; targets < 0 are ignored. */
export interface EvalBatch {
  inputs: Int32Array;
  targets: Int32Array;
  /** Source index (into EvaluateOptions.sources) of each target token; absent = source 0. */
  sources?: Int32Array;
}

export interface EvaluateOptions {
  batches: readonly EvalBatch[];
  seqLen: number;
  /** Names of the source indices in the batches (e.g. PreparedData.sources); default ["all"]. */
  sources?: readonly string[];
  /**
   * Evaluate with this router instead of the trained one (same parameters), e.g. {"type": "top_p",
   * "top_p": 0.4} on a top_k-trained model. Validated like config.json's router; refused for a dense model.
   */
  router?: RouterConfig | Record<string, unknown>;
}

export interface SourceMetrics {
  source: string;
  tokens: number;
  loss: number;
  ppl: number;
  /** Mean over MoE layers of the activated experts per token; null for a dense model. */
  mean_k: number | null;
  mean_k_per_layer: number[];
}

export interface DifficultyBucket {
  /** 1 = the 10 % of tokens with the lowest loss, 10 = the hardest 10 %. */
  decile: number;
  tokens: number;
  /** [min, max] of the tokens' own loss in this decile. */
  loss_range: [number, number];
  mean_loss: number;
  mean_k: number | null;
  mean_k_per_layer: number[];
}

export interface ModelEvaluation {
  loss: number;
  ppl: number;
  tokens: number;
  /** MoE layer indices in depth order; mean_k_per_layer entries follow it. */
  moe_layers: number[];
  routing: RoutingMetrics | null;
  per_source: SourceMetrics[];
  by_difficulty: DifficultyBucket[];
}

/** Per counted token: its loss, source and activated experts in each MoE layer (after drops). */
export interface TokenRecords {
  loss: Float32Array;
  source: Int32Array;
  /** k[l][i]: experts token i activated in MoE layer moeLayers[l]. */
  k: Int32Array[];
  moeLayers: number[];
}

/**
 * Runs `fn` while `model`'s MoE layers route with `router` (validated against every layer's expert
 * count; the parameters are kept, nothing is copied), then restores the trained routers.
 */
export function routedWith<R>(model: DecoderLM, router: RouterConfig | Record<string, unknown>, fn: () => R): R {
  const previous = model.setRouter(router);
  try {
    return fn();
  } finally {
    model.restoreRouters(previous);
  }
}

/** Runs the batches (evaluation mode, no gradients) and keeps what each counted token did. */
export function collectTokens(model: DecoderLM, batches: readonly EvalBatch[], seqLen: number,
  routing?: RoutingCollector): { records: TokenRecords; lossSum: number } {
  const moeLayers = model.moeLayers().map((m) => m.layer);
  const loss: number[] = [];
  const source: number[] = [];
  const k: number[][] = moeLayers.map(() => []);
  let lossSum = 0;
  for (const b of batches) {
    if (b.inputs.length % seqLen !== 0 || b.targets.length !== b.inputs.length) {
      throw new ConfigError(`evaluation batch of ${b.inputs.length} inputs / ${b.targets.length} targets does not form rows of ${seqLen}`);
    }
    noGrad(() => {
      const r: LossResult = model.loss(b.inputs, b.targets, b.inputs.length / seqLen, seqLen);
      routing?.add(r.reports);
      const perLayer = moeLayers.map((layer) => {
        const rep = r.reports.find((x) => x.layer === layer)?.routing as MoeRouting | undefined;
        return rep ? kPerToken(rep.output.assignment, rep.T, true) : null;
      });
      for (let i = 0; i < b.targets.length; i++) {
        if (b.targets[i] < 0) continue;
        const l = r.perToken[i];
        loss.push(l);
        lossSum += l;
        source.push(b.sources ? b.sources[i] : 0);
        perLayer.forEach((kt, j) => k[j].push(kt ? kt[i] : 0));
      }
    });
  }
  return {
    records: { loss: Float32Array.from(loss), source: Int32Array.from(source), k: k.map((a) => Int32Array.from(a)), moeLayers },
    lossSum,
  };
}

/** Mean k per MoE layer and over layers for the tokens in `idx`. */
function meanK(records: TokenRecords, idx: ArrayLike<number>): { mean_k: number | null; mean_k_per_layer: number[] } {
  if (records.moeLayers.length === 0 || idx.length === 0) return { mean_k: null, mean_k_per_layer: [] };
  const per = records.k.map((kl) => {
    let s = 0;
    for (let j = 0; j < idx.length; j++) s += kl[idx[j]];
    return s / idx.length;
  });
  return { mean_k: per.reduce((a, b) => a + b, 0) / per.length, mean_k_per_layer: per };
}

/** Per-source breakdown (target token's source), in the order of `sources`; empty sources left out. */
export function perSource(records: TokenRecords, sources: readonly string[]): SourceMetrics[] {
  const out: SourceMetrics[] = [];
  const bySource = new Map<number, number[]>();
  records.source.forEach((s, i) => {
    let list = bySource.get(s);
    if (!list) bySource.set(s, (list = []));
    list.push(i);
  });
  const order = [...bySource.keys()].sort((a, b) => a - b);
  for (const s of order) {
    const idx = bySource.get(s)!;
    let sum = 0;
    for (const i of idx) sum += records.loss[i];
    const loss = sum / idx.length;
    out.push({ source: sources[s] ?? `source ${s}`, tokens: idx.length, loss, ppl: Math.exp(loss), ...meanK(records, idx) });
  }
  return out;
}

/**
 * Deciles of token difficulty: tokens sorted by their own loss (ties by position), decile d holds sorted
 * positions [⌊(d−1)·N/10⌋, ⌊d·N/10⌋). Empty deciles (N < 10) are left out.
 */
export function byDifficulty(records: TokenRecords): DifficultyBucket[] {
  const N = records.loss.length;
  const order = Int32Array.from({ length: N }, (_, i) => i).sort((a, b) => records.loss[a] - records.loss[b] || a - b);
  const out: DifficultyBucket[] = [];
  for (let d = 1; d <= 10; d++) {
    const idx = order.subarray(Math.floor(((d - 1) * N) / 10), Math.floor((d * N) / 10));
    if (idx.length === 0) continue;
    let sum = 0;
    for (const i of idx) sum += records.loss[i];
    out.push({
      decile: d, tokens: idx.length, loss_range: [records.loss[idx[0]], records.loss[idx[idx.length - 1]]],
      mean_loss: sum / idx.length, ...meanK(records, idx),
    });
  }
  return out;
}

/** Perplexity, §16 routing statistics, per-source and per-difficulty breakdowns over the batches. */
export function evaluateModel(model: DecoderLM, opts: EvaluateOptions): ModelEvaluation {
  if (opts.router) {
    const { router, ...rest } = opts;
    return routedWith(model, router, () => evaluateModel(model, rest));
  }
  const collector = new RoutingCollector();
  const { records, lossSum } = collectTokens(model, opts.batches, opts.seqLen, collector);
  const tokens = records.loss.length;
  const loss = tokens > 0 ? lossSum / tokens : NaN;
  return {
    loss, ppl: Math.exp(loss), tokens,
    moe_layers: records.moeLayers,
    routing: collector.summary(model, opts.seqLen),
    per_source: perSource(records, opts.sources ?? ['all']),
    by_difficulty: byDifficulty(records),
  };
}
