// AdamW with decoupled weight decay (Loshchilov & Hutter 2019), one fused kernel per parameter.
// Weight decay applies to matrices only: norms' scales (1-D) are not decayed (LLaMA/HF practice).
// Global gradient-norm clipping is folded into the same kernel as a gradient scale.
import { backend } from '../backend/index.js';
import type { ParamMap } from '../nn/index.js';

export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Per-parameter learning-rate multiplier (§11 expert_lr_scale); 1 when absent. */
  lrScaleOf?: (name: string) => number;
}

export class AdamW {
  readonly m = new Map<string, Float32Array>();
  readonly v = new Map<string, Float32Array>();
  /** Number of optimizer steps taken so far (bias correction uses step + 1 for the next one). */
  step = 0;
  private readonly lrScale = new Map<string, number>();

  constructor(private readonly params: ParamMap, private readonly opts: AdamWOptions) {
    for (const [name, p] of params) {
      this.m.set(name, new Float32Array(p.size));
      this.v.set(name, new Float32Array(p.size));
      this.lrScale.set(name, opts.lrScaleOf?.(name) ?? 1);
    }
  }

  /** Global L2 norm of the trainable parameters' gradients (float64 sum, fixed order ⇒ deterministic). */
  gradNorm(): number {
    const be = backend();
    let sq = 0;
    for (const p of this.params.values()) if (p.grad && p.requiresGrad) sq += be.sumSquares(p.grad, p.size);
    return Math.sqrt(sq);
  }

  /** One update with learning rate lr; every gradient is multiplied by gradScale first. */
  update(lr: number, gradScale: number): void {
    const be = backend();
    const { beta1, beta2, eps, weightDecay } = this.opts;
    this.step++;
    for (const [name, p] of this.params) {
      if (!p.grad || !p.requiresGrad) continue;
      const decay = p.shape.length >= 2 ? weightDecay : 0;
      be.adamw(p.data, p.grad, this.m.get(name)!, this.v.get(name)!, p.size, lr * this.lrScale.get(name)!, beta1, beta2, eps, decay, this.step, gradScale);
    }
  }

  zeroGrad(): void {
    for (const p of this.params.values()) p.grad?.fill(0);
  }
}
