// E SwiGLU experts computed together: their weights are stacked ([E, I, d] for gate/up, [E, d, I] for
// down) so one grouped GEMM per projection serves every expert's row group — no per-expert loop in
// JS, and no padding: an expert computes exactly the rows routed to it (design.md, engine rules).
// Each expert's slice is a named parameter with the HF name `experts.e.{gate,up,down}_proj.weight`.
import { dropoutFactors, groupedLinear, scaleBy, swiglu } from '../ops/index.js';
import type { Rng, Tensor } from '../tensor/index.js';
import { stackedParam, type ParamBuilder } from '../nn/index.js';

export class GroupedExperts {
  readonly gate: Tensor; // [E, I, d]
  readonly up: Tensor;   // [E, I, d]
  readonly down: Tensor; // [E, d, I]

  constructor(b: ParamBuilder, readonly numExperts: number, hidden: number, readonly width: number, std: number) {
    const names = (proj: string) => Array.from({ length: numExperts }, (_, e) => `experts.${e}.${proj}.weight`);
    const init = { kind: 'normal' as const, std };
    this.gate = stackedParam(b, names('gate_proj'), [width, hidden], init);
    this.up = stackedParam(b, names('up_proj'), [width, hidden], init);
    this.down = stackedParam(b, names('down_proj'), [hidden, width], init);
  }

  /**
   * xPerm [n, d] with rows offsets[e]..offsets[e+1] routed to expert e → [n, d]. With `dropout`, the
   * SwiGLU hidden activations are dropped with probability p (expert dropout, spec §5; training only).
   */
  forward(xPerm: Tensor, offsets: Int32Array, dropout: { p: number; rng: Pick<Rng, 'uniform'> } | null = null): Tensor {
    let h = swiglu(groupedLinear(xPerm, this.gate, offsets), groupedLinear(xPerm, this.up, offsets)); // [n, I]
    if (dropout && dropout.p > 0) h = scaleBy(h, dropoutFactors(dropout.rng, h.size, dropout.p));
    return groupedLinear(h, this.down, offsets);
  }

  /** The three stacked weights (what the grouped kernels read and write gradients to). */
  stacked(): Tensor[] {
    return [this.gate, this.up, this.down];
  }

  /** Parameters of one expert (for activated-parameter counts). */
  paramsPerExpert(): number {
    return 3 * this.width * this.gate.shape[2];
  }
}
