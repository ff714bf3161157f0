// A router sweep at inference: the same weights evaluated with one router at several settings (Top-P
// thresholds, or k for top-k) — perplexity against mean activated experts per token, beside the model's
// own router. The question of the Top-P paper ("harder tasks need more experts") asked of any checkpoint.
import { ConfigError } from '../tensor/index.js';
import type { DecoderLM } from '../models/index.js';
import { evaluateModel, routedWith, type EvaluateOptions, type ModelEvaluation } from './evaluate.js';
import { htmlPage } from './report.js';
import { esc, figure, lineChart, PALETTE } from './svg.js';

export interface SweepPoint {
  /** The swept setting (top_p or k). */
  value: number;
  router: unknown;
  loss: number;
  ppl: number;
  mean_k: number;
}

export interface SweepResult {
  /** The option that was swept. */
  key: 'top_p' | 'k';
  points: SweepPoint[];
  /** The model's own router on the same data. */
  native: { router: unknown; loss: number; ppl: number; mean_k: number };
}

/** Which option a sweep varies for a router type. */
export function sweepKey(type: unknown): 'top_p' | 'k' {
  if (type === 'top_p') return 'top_p';
  if (type === 'top_k' || type === 'group_limited') return 'k';
  throw new ConfigError(`a sweep varies top_p (router top_p) or k (router top_k); got router ${JSON.stringify(type)}`, 'use --router top_p or --router top_k');
}

/**
 * `native`: the model's evaluation with its own router on `data` (the caller's plain evaluation, so the
 * sweep does not run it again).
 */
export function sweepRouter(model: DecoderLM, data: Omit<EvaluateOptions, 'router'>, native: ModelEvaluation, router: Record<string, unknown>,
  values: readonly number[], onPoint: (done: number, total: number) => void = () => undefined): SweepResult {
  const key = sweepKey(router.type);
  const point = (ev: ModelEvaluation) => ({ loss: ev.loss, ppl: ev.ppl, mean_k: ev.routing!.mean_k });
  // The swept routers first: setRouter refuses a dense model with a typed error (whose evaluation has no routing).
  const points = values.map((value, i) => {
    const r = { ...router, [key]: value };
    const ev = routedWith(model, r, () => ({ router: model.config.moe!.router as unknown, ...point(evaluateModel(model, data)) }));
    onPoint(i + 1, values.length);
    return { value, ...ev };
  });
  return { key, points, native: { router: model.config.moe?.router ?? null, ...point(native) } };
}

/** A self-contained report: the perplexity / experts-per-token curve with the native router beside it. */
export function renderSweepReport(modelName: string, dataLabel: string, r: SweepResult): string {
  const label = r.key === 'top_p' ? 'Top-P threshold p' : 'experts per token k';
  const chart = lineChart([
    { name: `${r.key === 'top_p' ? 'Top-P' : 'Top-k'} sweep`, points: r.points.map((p) => ({ x: p.mean_k, y: p.ppl })) },
    { name: 'native router', color: PALETTE[1], points: [{ x: r.native.mean_k, y: r.native.ppl }] },
  ], { xLabel: 'mean activated experts per token', yLabel: 'perplexity', xFormat: (v) => v.toFixed(2), yFormat: (v) => v.toFixed(2) });
  const rows = [
    ...r.points.map((p) => `<tr><td>${esc(`${r.key} = ${p.value}`)}</td><td>${p.mean_k.toFixed(3)}</td><td>${p.loss.toFixed(4)}</td><td>${p.ppl.toFixed(3)}</td></tr>`),
    `<tr><td>native: ${esc(JSON.stringify(r.native.router))}</td><td>${r.native.mean_k.toFixed(3)}</td><td>${r.native.loss.toFixed(4)}</td><td>${r.native.ppl.toFixed(3)}</td></tr>`,
  ].join('');
  return htmlPage(`moekit router sweep: ${modelName}`, `<section id="sweep"><h2>Perplexity against activated experts</h2>
<p>Data: ${esc(dataLabel)}. The same weights evaluated with the router at each ${esc(label)}, and with the model's own router.</p>
${figure('sweep-curve', 'Perplexity vs mean experts per token', chart,
    `Each point of the sweep is one ${label}; the separate point is the checkpoint's native router. Lower and further left is cheaper and better.`)}
<table><tr><th>router</th><th>mean experts/token</th><th>loss</th><th>perplexity</th></tr>${rows}</table></section>`);
}
