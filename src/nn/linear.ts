import { addBias, linear } from '../ops/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ParamBuilder } from './builder.js';

/** nn.Linear; weight [out, in] (HF layout), initialised N(0, std²); the optional bias starts at zero. */
export class Linear {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(b: ParamBuilder, inFeatures: number, outFeatures: number, std: number, bias = false) {
    this.weight = b.param('weight', [outFeatures, inFeatures], { kind: 'normal', std });
    this.bias = bias ? b.param('bias', [outFeatures], { kind: 'zeros' }) : null;
  }
  forward(x: Tensor): Tensor {
    const y = linear(x, this.weight);
    return this.bias ? addBias(y, this.bias) : y;
  }
}
