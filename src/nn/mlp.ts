import { swiglu } from '../ops/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ParamBuilder } from './builder.js';
import { Linear } from './linear.js';

/** LLaMA's SwiGLU feed-forward: down(silu(gate(x)) ⊙ up(x)); HF names gate_proj / up_proj / down_proj. */
export class SwiGLUMLP {
  readonly gate: Linear;
  readonly up: Linear;
  readonly down: Linear;
  constructor(b: ParamBuilder, hidden: number, intermediate: number, std: number) {
    this.gate = new Linear(b.pp('gate_proj'), hidden, intermediate, std);
    this.up = new Linear(b.pp('up_proj'), hidden, intermediate, std);
    this.down = new Linear(b.pp('down_proj'), intermediate, hidden, std);
  }
  forward(x: Tensor): Tensor {
    return this.down.forward(swiglu(this.gate.forward(x), this.up.forward(x)));
  }
}
