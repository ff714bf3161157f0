import { addBias, linear } from '../ops/index.js';
import type { Tensor } from '../tensor/index.js';
import type { ParamBuilder } from './builder.js';

/**
 * nn.Linear; weight [out, in] (HF layout), initialised N(0, std²); the optional bias starts at zero.
 * The weight is a builder `matrix` (16-bit in a half inference model) unless `storage` is 'f32': small
 * decision-making weights (routers, gates) stay exact, as llama.cpp keeps them.
 */
export class Linear {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(b: ParamBuilder, inFeatures: number, outFeatures: number, std: number, bias = false,
    storage: 'matrix' | 'f32' = 'matrix') {
    const init = { kind: 'normal', std } as const;
    this.weight = storage === 'f32' ? b.param('weight', [outFeatures, inFeatures], init) : b.matrix('weight', [outFeatures, inFeatures], init);
    this.bias = bias ? b.param('bias', [outFeatures], { kind: 'zeros' }) : null;
  }
  forward(x: Tensor): Tensor {
    const y = linear(x, this.weight);
    return this.bias ? addBias(y, this.bias) : y;
  }
}
