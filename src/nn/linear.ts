import { linear } from '../ops/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ParamBuilder } from './builder.js';

/** nn.Linear without bias; weight [out, in] (HF layout), initialised N(0, std²). */
export class Linear {
  readonly weight: Tensor;
  constructor(b: ParamBuilder, inFeatures: number, outFeatures: number, std: number) {
    this.weight = b.param('weight', [outFeatures, inFeatures], { kind: 'normal', std });
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight);
  }
}
