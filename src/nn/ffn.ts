// The FFN slot of a decoder block is a seam: anything implementing FeedForward can sit there (a dense
// SwiGLU, an MoE layer). Declared here, below both nn users, so src/moe and src/models can share it.
import type { Tensor } from '../tensor/index.js';
import type { TokenLayout } from './attention.js';

/** What a layer reports about one forward pass (MoE layers: aux losses and routing). */
export interface LayerReport {
  layer: number;
  /** Unscaled aux-loss values by name, and their coefficient-weighted sum (already in the gradient). */
  auxLosses: Record<string, number>;
  /** The same losses times their coefficients (and the layer reduction's scale): what the loss adds. */
  auxScaled: Record<string, number>;
  auxTotal: number;
  /** Anything else the layer wants to expose (an MoE layer's routing). */
  routing?: unknown;
}

export interface FfnContext {
  layer: number;
  /** [B·T] token ids of the forward pass (hash routing reads them). */
  ids: Int32Array;
  layout: TokenLayout;
  /** True while training (routers add noise, use training capacity). */
  training: boolean;
  /** Optimizer step (temperature schedules). */
  step: number;
  /** Collects per-layer reports of this forward pass. */
  reports: LayerReport[];
}

/** Whatever occupies a block's FFN slot. */
export interface FeedForward {
  forward(x: Tensor, ctx: FfnContext): Tensor;
}
