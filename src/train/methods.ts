// Which parameters training touches, and how hard: freezing for fine-tuning (spec §6) and the expert
// gradient / learning-rate scales (§11). Experts are the per-expert slices `…mlp.experts.<e>.*`;
// routers are `…mlp.gate.weight` and `…mlp.gate_noise.weight` (they stay trainable under either freeze).
import type { DecoderLM } from '../models/index.js';
import type { TrainConfig } from './config.js';

const EXPERT = /\.mlp\.experts\.\d+\./;
const ROUTER = /\.mlp\.gate(_noise)?\.weight$/;

export function isExpertParam(name: string): boolean {
  return EXPERT.test(name);
}

/**
 * Marks frozen parameters `requiresGrad = false`: no gradient is computed for them and AdamW skips
 * them. `experts` freezes every expert (and the stacked buffers the grouped kernels read);
 * `non_experts` freezes everything except experts and routers.
 */
export function applyFreeze(model: DecoderLM, freeze: TrainConfig['freeze']): void {
  if (freeze === null) return;
  for (const [name, p] of model.params) {
    const expert = isExpertParam(name);
    if (freeze === 'experts' ? expert : !expert && !ROUTER.test(name)) p.requiresGrad = false;
  }
  if (freeze === 'experts') {
    for (const layer of model.moeLayers()) for (const w of layer.experts.stacked()) w.requiresGrad = false;
  }
}

/** Multiplies every expert gradient by `scale` (§11: a gradient rescale, seen by clipping and Adam's ε). */
export function scaleExpertGrads(model: DecoderLM, scale: number): void {
  if (scale === 1) return;
  for (const layer of model.moeLayers()) {
    for (const w of layer.experts.stacked()) {
      const g = w.grad;
      if (g) for (let i = 0; i < g.length; i++) g[i] *= scale;
    }
  }
}

/** Learning-rate multiplier of a parameter (§11 `expert_lr_scale` for experts, 1 otherwise). */
export function lrScaleOf(t: TrainConfig): (name: string) => number {
  return (name) => (isExpertParam(name) ? t.expert_lr_scale : 1);
}

