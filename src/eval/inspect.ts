// What the router did to each token of one text: per MoE layer, the experts each token used (by
// descending weight) and their weights, the mean experts per token, and optionally the logits. The data
// behind `moekit inspect` and the server's routing inspector.
import type { DecoderLM } from '../models/index.js';
import type { MoeRouting } from '../moe/index.js';
import type { LayerReport } from '../nn/index.js';
import { noGrad, ShapeError } from '../tensor/index.js';

export interface LayerRouting {
  layer: number;
  /** experts[t]: the experts token t used, by descending weight (ties: lower id); dropped pairs excluded. */
  experts: number[][];
  weights: number[][];
}

export interface Inspection {
  ids: number[];
  layers: LayerRouting[];
  /** Mean experts per token over tokens and MoE layers (null for a dense model). */
  mean_k: number | null;
  /** [T][V] with `logits`. */
  logits?: number[][];
}

/** One MoE layer's assignment as per-token expert lists. */
export function tokenRouting(layer: number, routing: MoeRouting): LayerRouting {
  const a = routing.output.assignment;
  const per: [number, number][][] = Array.from({ length: routing.T }, () => []);
  for (let i = 0; i < a.token.length; i++) if (!a.dropped[i]) per[a.token[i]].push([a.expert[i], a.weight[i]]);
  for (const p of per) p.sort((x, y) => y[1] - x[1] || x[0] - y[0]);
  return { layer, experts: per.map((p) => p.map((x) => x[0])), weights: per.map((p) => p.map((x) => x[1])) };
}

export function inspectRouting(model: DecoderLM, ids: readonly number[], opts: { logits?: boolean } = {}): Inspection {
  const V = model.config.vocab_size;
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new ShapeError(`token ${i} has id ${id}, outside the model's vocabulary [0, ${V})`);
  });
  if (ids.length === 0) throw new ShapeError('nothing to inspect: the input has no tokens');
  return noGrad(() => {
    const reports: LayerReport[] = [];
    const logits = model.forward(Int32Array.from(ids), 1, ids.length, { training: false, step: 0 }, reports);
    const layers = reports.filter((r) => r.routing).map((r) => tokenRouting(r.layer, r.routing as MoeRouting));
    const pairs = layers.reduce((s, l) => s + l.experts.reduce((n, e) => n + e.length, 0), 0);
    const out: Inspection = { ids: [...ids], layers, mean_k: layers.length ? pairs / (layers.length * ids.length) : null };
    if (opts.logits) out.logits = Array.from({ length: ids.length }, (_, t) => Array.from(logits.data.subarray(t * V, (t + 1) * V)));
    return out;
  });
}
