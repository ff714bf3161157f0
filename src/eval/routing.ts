// Routing statistics of a model over an evaluation set (methods spec §16), per MoE layer and overall:
// experts per token before/after drops, k histogram, load per expert, load CV, MaxVio, dead experts,
// dropped fractions, router entropy, the layer's aux losses, and activated parameters / FLOPs per token.
import type { LayerReport } from '../nn/index.js';
import { concatGroups, routingStats, type MoeRouting, type RoutedGroup } from '../moe/index.js';
import type { DecoderLM } from '../models/index.js';

export interface LayerRoutingMetrics {
  layer: number;
  experts: number;
  mean_k: number;
  mean_k_after_drops: number;
  k_hist: number[];
  load: number[];
  load_cv: number;
  max_vio: number;
  dead_experts: number[];
  dropped_fraction: number;
  dropped_token_fraction: number;
  entropy: number;
  entropy_norm: number;
  /** Aux-loss values, token-weighted over the set: unscaled, and times coefficient (what the loss adds). */
  aux: Record<string, number>;
  aux_scaled: Record<string, number>;
}

export interface RoutingMetrics {
  layers: LayerRoutingMetrics[];
  /** Mean over MoE layers of k̄ (after drops: what was computed). */
  mean_k: number;
  total_params: number;
  /** Non-expert parameters + Σ_l k̄_l · params per expert (§16), embeddings and head included. */
  activated_params: number;
  /** ≈ 2 × activated non-embedding parameters + attention (2·layers·seq·d), forward, per token. */
  flops_per_token: number;
}

/** Gathers the MoE layers' reports of several forward passes. */
export class RoutingCollector {
  private readonly groups = new Map<number, { E: number; parts: RoutedGroup[]; aux: Map<string, number>; scaled: Map<string, number> }>();

  add(reports: readonly LayerReport[]): void {
    for (const r of reports) {
      const routing = r.routing as MoeRouting | undefined;
      if (!routing) continue;
      let g = this.groups.get(r.layer);
      if (!g) {
        g = { E: routing.E, parts: [], aux: new Map(), scaled: new Map() };
        this.groups.set(r.layer, g);
      }
      g.parts.push({ assignment: routing.output.assignment, probs: routing.output.probs, T: routing.T });
      for (const [name, v] of Object.entries(r.auxLosses)) g.aux.set(name, (g.aux.get(name) ?? 0) + v * routing.T);
      for (const [name, v] of Object.entries(r.auxScaled)) g.scaled.set(name, (g.scaled.get(name) ?? 0) + v * routing.T);
    }
  }

  summary(model: DecoderLM, seqLen: number): RoutingMetrics | null {
    if (this.groups.size === 0) return null;
    const layers: LayerRoutingMetrics[] = [];
    for (const [layer, g] of [...this.groups].sort((a, b) => a[0] - b[0])) {
      const all = concatGroups(g.parts, g.E);
      const s = routingStats(all.assignment, all.probs, all.T, g.E);
      layers.push({
        layer, experts: g.E, mean_k: s.meanK, mean_k_after_drops: s.meanKAfterDrops, k_hist: s.kHistogram, load: s.load,
        load_cv: s.loadCv, max_vio: s.maxVio, dead_experts: s.deadExperts, dropped_fraction: s.droppedFraction,
        dropped_token_fraction: s.droppedTokenFraction, entropy: s.entropy, entropy_norm: s.entropyNormalized,
        aux: Object.fromEntries([...g.aux].map(([k, v]) => [k, v / all.T])),
        aux_scaled: Object.fromEntries([...g.scaled].map(([k, v]) => [k, v / all.T])),
      });
    }
    const total = model.parameterCount();
    let expertParams = 0;
    let activatedExperts = 0;
    for (const moe of model.moeLayers()) {
      const perExpert = moe.experts.paramsPerExpert();
      expertParams += moe.routed * perExpert;
      activatedExperts += (layers.find((l) => l.layer === moe.layer)?.mean_k_after_drops ?? 0) * perExpert;
    }
    const activated = total - expertParams + activatedExperts;
    const c = model.config;
    const embedding = c.tie_word_embeddings ? 0 : c.vocab_size * c.hidden_size; // a tied table is also the head
    return {
      layers,
      mean_k: layers.reduce((s, l) => s + l.mean_k_after_drops, 0) / layers.length,
      total_params: total,
      activated_params: activated,
      flops_per_token: 2 * (activated - embedding) + 2 * c.num_hidden_layers * seqLen * c.hidden_size,
    };
  }
}
