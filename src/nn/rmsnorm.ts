import { rmsnorm } from '../ops/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ParamBuilder } from './builder.js';

/** RMSNorm with a learned scale initialised to 1. */
export class RMSNorm {
  readonly weight: Tensor;
  constructor(b: ParamBuilder, hidden: number, readonly eps: number) {
    this.weight = b.param('weight', [hidden], { kind: 'ones' });
  }
  forward(x: Tensor): Tensor {
    return rmsnorm(x, this.weight, this.eps);
  }
}
